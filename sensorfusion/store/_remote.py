"""A session writer in its own process.

A live run's threads (rendering, detection, fusion, the synchronizer) hold Python's GIL
most of the time; a writer thread in the same process gets it only between them, so its
commits stretch to seconds under load and a ``kill -9`` loses several commit intervals.
:class:`RemoteSessionWriter` runs :class:`~sensorfusion.store.SessionWriter` in a child
process with its own interpreter instead and streams frames to it through a pipe
(a small JSON header and the raw array bytes, no pickle). Besides the GIL this buys two
things: a disk that stalls stalls only the child, and when the run itself is killed the
child still reads every frame already in the pipe, commits them and exits, leaving the
session unfinished but complete up to the kill.

Protocol (parent -> child, on the child's stdin): ``<u32 header length><u32 buffers>
<header JSON>`` then ``<u64 length><bytes>`` per buffer. Child -> parent: JSON lines on its
stdout (``{"ok": ...}``, ``{"stats": ...}``, ``{"error": ..., "errno": ..., "filename": ...}``).
Run the child as ``python -m sensorfusion.store._remote``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from .._errors import StoreError
from ..schema._calibration import RigCalibration
from ..schema._streams import Frame, StreamSpec

__all__ = ["RemoteSessionWriter"]

_HEAD = struct.Struct("<II")
_LEN = struct.Struct("<Q")
_PIPE_BYTES = 1 << 20  # ask Linux for a 1 MiB pipe (default 64 KiB)


def _send(fd: int, header: Mapping[str, Any], buffers: list[memoryview] | None = None) -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    parts: list[bytes | memoryview] = [_HEAD.pack(len(head), len(buffers or [])), head]
    for b in buffers or []:
        parts += [_LEN.pack(b.nbytes), b]
    views = [memoryview(p).cast("B") for p in parts]
    while views:
        n = os.writev(fd, views)
        while views and n >= views[0].nbytes:
            n -= views[0].nbytes
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]


def _recv(f: Any) -> tuple[dict[str, Any], list[bytearray]] | None:
    head = f.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    n_head, n_buf = _HEAD.unpack(head)
    header: dict[str, Any] = json.loads(f.read(n_head))
    bufs = []
    for _ in range(n_buf):
        (n,) = _LEN.unpack(f.read(_LEN.size))
        buf = bytearray(n)
        if f.readinto(buf) != n:
            return None
        bufs.append(buf)
    return header, bufs


class RemoteSessionWriter:
    """:class:`~sensorfusion.store.SessionWriter`'s interface, the writing done by a child process.

    Arguments as for :class:`~sensorfusion.store.SessionWriter`. Creating it starts the child
    and creates the session there (a :class:`StoreError` names the path and the cause);
    :meth:`write`, :meth:`event` and :meth:`set_stats` stream to it; failures come back
    asynchronously (:attr:`error`). Not thread-safe: one thread uses it (the recorder).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rig: Mapping[str, Any],
        calibration: RigCalibration | None,
        compression: str = "zstd",
        level: int = 1,
        commit_interval_s: float = 0.5,
        overwrite: bool = False,
        max_buffer_mb: float = 1024.0,
        when_full: str = "drop",
        start_timeout_s: float = 120.0,
    ) -> None:
        self.path = str(path)
        self._error: BaseException | None = None
        self._stats: dict[str, Any] = {}
        self._replies: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._closing = False
        self._closed = False
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "sensorfusion.store._remote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            start_new_session=False,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None and self._proc.stderr is not None
        self._fd = self._proc.stdin.fileno()
        try:
            import fcntl

            fcntl.fcntl(self._fd, 1031, _PIPE_BYTES)  # F_SETPIPE_SZ
        except (ImportError, OSError):
            pass
        threading.Thread(
            target=self._read_replies, args=(self._proc.stdout,), name="sf-writer-replies", daemon=True
        ).start()
        threading.Thread(
            target=self._read_stderr, args=(self._proc.stderr,), name="sf-writer-stderr", daemon=True
        ).start()
        self._call(
            {
                "op": "init",
                "path": self.path,
                "rig": dict(rig),
                "calibration": calibration.model_dump(mode="json") if calibration is not None else None,
                "compression": compression,
                "level": level,
                "commit_interval_s": commit_interval_s,
                "overwrite": overwrite,
                "max_buffer_mb": max_buffer_mb,
                "when_full": when_full,
            },
            timeout_s=start_timeout_s,
        )

    # -- replies ----------------------------------------------------------------------------------
    def _read_replies(self, out: BinaryIO) -> None:
        with out:  # closed at the child's end (an unclosed pipe is a ResourceWarning)
            for line in out:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                with self._cond:
                    if "stats" in msg:
                        self._stats = msg["stats"]
                    if "error" in msg:
                        self._fail(msg)
                    self._replies.append(msg)
                    self._cond.notify_all()
        with self._cond:
            rc = self._proc.wait()
            if not self._closing and self._error is None:
                tail = f": {self._stderr_tail[-1]}" if self._stderr_tail else ""
                self._error = StoreError(f"the writer process for {self.path} exited with code {rc}{tail}")
            self._closed = True
            self._cond.notify_all()

    def _read_stderr(self, err: BinaryIO) -> None:
        with err:
            for line in err:
                self._stderr_tail.append(line.decode(errors="replace").rstrip())

    def _fail(self, msg: Mapping[str, Any]) -> None:
        if self._error is not None:
            return
        exc = StoreError(str(msg["error"]))
        if msg.get("errno"):
            exc.__cause__ = OSError(int(msg["errno"]), os.strerror(int(msg["errno"])), msg.get("filename"))
        self._error = exc

    def _call(self, header: Mapping[str, Any], *, timeout_s: float = 60.0) -> dict[str, Any]:
        """Send a request and wait for its reply."""
        self._post(header)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                while self._replies:
                    msg = self._replies.popleft()
                    if "error" in msg:
                        raise self._error or StoreError(str(msg["error"]))
                    if msg.get("ok") == header["op"]:
                        return msg
                if self._closed:
                    raise self._error or StoreError(f"the writer process for {self.path} exited")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(
                        f"the writer process for {self.path} did not answer {header['op']!r} in {timeout_s:g} s"
                    )
                self._cond.wait(min(left, 0.5))

    def _post(self, header: Mapping[str, Any], buffers: list[memoryview] | None = None) -> None:
        if self._error is not None:
            raise StoreError(f"session writer for {self.path} failed: {self._error}") from self._error
        try:
            _send(self._fd, header, buffers)
        except (BrokenPipeError, OSError) as exc:
            with self._cond:
                self._cond.wait_for(lambda: self._closed, timeout=5)
            raise self._error or StoreError(f"the writer process for {self.path} is gone: {exc}") from exc

    # -- SessionWriter's interface ---------------------------------------------------------------------
    def add_stream(self, spec: StreamSpec, *, stage: str | None = None) -> None:
        self._call({"op": "add_stream", "spec": spec.model_dump(mode="json"), "stage": stage})

    def start(self) -> RemoteSessionWriter:
        self._call({"op": "start"})
        return self

    def write(self, frame: Frame, *, stage: str | None = None) -> bool:
        names = list(frame.data)
        arrays = [np.asarray(frame.data[n]) for n in names]
        arrays = [a if a.flags.c_contiguous else a.copy(order="C") for a in arrays]
        header = {
            "op": "frame",
            "stream": frame.stream,
            "stage": stage,
            "t": [int(frame.t_sensor_ns), int(frame.t_host_ns), int(frame.seq)],
            "fields": [[n, a.dtype.str, list(a.shape)] for n, a in zip(names, arrays, strict=True)],
        }
        self._post(header, [memoryview(a.reshape(-1).view(np.uint8).data) for a in arrays])
        return True

    def event(self, kind: str, source: str, message: str, t_ns: int | None = None, **extra: Any) -> None:
        self._post({"op": "event", "kind": kind, "source": source, "message": message, "t_ns": t_ns, "extra": extra})

    def set_stats(self, stats: Mapping[str, Any]) -> None:
        self._post({"op": "stats", "stats": dict(stats)})

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return dict(self._stats)

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def dropped(self) -> int:
        return sum(int(n) for n in (self.stats().get("dropped") or {}).values())

    def close(self, summary: Mapping[str, Any] | None = None, *, timeout_s: float | None = None) -> None:
        """Commit what is buffered, mark the session finished, end the child."""
        if self._closing:
            return
        self._closing = True
        try:
            if self._error is None:
                self._call({"op": "close", "summary": dict(summary or {})}, timeout_s=timeout_s or 3600.0)
        finally:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=timeout_s or 60)
            except subprocess.TimeoutExpired:
                pass  # it finishes its commit on its own
        if self._error is not None:
            raise StoreError(f"session writer for {self.path} failed: {self._error}") from self._error


