"""The dispatcher: frames from the bus through the synchronizer into the stage chain.

One thread takes every queued frame off the :class:`~sensorfusion.scheduler.FrameBus` in
arrival order, feeds the :class:`~sensorfusion.scheduler.Synchronizer`, applies the run's
limits (``max_framesets``, ``duration_s`` of sensor time) to the framesets it emits and
submits them to the :class:`~sensorfusion.scheduler._chain.StageChain`. When every stream
has ended it flushes the synchronizer and closes the chain.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from ..schema._streams import FrameSet
from ._bus import FrameBus
from ._chain import StageChain
from ._graph import BuiltRig
from ._stats import StatsBook
from ._sync import Synchronizer
from ._worker import Worker

__all__ = ["Dispatcher", "make_synchronizer"]


def make_synchronizer(rig: BuiltRig) -> Synchronizer:
    """The synchronizer the rig's ``sync:`` block describes."""
    sync = rig.config.sync
    return Synchronizer(
        rig.sync_streams,
        rig.sync_reference,
        tolerance_ns=int(sync.tolerance_ms * 1e6),
        max_lateness_ns=int(sync.max_lateness_ms * 1e6),
        timeout_ns=int(sync.timeout_ms * 1e6),
        offsets_ns=rig.sync_offsets_ns,
        min_gap_ns={
            name: int(0.5e9 / rig.source_specs[name].rate_hz)
            for name in rig.sync_streams
            if sync.rate_watermarks and rig.source_specs[name].rate_hz > 0
        },
    )


class Dispatcher(Worker):
    """The thread between the bus and the stage chain.

    Args:
        rig: the built rig.
        bus: where the sources' frames queue.
        chain: where framesets go.
        stats: the run's meters (``sync`` counts framesets and their latency).
        realtime: live run (the ``sync`` latency is measured only then).
        duration_s: stop after this much sensor time of framesets.
        max_framesets: stop after this many framesets.
        on_limit: called once when a limit is reached.
        fail: ends the run with an error.
        forced: set when the run must end now.
    """

    def __init__(
        self,
        rig: BuiltRig,
        bus: FrameBus,
        chain: StageChain,
        stats: StatsBook,
        *,
        realtime: bool,
        duration_s: float | None,
        max_framesets: int | None,
        on_limit: Callable[[], None],
        fail: Callable[[BaseException], None],
        forced: threading.Event,
    ) -> None:
        super().__init__("dispatcher", "dispatcher", "sensorfusion", self._loop)
        self.sync = make_synchronizer(rig)
        self._streams = set(rig.source_specs)
        self._bus = bus
        self._chain = chain
        self._meter = stats.stage("sync")
        self._realtime = realtime
        self._duration_ns = None if duration_s is None else round(duration_s * 1e9)
        self._max_framesets = max_framesets
        self._on_limit = on_limit
        self._fail = fail
        self._forced = forced
        self._first_t_ref: int | None = None
        self.framesets = 0
        self._lock = threading.Lock()
        self._drops: Counter[tuple[str, str]] = Counter()
        self._partial = 0

    def _loop(self) -> None:
        ended: set[str] = set()
        limit_reached = False
        try:
            while not self._forced.is_set():
                frames, newly_ended = self._bus.get_all(0.05)
                if not limit_reached:
                    for f in frames:
                        self.sync.push(f)
                for s in newly_ended:
                    ended.add(s)
                    self.sync.end(s)
                if not limit_reached:
                    sets = self.sync.poll()
                    if ended >= self._streams:
                        sets += self.sync.flush()
                    for fs in sets:
                        if self._limit_hit(fs):
                            limit_reached = True
                            self._on_limit()
                            break
                        self._emit(fs)
                self._publish()
                if ended >= self._streams:
                    break
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._publish()
            self._chain.finish()

    def _limit_hit(self, fs: FrameSet) -> bool:
        if self._max_framesets is not None and self.framesets >= self._max_framesets:
            return True
        if self._duration_ns is not None:
            if self._first_t_ref is None:
                self._first_t_ref = fs.t_ref_ns
            if fs.t_ref_ns - self._first_t_ref >= self._duration_ns:
                return True
        return False

    def _emit(self, fs: FrameSet) -> None:
        self.framesets += 1
        self._meter.tick((time.time_ns() - fs.t_host_ns) / 1e9 if self._realtime else None)
        self._chain.submit(fs)

    def _publish(self) -> None:
        with self._lock:
            self._drops = Counter(self.sync.stats.dropped)
            self._partial = self.sync.stats.partial_sets

    # -- figures (any thread) -----------------------------------------------------------------
    def drop_counts(self) -> Counter[tuple[str, str]]:
        """The synchronizer's drops (``late``, ``unmatched``) as of the last pass."""
        with self._lock:
            return Counter(self._drops)

    def counts(self) -> tuple[int, int]:
        """``(framesets, partial framesets)``."""
        with self._lock:
            return self.framesets, self._partial
