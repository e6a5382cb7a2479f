"""The session writer: buffered, crash-safe appends of frames to a Zarr v3 session.

Layout (see ``docs/architecture.md``, "Session store")::

    session.zarr/
      zarr.json        attrs: schema_version, created, software, rig, calibration,
                       finished, summary, stats
      streams/<sensor>/<channel>/              one group per source stream
        attrs: spec, count (committed frames, authoritative), items (ragged only),
               t_first_ns, t_last_ns
        t_sensor_ns (T,) int64   t_host_ns (T,) int64   seq (T,) int64
        <field> (T, *shape)                    fixed streams
        <field> (N, *item_shape) + offsets (T+1,) int64   ragged streams
      estimates/<stage>/<sensor>/<channel>/    same layout, stage outputs
      estimates/<stage>/<channel>/             an output named after its stage (<stage>/<channel>):
                                               the stage id is not repeated (schema 2)
      events/          attrs: events = [{t_ns, kind, source, message, ...}, ...]

Crash safety: every file of a Zarr ``LocalStore`` is written to a temporary name and
renamed into place (on an object store behind a URL, ``s3://...``, every object is one PUT),
so each chunk and each ``zarr.json`` is either the old or the new version. A commit first grows the arrays and writes the new frames, and only then
rewrites each stream's ``count``; readers never look past ``count``. After a kill the
session opens and everything up to the last commit reads back; arrays may be longer
than ``count`` and whatever lies past it is ignored.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import math
import os
import platform
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

from .._errors import ConfigError, StoreError
from ..schema._calibration import RigCalibration
from ..schema._streams import Frame, StreamSpec
from ._location import Location, location, location_exists, zarr_store

if TYPE_CHECKING:
    from zarr.core.array_spec import ArrayConfigParams

__all__ = [
    "SCHEMA_VERSION",
    "Compression",
    "SessionWriter",
    "stream_group_path",
    "stream_key",
]

log = logging.getLogger("sensorfusion.store")

SCHEMA_VERSION = 2
"""Version of the on-disk layout written by this code. Readers open this and every older one.

