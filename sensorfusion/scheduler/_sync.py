"""The synchronizer: groups frames of several streams into framesets on sensor time.

The rule (order-independent by construction)
--------------------------------------------
Times are adjusted sensor times, ``t = t_sensor_ns + offset(stream)``. One stream is the
*reference*; each of its frames ``r`` defines one frameset. For every other stream ``s``
each frame ``f`` has a *home*: the reference frame nearest to it (ties go to the earlier
one), provided it is within ``tolerance``. The set of ``r`` holds ``r`` and, for each other
stream, the frame nearest to ``r`` among those whose home is ``r`` (ties: earlier time,
then lower ``seq``). A frame that is nobody's nearest is *unmatched* (counted; it is
still recorded). From this definition:

* single use - a frame has one home, so it is in at most one set;
* monotonic - home assignment is monotonic in time, so each stream's frames appear in
  set order, and set times strictly increase;
* minimal span - every member is the nearest available frame to the reference frame,
  so the span is at most ``2 * tolerance`` and no swap of members shortens it;
* identical for any arrival order - a set is emitted only when every frame that could
  change it has arrived, which *watermarks* tell: stream ``s`` promises no frame older
  than ``W_s = max_seen_s - max_lateness`` (``+inf`` once it ended). Frames that break
  that promise are dropped as ``late``.

Set ``r`` is final when ``W_ref >= min(t_next_ref, t_r + 2 * tolerance)`` and, for every
other stream, ``W_s >= t_r + tolerance``. A stream that has sent nothing for
``timeout`` (measured on host arrival stamps, so replays behave as recorded) is treated
as silent and sets are emitted without it: these are *partial* sets.

Latency: without more knowledge a set waits for the next reference frame (one reference
period). With ``min_gap_ns`` a stream promises that consecutive frames are at least that
far apart (e.g. half its period), so its watermark is ``max_seen + min_gap - max_lateness``
and a set goes out as soon as its frames are in. Frames that break the promise can come
too late for their set and are then dropped as ``late``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .._errors import ConfigError
from ..schema._streams import Frame, FrameSet

__all__ = ["Synchronizer", "SyncStats"]

INF = float("inf")


@dataclass
class _Stream:
    name: str
    offset_ns: int
    min_gap_ns: int = 0
    keys: list[tuple[int, int]] = field(default_factory=list)  # (t_adj, seq), sorted
    frames: list[Frame] = field(default_factory=list)
    max_seen: float = -INF
    last_host_ns: int | None = None
    ended: bool = False
    decided_until: float = -INF  # frames with t_adj <= this have been decided


@dataclass
class SyncStats:
    """Counters of the synchronizer."""

    sets: int = 0
    partial_sets: int = 0
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)


class Synchronizer:
    """Group frames of ``streams`` into :class:`FrameSet` objects (see the module docstring).

    Args:
        streams: names of the grouped streams.
        reference: the stream whose frames define the sets.
        tolerance_ns: max distance of a member from the reference frame.
        max_lateness_ns: how far back a stream's frames may arrive out of order.
        timeout_ns: silence (on host arrival stamps) after which a stream is left out.
        offsets_ns: per-stream offsets added to sensor time.
        max_pending: frames buffered per stream before the oldest are dropped (``unmatched``).
        min_gap_ns: per-stream promised minimum gap between consecutive frames (see above).
    """

    def __init__(
        self,
        streams: Sequence[str],
        reference: str,
        *,
        tolerance_ns: int,
        max_lateness_ns: int = 0,
        timeout_ns: int | None = 1_000_000_000,
        offsets_ns: Mapping[str, int] | None = None,
        max_pending: int = 1024,
        min_gap_ns: Mapping[str, int] | None = None,
    ) -> None:
        if reference not in streams:
            raise ConfigError(
                "reference stream is not among the synchronized streams",
                field_path="sync.reference",
                value=reference,
                choices=sorted(streams),
            )
        if tolerance_ns < 0 or max_lateness_ns < 0:
            raise ConfigError("tolerance and lateness must be >= 0", field_path="sync")
        offsets = dict(offsets_ns or {})
        self.reference = reference
        self.tolerance_ns = int(tolerance_ns)
        self.max_lateness_ns = int(max_lateness_ns)
        self.timeout_ns = timeout_ns
        self.max_pending = max_pending
        self.expected = tuple(sorted(streams))
        gaps = dict(min_gap_ns or {})
        self._streams = {s: _Stream(s, int(offsets.get(s, 0)), min_gap_ns=max(0, int(gaps.get(s, 0)))) for s in streams}
        self._others = [self._streams[s] for s in self.expected if s != reference]
        self._ref = self._streams[reference]
        self._latest_host_ns: int | None = None
        self._first_host_ns: int | None = None
        self._next_index = 0
        self._last_ref_t: float = -INF
        self.stats = SyncStats()

    # -- input ---------------------------------------------------------------------------
    def push(self, frame: Frame) -> bool:
        """Add a frame. Returns False (and counts a drop) when it is late or not grouped."""
        st = self._streams.get(frame.stream)
        if st is None:
            return False
        t = frame.t_sensor_ns + st.offset_ns
        if st.ended or t <= st.decided_until or t < st.max_seen - self.max_lateness_ns:
            self.stats.dropped[(frame.stream, "late")] += 1
            return False
        key = (t, frame.seq)
        i = bisect.bisect_right(st.keys, key)
        st.keys.insert(i, key)
        st.frames.insert(i, frame)
        st.max_seen = max(st.max_seen, t)
        st.last_host_ns = frame.t_host_ns if st.last_host_ns is None else max(st.last_host_ns, frame.t_host_ns)
        self._latest_host_ns = (
            frame.t_host_ns if self._latest_host_ns is None else max(self._latest_host_ns, frame.t_host_ns)
        )
        if self._first_host_ns is None:
            self._first_host_ns = frame.t_host_ns
        if len(st.keys) > self.max_pending:
            drop = len(st.keys) - self.max_pending
            del st.keys[:drop], st.frames[:drop]
            self.stats.dropped[(frame.stream, "unmatched")] += drop
        return True

    def end(self, stream: str) -> None:
        """Mark a stream finished: its watermark becomes +inf."""
        if stream in self._streams:
            self._streams[stream].ended = True

    def end_all(self) -> None:
        for s in self._streams:
            self.end(s)

    # -- output --------------------------------------------------------------------------
    def poll(self) -> list[FrameSet]:
        """Every set that is final now, in order."""
        out: list[FrameSet] = []
        while True:
            fs = self._try_emit()
            if fs is None:
                return out
            out.append(fs)

    def flush(self) -> list[FrameSet]:
        """End every stream and emit all remaining sets."""
        self.end_all()
        out = self.poll()
        for st in self._others:
            if st.keys:
                self.stats.dropped[(st.name, "unmatched")] += len(st.keys)
                st.keys.clear()
                st.frames.clear()
        return out

    def pending(self) -> dict[str, int]:
        return {s: len(st.keys) for s, st in self._streams.items()}

    # -- internals -----------------------------------------------------------------------
    def _watermark(self, st: _Stream) -> float:
        if st.ended:
            return INF
        if self.timeout_ns is not None and self._latest_host_ns is not None:
            last = st.last_host_ns if st.last_host_ns is not None else self._first_host_ns
            if last is not None and self._latest_host_ns - last > self.timeout_ns:
                return INF  # silent: do not wait for it
        return st.max_seen + st.min_gap_ns - self.max_lateness_ns

    def _try_emit(self) -> FrameSet | None:
        ref = self._ref
        if not ref.keys:
            if self._watermark(ref) == INF and ref.ended:
                self._discard_all_before(INF)
            return None
        t_r = ref.keys[0][0]
        tol = self.tolerance_ns
        t_next = ref.keys[1][0] if len(ref.keys) > 1 else INF
        w_ref = self._watermark(ref)
        if w_ref < min(t_next, t_r + 2 * tol) or w_ref < t_r:
            return None
        for st in self._others:
            if self._watermark(st) < t_r + tol:
                return None
        ref_frame = ref.frames[0]
        del ref.keys[0], ref.frames[0]
        ref.decided_until = t_r
        members: dict[str, Frame] = {self.reference: ref_frame}
        for st in self._others:
            best = self._take_best(st, t_r, t_next)
            if best is not None:
                members[st.name] = best
        fs = FrameSet(
            index=self._next_index,
            t_ref_ns=int(t_r),
            t_host_ns=ref_frame.t_host_ns,
            frames=dict(sorted(members.items())),
            expected=self.expected,
        )
        self._next_index += 1
        self.stats.sets += 1
        if not fs.complete:
            self.stats.partial_sets += 1
        return fs

    def _take_best(self, st: _Stream, t_r: int, t_next: float) -> Frame | None:
        """Choose the member of ``st`` for reference time ``t_r`` and remove every frame whose
        home is ``t_r`` (or that can no longer have a home)."""
        tol = self.tolerance_ns
        # Frames with t <= hi are decided now: their home is t_r or nothing.
        hi_home = t_r + tol
        if t_next != INF:
            # f belongs to t_next when strictly nearer to it: t - t_r > t_next - t
            mid2 = t_r + t_next  # compare 2t against t_r + t_next
        else:
            mid2 = None
        best_i = -1
        best_key: tuple[int, int, int] | None = None
        n_decided = 0
        for i, (t, seq) in enumerate(st.keys):
            if t > hi_home:
                break
            if mid2 is not None and 2 * t > mid2:
                break  # nearer to the next reference frame: leave it pending
            n_decided = i + 1
            if t < t_r - tol:
                continue
            key = (abs(t - t_r), t, seq)
            if best_key is None or key < best_key:
                best_key, best_i = key, i
        chosen = st.frames[best_i] if best_i >= 0 else None
        unmatched = n_decided - (1 if chosen is not None else 0)
        if unmatched:
            self.stats.dropped[(st.name, "unmatched")] += unmatched
        if n_decided:
            st.decided_until = max(st.decided_until, st.keys[n_decided - 1][0])
            del st.keys[:n_decided], st.frames[:n_decided]
        # Nothing older than t_r - tol may join a later set either.
        st.decided_until = max(st.decided_until, t_r - tol - 1)
        return chosen

    def _discard_all_before(self, t: float) -> None:
        for st in self._others:
            n = bisect.bisect_left(st.keys, (t, -1)) if t != INF else len(st.keys)
            if n:
                self.stats.dropped[(st.name, "unmatched")] += n
                del st.keys[:n], st.frames[:n]


def default_reference(streams: Iterable[tuple[str, float]]) -> str:
    """The lowest-rate stream (rate 0 = unknown counts as highest), ties broken by name."""
    items = sorted(streams, key=lambda sr: (sr[1] if sr[1] > 0 else INF, sr[0]))
    if not items:
        raise ConfigError("nothing to synchronize: no source streams", field_path="sync.streams")
    return items[0][0]
