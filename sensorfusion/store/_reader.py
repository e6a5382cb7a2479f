"""The session reader: opens a recorded session (read-only) and reads its streams back.

Readers trust each stream's ``count`` attribute, never an array's length: after a crash
an array may hold a half-written tail past ``count``, which is ignored.
"""

from __future__ import annotations

import fnmatch
import heapq
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .._errors import StoreError
from ..schema._calibration import RigCalibration
from ..schema._streams import Frame, StreamSpec
from ._writer import SCHEMA_VERSION, stream_key

__all__ = ["MIGRATIONS", "Session", "StreamInfo"]

_BLOCK_BYTES = 16 << 20  # frames are read in blocks of about this many bytes

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[int, Migration] = {
    # version v -> function turning the root attrs of a v session into v + 1 attrs; add an
    # entry with every bump of SCHEMA_VERSION (and teach the reader any layout change it implies).
    # 1 -> 2: only where a stage's own outputs live (estimates/<stage>/<channel>); the reader
    # finds stream groups by their spec in both layouts, the attrs are unchanged.
    1: lambda attrs: dict(attrs),
}


def migrate_attrs(attrs: dict[str, Any], version: int) -> dict[str, Any]:
    """Upgrade the root attrs of a ``version`` session to the current :data:`SCHEMA_VERSION`."""
    current = SCHEMA_VERSION
    out = dict(attrs)
    for v in range(version, current):
        step = MIGRATIONS.get(v)
        if step is None:
            raise StoreError(f"no migration from session schema_version {v} to {v + 1}")
        out = step(out)
        out["schema_version"] = v + 1
    return out


@dataclass(frozen=True)
class StreamInfo:
    """A recorded stream.

    Attributes:
        name: ``sensor/channel``.
        spec: its contract.
        count: committed frames.
        t_first_ns: sensor time of the first frame (``None`` when empty).
        t_last_ns: sensor time of the last committed frame (``None`` when empty).
        stage: the stage that produced it; ``None`` for a source stream.
    """

    name: str
    spec: StreamSpec
    count: int
    t_first_ns: int | None
    t_last_ns: int | None
    stage: str | None = None

    @property
    def key(self) -> str:
        """``name`` for a source stream, ``"<stage>:<name>"`` for an estimate."""
        return stream_key(self.name, self.stage)


