"""The recorder tap: the one user of the session writer, on its own thread.

Everything that goes into the session comes through :class:`Recorder`: raw source frames
from the frame bus (before the synchronizer and the stages, so back-pressure from a slow
stage never costs a recorded frame), finished framesets' estimates from the stage chain,
events from the run report and statistics from the runner. They queue in one inbox; the
recorder's thread hands them to :class:`~sensorfusion.store.SessionWriter` in order, and
closes it at the end. A write failure (disk full, read-only, permissions) stops the
recording with one line naming the path and the cause; what was committed before stays
readable.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import StoreError
from ..schema._streams import Frame, FrameSet
from ._graph import BuiltRig
from ._queue import BoundedQueue, QueueClosed

__all__ = ["Recorder", "describe_write_error"]

log = logging.getLogger("sensorfusion.run")

_INBOX = 4096  # items (references to frames; the writer bounds the buffered bytes)


class Recorder:
    """Records a run into a session.

    Args:
        rig: the built rig (recorded streams, stage outputs, calibration, record settings).
        out: the session path.
        overwrite: replace an existing session.
        lossless: never drop a frame: a full buffer makes the producers wait (``--fast``,
            replays); otherwise a frame that finds the buffer full is dropped and counted.
        live: a live run (paced by its sources): ``record.writer: auto`` then writes in a
            separate process.
        on_failure: called once with the error when writing fails.
    """

    def __init__(
        self,
        rig: BuiltRig,
        out: str,
        *,
        overwrite: bool,
        lossless: bool,
        on_failure: Callable[[BaseException], None],
        live: bool = False,
    ) -> None:
        self.rig = rig
        self.out = out
        self.overwrite = overwrite
        self.lossless = lossless
        self.live = live
        self.writer_kind = "thread"
        self.on_failure = on_failure
        self.error: StoreError | None = None
        self._record = set(rig.record_streams)
        self._inbox: BoundedQueue[tuple[str, Any, Any]] = BoundedQueue(_INBOX, "block", name="recorder")
        self._dropped: Counter[str] = Counter()
        self._drop_lock = threading.Lock()
        self._writer_stats: dict[str, Any] = {}
        self._writer: Any = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    # -- setup --------------------------------------------------------------------------------
    def open(self) -> None:
        """Create the session (raises :class:`StoreError` naming the path and the cause) and
        start the recorder thread."""
        from ..store import SessionWriter
        from ..store._location import protocol_of
        from ..store._remote import RemoteSessionWriter

        rec = self.rig.config.record
        in_process = rec.writer == "process" or (rec.writer == "auto" and self.live)
        if in_process and protocol_of(self.out) == "memory":
            in_process = False  # memory:// lives in this process: a child's writes would be lost
        factory: Any = RemoteSessionWriter if in_process else SessionWriter
        self.writer_kind = "process" if in_process else "thread"
        try:
            writer = factory(
                self.out,
                rig=self.rig.config.model_dump(mode="json"),
                calibration=self.rig.calibration,
                compression=rec.compression,
                level=rec.level,
                commit_interval_s=rec.commit_interval_s,
                overwrite=self.overwrite,
                when_full="wait" if self.lossless else "drop",
            )
            for name in self.rig.record_streams:
                writer.add_stream(self.rig.source_specs[name])
            for st in self.rig.stages:
                for spec in st.outputs:
                    writer.add_stream(spec, stage=st.id)
        except StoreError as exc:
            raise StoreError(describe_write_error(self.out, exc)) from exc
        writer.start()
        self._writer = writer
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    # -- producers (any thread) ---------------------------------------------------------------
    def tap(self, frame: Frame) -> None:
        """A raw source frame, as it enters the frame bus."""
        if frame.stream in self._record:
            self._put(("frame", frame, None), frame.stream)

    def estimates(self, fs: FrameSet) -> None:
        """A finished frameset: record its stages' outputs."""
        for st in self.rig.stages:
            for spec in st.outputs:
                f = fs.frames.get(spec.name)
                if f is not None:
                    self._put(("frame", f, st.id), f"{st.id}:{spec.name}")

    def event(self, ev: Mapping[str, Any]) -> None:
        self._inbox.put(("event", ev, None))

    def stats(self, stats: Mapping[str, Any]) -> None:
        self._inbox.put(("stats", stats, None))

    def _put(self, item: tuple[str, Any, Any], key: str) -> None:
        # lossless: wait for room; live: a full inbox drops the frame (counted), never stalls
        if not self._inbox.put(item, timeout=None if self.lossless else 0.0) and not self._inbox.closed:
            with self._drop_lock:
                self._dropped[key] += 1

    # -- figures ------------------------------------------------------------------------------
    def drop_counts(self) -> Counter[tuple[str, str]]:
        """``(stream, "recorder_full") -> frames not recorded`` (inbox or writer buffer full)."""
        with self._drop_lock:
            c = Counter({(k, "recorder_full"): n for k, n in self._dropped.items()})
        for k, n in (self._writer_stats.get("dropped") or {}).items():
            c[(k, "recorder_full")] += int(n)
        return c

    def figures(self) -> dict[str, Any]:
        """The writer's counters (as last seen) plus frames the inbox dropped."""
        out = dict(self._writer_stats)
        with self._drop_lock:
            inbox = sum(self._dropped.values())
        writer_dropped = sum(int(n) for n in (out.get("dropped") or {}).values())
        out["dropped"] = writer_dropped + inbox
        return out

    # -- the recorder thread -------------------------------------------------------------------
    def _run(self) -> None:
        w = self._writer
        try:
            while True:
                try:
                    kind, payload, stage = self._inbox.get(timeout=0.25)
                except TimeoutError:
                    self._check(w)
                    continue
                except QueueClosed:
                    return
                if kind == "frame":
                    w.write(payload, stage=stage)
                elif kind == "event":
                    ev = _plain(payload)
                    w.event(ev.pop("kind"), ev.pop("source"), ev.pop("message"), t_ns=ev.pop("t_ns", None), **ev)
                elif kind == "stats":
                    w.set_stats(payload)
                    self._writer_stats = w.stats()
                elif kind == "close":
                    self._writer_stats = w.stats()
                    w.close(summary=payload)
                    self._writer_stats = w.stats()
                    self._closed.set()
                    return
        except StoreError as exc:
            self._failed(exc)
        except Exception as exc:  # a bug, not a disk: still one line, still stop
            self._failed(StoreError(f"recording to {self.out} failed: {type(exc).__name__}: {exc}"))

    def _check(self, w: Any) -> None:
        err = w.error
        if err is not None:
            raise StoreError(str(err)) from err

    def _failed(self, exc: StoreError) -> None:
        self.error = StoreError(describe_write_error(self.out, exc))
        self.error.__cause__ = exc
        log.debug("%s", self.error)
        self._inbox.cancel()
        try:
            self._writer.close()  # stops its threads; the failed commit is not retried
        except Exception:
            pass
        self.on_failure(self.error)

    def close(self, summary: Mapping[str, Any], *, timeout_s: float | None = None) -> bool:
        """Record what is queued, then close the session with ``summary``; False when that did
        not finish within ``timeout_s`` (the session then holds its last commit)."""
        if self._thread is None:
            return False
        self._inbox.put(("close", summary, None))
        self._inbox.close()
        self._thread.join(timeout_s)
        return self._closed.is_set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


def _plain(ev: Mapping[str, Any]) -> dict[str, Any]:
    """An event as plain JSON (anything else becomes its ``str``)."""
    out: dict[str, Any] = json.loads(json.dumps(dict(ev), default=str))
    return out


def describe_write_error(path: str, exc: BaseException) -> str:
    """One line: the session path, the cause (``No space left on device [ENOSPC]``) and the
    file, for an error raised while writing a session."""
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, OSError) and cause.errno is not None:
            name = errno.errorcode.get(cause.errno, str(cause.errno))
            what = f"{os.strerror(cause.errno)} [{name}]"
            if cause.filename:
                what += f" writing {cause.filename}"
            return f"recording to {path} failed: {what}; the session keeps everything committed before"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text.startswith("recording to "):
        return text
    return f"recording to {path} failed: {text[:500]}"