# -- the child ------------------------------------------------------------------------------------------
def _reply(msg: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(msg, default=str) + "\n")
    sys.stdout.flush()


def _error_reply(exc: BaseException) -> dict[str, Any]:
    msg: dict[str, Any] = {"error": f"{exc}"}
    cause: BaseException | None = exc
    for _ in range(10):
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.errno:
            msg.update(errno=cause.errno, filename=str(cause.filename) if cause.filename else None)
            break
        cause = cause.__cause__ or cause.__context__
    return msg


def _child() -> int:
    from .._errors import SensorfusionError
    from ._writer import SessionWriter

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (Ctrl-C reaches both)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin = io.BufferedReader(io.FileIO(0, "rb", closefd=False), buffer_size=1 << 20)
    writer: SessionWriter | None = None
    failed = False
    specs: dict[tuple[str, str | None], StreamSpec] = {}
    while True:
        try:
            got = _recv(stdin)
        except (OSError, ValueError):
            got = None
        if got is None:  # the parent is gone (killed) or done: keep what it sent
            if writer is not None and not failed:
                try:
                    writer.close(finished=False)
                except Exception:
                    return 1
            return 0
        header, bufs = got
        op = header.get("op")
        if failed:
            continue  # drain until the parent stops sending
        try:
            if op == "frame":
                assert writer is not None
                stage = header.get("stage")
                data = {
                    name: np.frombuffer(buf, dtype=np.dtype(dt)).reshape(shape)
                    for (name, dt, shape), buf in zip(header["fields"], bufs, strict=True)
                }
                t_sensor, t_host, seq = header["t"]
                writer.write(Frame(header["stream"], t_sensor, t_host, seq, data), stage=stage)
            elif op == "event":
                assert writer is not None
                writer.event(header["kind"], header["source"], header["message"], header.get("t_ns"), **header["extra"])
            elif op == "stats":
                assert writer is not None
                writer.set_stats(header["stats"])
                _reply({"stats": writer.stats()})
            elif op == "init":
                cal = header.get("calibration")
                writer = SessionWriter(
                    header["path"],
                    rig=header["rig"],
                    calibration=RigCalibration.model_validate(cal) if cal else None,
                    compression=header["compression"],
                    level=header["level"],
                    commit_interval_s=header["commit_interval_s"],
                    overwrite=header["overwrite"],
                    max_buffer_mb=header["max_buffer_mb"],
                    when_full=header["when_full"],
                )
                _reply({"ok": "init"})
            elif op == "add_stream":
                assert writer is not None
                spec = StreamSpec.model_validate(header["spec"])
                specs[(spec.name, header.get("stage"))] = spec
                writer.add_stream(spec, stage=header.get("stage"))
                _reply({"ok": "add_stream"})
            elif op == "start":
                assert writer is not None
                writer.start()
                _reply({"ok": "start"})
            elif op == "close":
                assert writer is not None
                writer.close(summary=header.get("summary"))
                _reply({"stats": writer.stats()})
                _reply({"ok": "close"})
                return 0
        except (SensorfusionError, OSError) as exc:
            failed = True
            _reply(_error_reply(exc))
            if writer is not None:
                try:
                    writer.close(finished=False)
                except Exception:
                    pass
        if writer is not None and writer.error is not None and not failed:
            failed = True
            _reply(_error_reply(writer.error))


if __name__ == "__main__":
    sys.exit(_child())