class _StreamReader:
    """Reads the committed frames of one stream, in blocks."""

    def __init__(self, group: Any, info: StreamInfo, items: int) -> None:
        self.group = group
        self.info = info
        self.spec = info.spec
        self.count = info.count
        self.items = items
        self._offsets: np.ndarray | None = None
        if self.spec.ragged:
            item_bytes = sum(max(1, int(np.prod(f.shape))) * np.dtype(f.dtype).itemsize
                             for f in self.spec.fields.values())
            per_frame = item_bytes * max(1.0, items / max(1, self.count))
        else:
            per_frame = sum(max(1, int(np.prod(f.shape))) * np.dtype(f.dtype).itemsize
                            for f in self.spec.fields.values())
        chunk_len = 1
        for fname in self.spec.fields:
            if not self.spec.ragged:
                chunk_len = max(chunk_len, int(group[fname].chunks[0]))
        self.block = int(max(1, chunk_len, _BLOCK_BYTES // max(1, int(per_frame))))

    def _array(self, name: str) -> Any:
        try:
            return self.group[name]
        except KeyError as exc:
            raise StoreError(f"stream {self.info.key}: array {name!r} is missing") from exc

    def timestamps(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name in ("t_sensor_ns", "t_host_ns", "seq"):
            arr = self._array(name)
            if arr.shape[0] < self.count:
                raise StoreError(f"stream {self.info.key}: {name} holds {arr.shape[0]} < count {self.count} values")
            out[name] = np.asarray(arr[: self.count], dtype=np.int64)
        return out

    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            arr = self._array("offsets")
            if arr.shape[0] < self.count + 1:
                raise StoreError(f"stream {self.info.key}: offsets shorter than count + 1")
            self._offsets = np.asarray(arr[: self.count + 1], dtype=np.int64)
        return self._offsets

    def read_block(self, start: int, stop: int) -> list[Frame]:
        """Frames ``start`` to ``stop`` (exclusive), already clipped to ``count``."""
        if stop <= start:
            return []
        ts = {name: np.asarray(self._array(name)[start:stop]) for name in ("t_sensor_ns", "t_host_ns", "seq")}
        name = self.info.name
        if self.spec.ragged:
            offs = self.offsets()[start : stop + 1]
            lo, hi = int(offs[0]), int(offs[-1])
            values = {f: np.asarray(self._array(f)[lo:hi]) if hi > lo else self._empty(f)
                      for f in self.spec.fields}
            rel = offs - lo
            return [
                Frame(stream=name, t_sensor_ns=int(ts["t_sensor_ns"][i]), t_host_ns=int(ts["t_host_ns"][i]),
                      seq=int(ts["seq"][i]),
                      data={f: v[rel[i] : rel[i + 1]] for f, v in values.items()})
                for i in range(stop - start)
            ]
        data = {f: np.asarray(self._array(f)[start:stop]) for f in self.spec.fields}
        return [
            Frame(stream=name, t_sensor_ns=int(ts["t_sensor_ns"][i]), t_host_ns=int(ts["t_host_ns"][i]),
                  seq=int(ts["seq"][i]), data={f: v[i, ...] for f, v in data.items()})
            for i in range(stop - start)
        ]

    def _empty(self, fname: str) -> np.ndarray:
        f = self.spec.fields[fname]
        return np.zeros((0, *f.shape), dtype=f.dtype)

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
        stop = self.count if stop is None else max(0, min(stop, self.count))
        start = max(0, start)
        for b0 in range(start, stop, self.block):
            yield from self.read_block(b0, min(stop, b0 + self.block))


class Session:
    """A recorded session, opened read-only with :meth:`open`.

    Attributes:
        path: the session directory.
        schema_version: the layout version the session was written with.
        attrs: the root attributes, migrated to the current schema version.
    """

    def __init__(self, path: Path, root: Any, attrs: dict[str, Any], schema_version: int) -> None:
        self.path = path
        self._root = root
        self.attrs = attrs
        self.schema_version = schema_version
        self._readers: dict[str, _StreamReader] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Session:
        """Open a session; :class:`StoreError` when ``path`` is not one or is too new."""
        p = Path(path)
        try:
            root = zarr.open_group(p, mode="r", zarr_format=3)
        except Exception as exc:
            raise StoreError(f"{p} is not a sensorfusion session (no Zarr v3 group there: {exc})") from exc
        attrs = dict(root.attrs)
        version = attrs.get("schema_version")
        if version is None:
            raise StoreError(f"{p} is a Zarr group but not a sensorfusion session (no schema_version attribute)")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise StoreError(f"{p}: invalid schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{p} was written with session schema_version {version}, newer than this sensorfusion "
                f"supports ({SCHEMA_VERSION}); upgrade sensorfusion to read it"
            )
        return cls(p, root, migrate_attrs(attrs, version), version)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"Session({str(self.path)!r}, schema_version={self.schema_version}, finished={self.finished})"

    # ------------------------------------------------------------------ metadata
    @property
    def rig(self) -> dict[str, Any]:
        return dict(self.attrs.get("rig") or {})

    @property
    def calibration(self) -> RigCalibration:
        cal = self.attrs.get("calibration")
        try:
            return RigCalibration.model_validate(cal) if cal else RigCalibration()
        except Exception as exc:
            raise StoreError(f"{self.path}: stored calibration is invalid: {exc}") from exc

    @property
    def finished(self) -> bool:
        return bool(self.attrs.get("finished", False))

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.attrs.get("summary") or {})

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self.attrs.get("stats") or {})

    @property
    def created(self) -> str | None:
        return self.attrs.get("created")

    @property
    def events(self) -> list[dict[str, Any]]:
        try:
            group = self._root["events"]
        except KeyError:
            return []
        return [dict(e) for e in group.attrs.get("events", [])]

    # ------------------------------------------------------------------ streams
    def _all(self) -> dict[str, _StreamReader]:
        if self._readers is None:
            readers: dict[str, _StreamReader] = {}
            for stage, group in self._stream_groups():
                reader = self._make_reader(group, stage)
                readers[reader.info.key] = reader
            self._readers = dict(sorted(readers.items()))
        return self._readers

    def _stream_groups(self) -> Iterator[tuple[str | None, Any]]:
        def two_levels(top: Any) -> Iterator[Any]:
            for _, sensor in sorted(top.groups()):
                for _, channel in sorted(sensor.groups()):
                    yield channel

        if "streams" in self._root:
            for g in two_levels(self._root["streams"]):
                yield None, g
        if "estimates" in self._root:
            for stage, sgroup in sorted(self._root["estimates"].groups()):
                for _, child in sorted(sgroup.groups()):
                    if "spec" in child.attrs:  # estimates/<stage>/<channel> (schema 2)
                        yield stage, child
                    else:  # estimates/<stage>/<sensor>/<channel>
                        for _, g in sorted(child.groups()):
                            yield stage, g

    def _make_reader(self, group: Any, stage: str | None) -> _StreamReader:
        attrs = dict(group.attrs)
        try:
            spec = StreamSpec.model_validate(attrs["spec"])
        except Exception as exc:
            raise StoreError(f"{self.path}/{group.path}: invalid or missing stream spec: {exc}") from exc
        count = int(attrs.get("count", 0))
        t_first, t_last = attrs.get("t_first_ns"), attrs.get("t_last_ns")
        info = StreamInfo(name=spec.name, spec=spec, count=count,
                          t_first_ns=int(t_first) if t_first is not None and count else None,
                          t_last_ns=int(t_last) if t_last is not None and count else None, stage=stage)
        return _StreamReader(group, info, int(attrs.get("items", 0)))

    def streams(self) -> dict[str, StreamInfo]:
        """Source streams by name (``sensor/channel``)."""
        return {k: r.info for k, r in self._all().items() if r.info.stage is None}

    def estimates(self) -> dict[str, StreamInfo]:
        """Stage outputs keyed ``"<stage>:<sensor>/<channel>"``."""
        return {k: r.info for k, r in self._all().items() if r.info.stage is not None}

    def _reader(self, name: str, stage: str | None) -> _StreamReader:
        if stage is None and ":" in name:
            stage, name = name.split(":", 1)
        key = stream_key(name, stage)
        reader = self._all().get(key)
        if reader is None:
            raise StoreError(f"{self.path}: no stream {key!r}; recorded: {', '.join(self._all()) or 'none'}")
        return reader

    def group_path(self, name: str, stage: str | None = None) -> str:
        """Path of a stream's group inside the session."""
        return str(self._reader(name, stage).group.path).lstrip("/")

    def read(self, name: str, *, stage: str | None = None, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
        """The committed frames ``start:stop`` of a stream, read in blocks (``name`` may be
        ``"<stage>:<sensor>/<channel>"`` instead of passing ``stage``)."""
        return self._reader(name, stage).iter_frames(start, stop)

    def timestamps(self, name: str, stage: str | None = None) -> dict[str, np.ndarray]:
        """``{"t_sensor_ns", "t_host_ns", "seq"}`` int64 arrays of the committed frames."""
        return self._reader(name, stage).timestamps()

    def offsets(self, name: str, stage: str | None = None) -> np.ndarray:
        """``(count + 1,)`` offsets of a ragged stream into its item arrays."""
        reader = self._reader(name, stage)
        if not reader.spec.ragged:
            raise StoreError(f"stream {reader.info.key} is not ragged")
        return reader.offsets()

    def match(self, patterns: Sequence[str] = ("*/*",)) -> list[str]:
        """Source stream names matching any of the glob ``patterns``, sorted."""
        return [n for n in self.streams() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]

    def frames_in_order(self, patterns: Sequence[str] = ("*/*",)) -> Iterator[Frame]:
        """Source frames of the matched streams merged in recorded host-time order (ties by
        stream name, then seq). Streams are read block by block, never whole."""
        names = self.match(patterns)
        readers = [self._reader(n, None) for n in names]
        return _merge(readers)


def _merge(readers: list[_StreamReader]) -> Iterator[Frame]:
    """Merge streams on (t_host_ns, stream name, seq); each stream's frames are visited in its
    own sorted order, loading one block per stream at a time."""

    def stream_iter(idx: int, reader: _StreamReader) -> Iterator[tuple[int, int, int, int, Frame]]:
        ts = reader.timestamps()
        host, seq = ts["t_host_ns"], ts["seq"]
        order = np.lexsort((seq, host))
        if np.array_equal(order, np.arange(reader.count)):
            i = 0
            for frame in reader.iter_frames():
                yield frame.t_host_ns, idx, frame.seq, i, frame
                i += 1
            return
        cache_start, cache = -1, list[Frame]()  # out of order on disk: read the block around each index
        for i in order.tolist():
            if not cache_start <= i < cache_start + len(cache):
                cache_start = i
                cache = reader.read_block(i, min(reader.count, i + reader.block))
            frame = cache[i - cache_start]
            yield frame.t_host_ns, idx, frame.seq, i, frame

    iters = [stream_iter(i, r) for i, r in enumerate(readers)]  # readers are sorted by name
    for *_, frame in heapq.merge(*iters, key=lambda item: item[:4]):
        yield frame