2: an estimate named after its stage is stored at ``estimates/<stage>/<channel>`` (1:
``estimates/<stage>/<stage>/<channel>``); nothing else changed."""

Compression = Literal["zstd", "lz4", "none"]

_MIB = 1 << 20
_TARGET_CHUNK_BYTES = 4 * _MIB  # data chunks aim at 1-8 MiB
_MAX_CHUNK_BYTES = 8 * _MIB  # a single frame above this is split along its first axis
_OWN_CHUNK_BYTES = 256 << 10  # a frame this large gets a chunk of its own: a commit never rewrites a partial one
_MAX_FRAMES_PER_CHUNK = 16384  # tiny frames: cap the chunk length (partial-chunk rewrites stay cheap)
_MAX_ITEMS_PER_CHUNK = 65536
_RAGGED_CHUNK_BYTES = 256 << 10  # ragged items (people, points): every commit rewrites the last, partial chunk
_TIME_CHUNK = 16384  # timestamps, seq and offsets
_TIME_ARRAYS = ("t_sensor_ns", "t_host_ns", "seq")
_GROUP_BYTES = 16 * _MIB  # one write task covers whole chunks of about this many bytes
_AHEAD_GROW = 64  # an array grows by at least this many entries at a time
_AHEAD_POLL_S = 0.05  # between commits, buffered frames are written ahead this often


def stream_key(name: str, stage: str | None) -> str:
    """``"cam0/image"`` for a source stream, ``"<stage>:<sensor>/<channel>"`` for an estimate."""
    return name if stage is None else f"{stage}:{name}"


def stream_group_path(name: str, stage: str | None) -> str:
    """Path of a stream's group inside the session: ``streams/<sensor>/<channel>``,
    ``estimates/<stage>/<sensor>/<channel>``, or ``estimates/<stage>/<channel>`` for an output
    named after its stage (``fusion/skeleton3d`` of stage ``fusion``: not ``fusion/fusion/...``)."""
    if stage is None:
        return f"streams/{name}"
    sensor, _, channel = name.partition("/")
    return f"estimates/{stage}/{channel}" if sensor == stage else f"estimates/{stage}/{name}"


def _software_versions() -> dict[str, str]:
    import numcodecs  # type: ignore[import-untyped, unused-ignore]

    from .._version import __version__

    return {
        "sensorfusion": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "zarr": zarr.__version__,
        "numcodecs": numcodecs.__version__,
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, _dt.datetime)):
        return str(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def jsonable(value: Any, what: str) -> Any:
    """``value`` as plain JSON types (numpy scalars converted); :class:`StoreError` otherwise."""
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} must be JSON-serialisable: {exc}") from exc


def _compressors(compression: str, level: int, itemsize: int) -> list[Any]:
    """The bytes-to-bytes codecs of an array: the compressor, then a CRC-32C of the stored
    chunk, so a corrupt chunk is an error on read instead of wrong data (``inspect --verify``)."""
    if compression == "zstd":
        return [ZstdCodec(level=level, checksum=False), Crc32cCodec()]
    if compression == "lz4":
        # Blosc's LZ4 is part of the Zarr v3 spec; byte-shuffle helps multi-byte data (depth).
        shuffle: Literal["noshuffle", "shuffle"] = "noshuffle" if itemsize == 1 else "shuffle"
        return [BloscCodec(cname="lz4", clevel=5, shuffle=shuffle, typesize=itemsize), Crc32cCodec()]
    if compression == "none":
        return [Crc32cCodec()]
    raise ConfigError(
        "unknown compression", field_path="record.compression", value=compression, choices=["zstd", "lz4", "none"]
    )


def _data_chunks(item_shape: tuple[int, ...], itemsize: int, max_len: int) -> tuple[int, ...]:
    """Chunk shape for an array ``(T, *item_shape)``: about 4 MiB a chunk, at least one item;
    one item above 8 MiB is split along its first axis."""
    inner = tuple(max(1, d) for d in item_shape)
    item_bytes = max(1, math.prod(inner) * itemsize)
    n = 1 if item_bytes >= _OWN_CHUNK_BYTES else max(1, min(max_len, _TARGET_CHUNK_BYTES // item_bytes))
    if n == 1 and item_bytes > _MAX_CHUNK_BYTES and inner:
        parts = math.ceil(item_bytes / _TARGET_CHUNK_BYTES)
        rows = max(1, math.ceil(inner[0] / parts))
        return (1, rows, *inner[1:])
    return (n, *inner)


@dataclass
class _Stream:
    """Writer-side state of one stream."""

    spec: StreamSpec
    stage: str | None
    key: str
    group: Any  # zarr.Group
    arrays: dict[str, Any]  # name -> zarr.Array
    count: int = 0
    items: int = 0
    t_first_ns: int | None = None
    t_last_ns: int | None = None
    pending: list[Frame] = field(default_factory=list)
    pending_bytes: int = 0
    pending_since: float | None = None  # monotonic time the oldest pending frame arrived
    dropped: int = 0
    frames_written: int = 0
    bytes_written: int = 0
    ahead_ok: bool = False  # every field has one frame per chunk: data can be written as it arrives
    ahead: int = 0  # leading pending frames whose data is already written (published at the next commit)


class SessionWriter:
    """Writes one recording session (Zarr v3) from any number of producer threads.

    ``write`` only validates and buffers a frame; ``commit`` appends everything buffered
    to the store. Use it in one of two modes:

    * foreground: call :meth:`maybe_commit` (or :meth:`commit`) from your loop;
    * background: :meth:`start` launches a writer thread that commits every
      ``commit_interval_s``, so producers never wait on compression.

    The buffer is bounded by ``max_buffer_mb``. When a frame would exceed it, a
    background-mode writer drops the frame (``write`` returns ``False``; the drop is
    counted per stream in the stored stats and the first drop of each stream is an event);
    a foreground writer commits inline instead, so nothing is lost.

    Compression of the chunks of one commit runs in parallel (Zarr's codec threads, and a
    small pool that appends several streams at once).

    Args:
        path: the session directory (``*.zarr``), created; or a URL of an fsspec file system
            (``s3://bucket/run.zarr``, ``memory://...``; see ``sensorfusion.store._location``).
        rig: the rig configuration as a JSON-serialisable dict (stored as ``rig``).
        calibration: the rig calibration (stored as ``calibration``).
        compression: ``zstd`` (level ``level``), ``lz4`` (Blosc-LZ4) or ``none``.
        level: the zstd level (1-22).
        commit_interval_s: background commit period; also the ``maybe_commit`` period.
        overwrite: replace an existing session at ``path`` instead of raising StoreError.
        max_buffer_mb: bound on buffered, not yet committed frame bytes.
        when_full: in background mode, what ``write`` does when the buffer is full: ``drop``
            the frame (counted; live rigs must not stall) or ``wait`` for the writer thread
            (offline runs and replays, which must lose nothing).
        workers: threads issuing chunk writes in parallel (default: twice the CPU count, at most 8).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rig: Mapping[str, Any],
        calibration: RigCalibration | None,
        compression: Compression = "zstd",
        level: int = 1,
        commit_interval_s: float = 0.5,
        overwrite: bool = False,
        max_buffer_mb: float = 1024.0,
        workers: int | None = None,
        when_full: Literal["drop", "wait"] = "drop",
    ) -> None:
        if compression not in ("zstd", "lz4", "none"):
            raise ConfigError(
                "unknown compression",
                field_path="record.compression",
                value=compression,
                choices=["zstd", "lz4", "none"],
            )
        if not 1 <= level <= 22:
            raise ConfigError("zstd level must be 1-22", field_path="record.level", value=level)
        if commit_interval_s <= 0:
            raise ConfigError("must be > 0", field_path="record.commit_interval_s", value=commit_interval_s)
        if max_buffer_mb <= 0:
            raise ConfigError("must be > 0", field_path="max_buffer_mb", value=max_buffer_mb)
        self.path: Location = location(path)
        self.compression: Compression = compression
        self.level = level
        self.commit_interval_s = float(commit_interval_s)
        self.max_buffer_bytes = int(max_buffer_mb * _MIB)
        if when_full not in ("drop", "wait"):
            raise ConfigError("unknown policy", field_path="when_full", value=when_full, choices=["drop", "wait"])
        self.when_full = when_full
        try:
            there = location_exists(self.path)
        except Exception as exc:
            raise StoreError(f"cannot create session at {self.path}: {exc}") from exc
        if there and not overwrite:
            raise StoreError(f"{self.path} already exists (pass overwrite=True to replace it)")
        cal = calibration.model_dump(mode="json") if calibration is not None else None
        root_attrs = {
            "schema_version": SCHEMA_VERSION,
            "created": _dt.datetime.now(_dt.UTC).isoformat(),
            "software": _software_versions(),
            "rig": jsonable(dict(rig), "rig"),
            "calibration": cal,
            "finished": False,
            "integrity": "crc32c",
            "summary": None,
            "stats": {},
        }
        try:
            store = zarr_store(self.path, read_only=False)
            self._root = zarr.open_group(store, mode="w" if overwrite else "w-", zarr_format=3)
            self._root.attrs.update(root_attrs)
            self._root.require_group("streams")
            self._events_group = self._root.require_group("events")
            self._events_group.attrs.update({"events": []})
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot create session at {self.path}: {exc}") from exc

        self._lock = threading.Lock()  # guards buffers, streams, events, stats
        self._commit_lock = threading.Lock()  # one commit at a time
        self._streams: dict[str, _Stream] = {}
        self._events: list[dict[str, Any]] = []
        self._events_dirty = False
        self._user_stats: dict[str, Any] = {}
        self._stats_dirty = True
        self._buffered_bytes = 0
        self._buffer_peak = 0
        self._commits = 0
        self._commit_time_s = 0.0
        self._max_lag_s = 0.0
        self._last_lag_s = 0.0
        self._last_commit = time.monotonic()
        self._commit_est_s = 0.0  # expected duration of a commit
        self._recent_commits_s: deque[float] = deque(maxlen=5)
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # set by write() when the buffer passes a quarter of its bound: commit now rather than
        # at the next tick, so a high-rate rig is written at a steady pace instead of in bursts
        self._wake = threading.Event()
        self._kick_bytes = self.max_buffer_bytes // 4
        n_workers = workers if workers is not None else min(8, 2 * (os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=max(1, n_workers), thread_name_prefix="sf-store")

    # ------------------------------------------------------------------ streams
    def add_stream(self, spec: StreamSpec, *, stage: str | None = None) -> None:
        """Declare a stream (``stage=None``: a source stream, else an output of ``stage``).

        Adding the same spec twice is a no-op; another spec under the same name is an error.
        """
        if stage is not None and (not stage or "/" in stage or ":" in stage):
            raise StoreError(f"invalid stage name {stage!r}")
        key = stream_key(spec.name, stage)
        with self._lock:
            self._check_open()
            existing = self._streams.get(key)
            if existing is not None:
                if existing.spec != spec:
                    raise StoreError(f"stream {key} was already added with another spec")
                return
            try:
                st = self._create_stream(spec, stage, key)
            except Exception as exc:
                raise StoreError(f"cannot create stream {key} in {self.path}: {exc}") from exc
            self._streams[key] = st

    def _create_stream(self, spec: StreamSpec, stage: str | None, key: str) -> _Stream:
        group = self._root.require_group(stream_group_path(spec.name, stage))
        attrs: dict[str, Any] = {
            "spec": spec.model_dump(mode="json"),
            "count": 0,
            "t_first_ns": None,
            "t_last_ns": None,
        }
        if spec.ragged:
            attrs["items"] = 0
        group.attrs.update(attrs)
        config: ArrayConfigParams = {"write_empty_chunks": True}
        # (name, create_array keyword arguments) of every array of the stream
        plans: list[tuple[str, dict[str, Any]]] = []
        ts_codecs = _compressors(self.compression, self.level, 8)
        for name in _TIME_ARRAYS:
            plans.append((name, {"shape": (0,), "chunks": (_TIME_CHUNK,), "dtype": "int64", "compressors": ts_codecs}))
        for fname, fspec in spec.fields.items():
            dtype = np.dtype(fspec.dtype)
            if spec.ragged:
                item_bytes = max(1, math.prod(max(1, d) for d in fspec.shape) * dtype.itemsize)
                max_len = max(1, min(_MAX_ITEMS_PER_CHUNK, _RAGGED_CHUNK_BYTES // item_bytes))
            else:
                max_len = _MAX_FRAMES_PER_CHUNK
            chunks = _data_chunks(tuple(fspec.shape), dtype.itemsize, max_len)
            plans.append(
                (
                    fname,
                    {
                        "shape": (0, *fspec.shape),
                        "chunks": chunks,
                        "dtype": dtype,
                        "compressors": _compressors(self.compression, self.level, dtype.itemsize),
                    },
                )
            )
        if spec.ragged:
            plans.append(
                ("offsets", {"shape": (1,), "chunks": (_TIME_CHUNK,), "dtype": "int64", "compressors": ts_codecs})
            )

        def create(name: str, kwargs: dict[str, Any]) -> Any:
            arr = group.create_array(name, fill_value=0, config=config, **kwargs)
            if name == "offsets":
                arr[0:1] = np.zeros(1, dtype=np.int64)
            return arr

        if isinstance(self.path, Path):
            arrays: dict[str, Any] = {name: create(name, kwargs) for name, kwargs in plans}
        else:
            # a remote store: every array costs a few round trips, so create them all at once
            futures = {name: self._pool.submit(create, name, kwargs) for name, kwargs in plans}
            arrays = {name: fut.result() for name, fut in futures.items()}
        ahead_ok = not spec.ragged and all(int(arrays[f].chunks[0]) == 1 for f in spec.fields)
        return _Stream(spec=spec, stage=stage, key=key, group=group, arrays=arrays, ahead_ok=ahead_ok)

    # ------------------------------------------------------------------ producers
    def write(self, frame: Frame, *, stage: str | None = None) -> bool:
        """Buffer one frame of a declared stream. Thread-safe and cheap (no compression).

        Returns ``False`` when a background writer's buffer is full and the frame was
        dropped (counted). Raises :class:`SchemaError` for a frame that breaks its stream's
        contract and :class:`StoreError` for an undeclared stream, a closed writer or a
        failed background commit. Do not modify the frame's arrays after writing them.
        """
        self._raise_if_failed()
        key = stream_key(frame.stream, stage)
        st = self._streams.get(key)
        if st is None:
            raise StoreError(f"stream {key} was not added to the session (call add_stream first)")
        st.spec.validate_frame(frame)
        nbytes = frame.nbytes
        while True:
            with self._lock:
                self._check_open()
                over = self._buffered_bytes > 0 and self._buffered_bytes + nbytes > self.max_buffer_bytes
                if not over:
                    if not st.pending:
                        st.pending_since = _born(frame)
                        if self._buffered_bytes == 0:
                            self._wake.set()  # the writer thread schedules the commit of this frame
                    st.pending.append(frame)
                    st.pending_bytes += nbytes
                    self._buffered_bytes += nbytes
                    self._buffer_peak = max(self._buffer_peak, self._buffered_bytes)
                    if self._buffered_bytes >= self._kick_bytes:
                        self._wake.set()
                    return True
                if self._thread is not None and self.when_full == "drop":
                    st.dropped += 1
                    self._stats_dirty = True
                    if st.dropped == 1:
                        self._add_event(
                            "drop",
                            "recorder",
                            f"recorder buffer over {self.max_buffer_bytes / _MIB:.0f} MiB; dropping frames",
                            None,
                            {"stream": key},
                        )
                    return False
            if self._thread is not None:
                self._raise_if_failed()  # a dead writer thread frees nothing
                time.sleep(0.002)  # background, when_full="wait": the writer thread frees space
                continue
            self.commit()  # foreground: apply back-pressure instead of dropping

    def event(self, kind: str, source: str, message: str, t_ns: int | None = None, **extra: Any) -> None:
        """Record an event (drop, error, reconnect...); stored at the next commit."""
        with self._lock:
            self._add_event(kind, source, message, t_ns, extra)

    def _add_event(self, kind: str, source: str, message: str, t_ns: int | None, extra: Mapping[str, Any]) -> None:
        ev: dict[str, Any] = {
            "t_ns": int(t_ns) if t_ns is not None else time.time_ns(),
            "kind": str(kind),
            "source": str(source),
            "message": str(message),
        }
        for k, v in jsonable(dict(extra), f"event {kind!r} extras").items():
            if k not in ev:
                ev[k] = v
        self._events.append(ev)
        self._events_dirty = True

    def set_stats(self, stats: Mapping[str, Any]) -> None:
        """Replace the run statistics stored in ``stats`` (the writer adds its own under ``recorder``)."""
        value = jsonable(dict(stats), "stats")
        with self._lock:
            self._user_stats = value
            self._stats_dirty = True

    def stats(self) -> dict[str, Any]:
        """The writer's own figures: frames and raw bytes written, drops, commits, lag, buffer."""
        with self._lock:
            return self._recorder_stats()

    def _recorder_stats(self) -> dict[str, Any]:
        return {
            "frames_written": sum(s.frames_written for s in self._streams.values()),
            "bytes_written": sum(s.bytes_written for s in self._streams.values()),
            "dropped": {k: s.dropped for k, s in sorted(self._streams.items()) if s.dropped},
            "commits": self._commits,
            "commit_time_s": round(self._commit_time_s, 6),
            "max_lag_s": round(self._max_lag_s, 6),
            "last_lag_s": round(self._last_lag_s, 6),
            "buffer_peak_mb": round(self._buffer_peak / _MIB, 3),
            "max_buffer_mb": round(self.max_buffer_bytes / _MIB, 3),
            "compression": self.compression,
        }

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the background writer thread, or None."""
        return self._error

    @property
    def dropped(self) -> int:
        """Frames dropped because the buffer was full (all streams)."""
        return sum(s.dropped for s in self._streams.values())

    # ------------------------------------------------------------------ commits
    def maybe_commit(self) -> bool:
        """Commit when ``commit_interval_s`` has passed since the last commit; true if it did."""
        if time.monotonic() - self._last_commit >= self.commit_interval_s:
            self.commit()
            return True
        return False

    def commit(self) -> None:
        """Append every buffered frame to the store, then publish the new counts, events and stats."""
        with self._commit_lock:
            t0 = time.monotonic()
            with self._lock:
                if self._closed:
                    return
                batches: list[tuple[_Stream, list[Frame], int, float | None]] = []
                aheads: dict[str, int] = {}
                for st in self._streams.values():
                    if st.pending:
                        batches.append((st, st.pending, st.pending_bytes, st.pending_since))
                        aheads[st.key] = st.ahead
                        st.pending, st.pending_bytes, st.pending_since, st.ahead = [], 0, None, 0
                events = list(self._events) if self._events_dirty else None
                self._events_dirty = False
                batch_bytes = sum(b[2] for b in batches)
            try:
                new_state = self._write_batches([(st, frames) for st, frames, _, _ in batches], aheads)
                # the data is in place: publish each stream's committed count (attrs last)
                for st, (count, items, t_first, t_last) in new_state:
                    attrs: dict[str, Any] = {"count": count, "t_first_ns": t_first, "t_last_ns": t_last}
                    if st.spec.ragged:
                        attrs["items"] = items
                    st.group.attrs.update(attrs)
                    st.count, st.items, st.t_first_ns, st.t_last_ns = count, items, t_first, t_last
                if events is not None:
                    self._events_group.attrs.update({"events": events})
            except Exception as exc:
                with self._lock:
                    self._buffered_bytes -= batch_bytes
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"commit to {self.path} failed: {type(exc).__name__}: {exc}") from exc
            now = time.monotonic()
            with self._lock:
                self._buffered_bytes -= batch_bytes
                for st, frames, nbytes, _ in batches:
                    st.frames_written += len(frames)
                    st.bytes_written += nbytes
                oldest = [b[3] for b in batches if b[3] is not None]
                if oldest:
                    self._last_lag_s = now - min(oldest)
                    self._max_lag_s = max(self._max_lag_s, self._last_lag_s)
                self._commits += 1
                self._commit_time_s += now - t0
                self._last_commit = now
                stats = {**self._user_stats, "recorder": self._recorder_stats()}
            try:
                self._root.attrs.update({"stats": stats})
            except Exception as exc:
                raise StoreError(f"commit to {self.path} failed writing stats: {exc}") from exc

    def _write_batches(
        self, batches: list[tuple[_Stream, list[Frame]]], aheads: Mapping[str, int] | None = None
    ) -> list[tuple[_Stream, tuple[int, int, int | None, int | None]]]:
        """Write every batch, all streams and chunk groups concurrently; returns the new state
        of each stream. Raises the first failure after every write has finished."""
        tasks: list[Callable[[], None]] = []
        new_state = []
        for st, frames in batches:
            new_state.append((st, self._plan(st, frames, tasks, (aheads or {}).get(st.key, 0))))
        self._run_tasks(tasks)
        return new_state

    def _run_tasks(self, tasks: list[Callable[[], None]]) -> None:
        futures = [self._pool.submit(task) for task in tasks]
        failure: BaseException | None = None
        for fut in futures:  # wait for every write before publishing or failing
            try:
                fut.result()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def _write_ahead(self) -> bool:
        """Between commits, write the data of buffered frames that fill chunks of their own
        (images, depth), so a commit has little left to do and publishes data that is at most
        about ``commit_interval_s`` old even when writing takes most of the machine. The next
        commit publishes them; until then readers ignore them (they trust ``count``)."""
        with self._commit_lock:
            with self._lock:
                if self._closed:
                    return False
                work = [
                    (st, st.ahead, st.pending[st.ahead :])
                    for st in self._streams.values()
                    if st.ahead_ok and len(st.pending) > st.ahead
                ]
            if not work:
                return False
            tasks: list[Callable[[], None]] = []
            try:
                for st, ahead, frames in work:
                    n0 = st.count + ahead
                    for fname in st.spec.fields:
                        arr = st.arrays[fname]
                        _grow(arr, n0 + len(frames))
                        for i, f in enumerate(frames):
                            tasks.append(functools.partial(_write_stack, arr, n0 + i, [f.data[fname]]))
                self._run_tasks(tasks)
            except Exception as exc:
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"writing to {self.path} failed: {type(exc).__name__}: {exc}") from exc
            with self._lock:
                for st, ahead, frames in work:
                    st.ahead = ahead + len(frames)
            return True

    def _append(self, st: _Stream, frames: list[Frame]) -> tuple[int, int, int | None, int | None]:
        """Write ``frames`` after the committed ones without publishing ``count`` (tests use it
        to simulate a commit interrupted before its last step)."""
        ((_, state),) = self._write_batches([(st, frames)])
        return state

    def _plan(
        self, st: _Stream, frames: list[Frame], tasks: list[Callable[[], None]], ahead: int = 0
    ) -> tuple[int, int, int | None, int | None]:
        """Grow ``st``'s arrays for ``frames`` and queue the writes into ``tasks``; returns the new
        count, items, first and last sensor time."""
        n0, k = st.count, len(frames)
        n1 = n0 + k
        t_sensor = np.fromiter((f.t_sensor_ns for f in frames), dtype=np.int64, count=k)
        t_host = np.fromiter((f.t_host_ns for f in frames), dtype=np.int64, count=k)
        seq = np.fromiter((f.seq for f in frames), dtype=np.int64, count=k)
        for name, values in (("t_sensor_ns", t_sensor), ("t_host_ns", t_host), ("seq", seq)):
            _grow(st.arrays[name], n1)
            tasks.append(functools.partial(_write, st.arrays[name], n0, values))
        items = st.items
        if st.spec.ragged:
            first = next(iter(st.spec.fields))
            lengths = np.fromiter((f.data[first].shape[0] for f in frames), dtype=np.int64, count=k)
            n_new = int(lengths.sum())
            for fname in st.spec.fields:
                _grow(st.arrays[fname], items + n_new)
                if n_new:
                    tasks.append(
                        functools.partial(_write_concat, st.arrays[fname], items, [f.data[fname] for f in frames])
                    )
            _grow(st.arrays["offsets"], n1 + 1)
            tasks.append(functools.partial(_write, st.arrays["offsets"], n0 + 1, items + np.cumsum(lengths)))
            items += n_new
        else:
            for fname in st.spec.fields:
                arr = st.arrays[fname]
                _grow(arr, n1)
                chunk_len = int(arr.chunks[0])
                frame_bytes = max(1, frames[0].data[fname].nbytes)
                # groups of whole chunks of about 16 MiB, so chunks compress in parallel and
                # no two writes touch the same chunk
                per_group = chunk_len * max(1, _GROUP_BYTES // (chunk_len * frame_bytes))
                i = ahead  # the first `ahead` frames' data is on disk already
                while i < k:
                    pos = n0 + i
                    stop = min(k, i + (per_group - pos % chunk_len if pos % chunk_len else per_group))
                    tasks.append(functools.partial(_write_stack, arr, pos, [f.data[fname] for f in frames[i:stop]]))
                    i = stop
        t_first = st.t_first_ns if st.t_first_ns is not None else int(t_sensor[0])
        return n1, items, t_first, int(t_sensor[-1])

    # ------------------------------------------------------------------ background mode
    def start(self) -> SessionWriter:
        """Launch the background writer thread (commits every ``commit_interval_s``)."""
        with self._lock:
            self._check_open()
            if self._thread is not None:
                return self
            self._thread = threading.Thread(target=self._run, name="sf-session-writer", daemon=True)
            self._thread.start()
        return self

    def _due(self) -> float | None:
        """When the next commit must start so that the oldest buffered frame is committed
        ``commit_interval_s`` after it arrived (a commit is started early by its measured
        duration); None when nothing is buffered."""
        with self._lock:
            oldest = min(
                (st.pending_since for st in self._streams.values() if st.pending_since is not None), default=None
            )
            dirty = self._events_dirty or self._stats_dirty
        if oldest is None:
            return self._last_commit + self.commit_interval_s if dirty else None
        return oldest + self.commit_interval_s - self._commit_est_s

    def _run(self) -> None:
        while True:
            due = self._due()
            wait = self.commit_interval_s if due is None else due - time.monotonic()
            if wait > 0:
                self._wake.wait(min(wait, _AHEAD_POLL_S))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                # images and other large frames go to disk as they arrive; the commit then
                # only has the small arrays and the counts left to write
                self._write_ahead()
            except BaseException as exc:
                log.debug("session writer for %s failed: %s", self.path, exc)
                self._error = exc
                return
            due = self._due()
            if (due is None or time.monotonic() < due) and self._buffered_bytes < self._kick_bytes:
                continue
            t0 = time.monotonic()
            try:
                self.commit()
            except BaseException as exc:
                log.debug("session writer for %s failed: %s", self.path, exc)
                self._error = exc
                return
            # commits under load take a while: start them as much earlier as the slowest of the
            # last few took (at most half the interval, so commits never run back to back and
            # the writing ahead between them keeps up)
            self._recent_commits_s.append(time.monotonic() - t0)
            self._commit_est_s = min(0.5 * self.commit_interval_s, max(self._recent_commits_s))

    def close(self, summary: Mapping[str, Any] | None = None, *, finished: bool = True) -> None:
        """Stop the background thread, commit what is buffered, mark the session finished
        (``finished=False``: commit only, the session stays unfinished, as after a crash)."""
        with self._lock:
            if self._closed:
                return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self._raise_if_failed()
            self.commit()
            with self._lock:
                self._closed = True
            if finished:
                self._root.attrs.update(
                    {
                        "finished": True,
                        "summary": jsonable(dict(summary or {}), "summary"),
                    }
                )
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"closing {self.path} failed: {exc}") from exc
        finally:
            with self._lock:
                self._closed = True
            self._pool.shutdown(wait=True)

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"session writer for {self.path} is closed")

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise StoreError(f"session writer for {self.path} failed: {self._error}") from self._error


def _born(frame: Frame) -> float:
    """When ``frame`` came into being on this machine, as ``time.monotonic()``: its host stamp
    when that is a recent wall-clock time (a live frame), else now (a replayed or synthetic one).
    Commits are scheduled from it, so time the frame spent before reaching the writer counts."""
    now = time.monotonic()
    age_s = (time.time_ns() - int(frame.t_host_ns)) / 1e9
    return now - age_s if 0.0 <= age_s < 60.0 else now


def _grow(arr: Any, length: int) -> None:
    """Make an array at least ``length`` long, growing by a quarter more (at least 64) so that
    most commits need no metadata write; readers trust ``count``, never an array's length."""
    if arr.shape[0] < length:
        _resize(arr, max(length, arr.shape[0] + max(_AHEAD_GROW, arr.shape[0] // 4)))


def _resize(arr: Any, length: int) -> None:
    """Set the length of an array's first axis (metadata only)."""
    if arr.shape[0] != length:
        arr.resize((length, *arr.shape[1:]))


def _write(arr: Any, start: int, data: np.ndarray) -> None:
    if data.shape[0]:
        arr[start : start + data.shape[0]] = data


def _write_stack(arr: Any, start: int, items: list[np.ndarray]) -> None:
    # one frame: a view, no copy
    data = items[0][np.newaxis] if len(items) == 1 else np.stack(items)
    _write(arr, start, data)


def _write_concat(arr: Any, start: int, items: list[np.ndarray]) -> None:
    _write(arr, start, np.concatenate(items, axis=0))
