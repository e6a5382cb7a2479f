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
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

from .._errors import SessionDamagedError, StoreError
from ..schema._calibration import RigCalibration
from ..schema._streams import Frame, StreamSpec
from ._integrity import Damage, FrameMap, chunk_rows, read_checked, verify_array
from ._location import Location, location, zarr_store
from ._writer import SCHEMA_VERSION, stream_key

__all__ = ["MIGRATIONS", "Session", "StreamInfo"]

_BLOCK_BYTES = 16 << 20  # frames are read in blocks of about this many bytes
_TIME_ARRAYS = ("t_sensor_ns", "t_host_ns", "seq")

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
    """Reads the committed frames of one stream, in blocks; damage raises
    :class:`~sensorfusion.SessionDamagedError` naming the stream and the frames."""

    def __init__(self, group: Any, info: StreamInfo, items: int, session: str = "") -> None:
        self.group = group
        self.info = info
        self.spec = info.spec
        self.count = info.count
        self.items = items
        self.session = session
        self._offsets: np.ndarray | None = None
        self._arrays: dict[str, Any] = {}
        if self.spec.ragged:
            item_bytes = sum(
                max(1, int(np.prod(f.shape))) * np.dtype(f.dtype).itemsize for f in self.spec.fields.values()
            )
            per_frame = item_bytes * max(1.0, items / max(1, self.count))
        else:
            per_frame = sum(
                max(1, int(np.prod(f.shape))) * np.dtype(f.dtype).itemsize for f in self.spec.fields.values()
            )
        chunk_len = 1
        for fname in self.spec.fields:
            if not self.spec.ragged:
                chunk_len = max(chunk_len, int(self._array(fname).chunks[0]))
        self.block = int(max(1, chunk_len, _BLOCK_BYTES // max(1, int(per_frame))))

    def _array(self, name: str) -> Any:
        arr = self._arrays.get(name)
        if arr is None:
            try:
                arr = self.group[name]
            except KeyError as exc:
                raise self._damaged(0, self.count, f"array {name!r} is missing") from exc
            except Exception as exc:
                raise self._damaged(
                    0, self.count, f"array {name!r} has unreadable metadata ({type(exc).__name__})"
                ) from exc
            self._arrays[name] = arr
        return arr

    def _damaged(self, start: int, stop: int, problem: str) -> SessionDamagedError:
        return SessionDamagedError(self.session, self.info.key, start, max(start + 1, stop), problem)

    # -- index maps: array positions -> frames ---------------------------------------------------
    def _frames_of_frames(self, lo: int, hi: int) -> tuple[int, int]:
        return min(lo, self.count), min(max(hi, lo + 1), self.count) if self.count else hi

    def _frames_of_offsets(self, lo: int, hi: int) -> tuple[int, int]:
        return max(0, lo - 1), min(self.count, max(hi, lo + 1))

    def _frames_of_items(self, lo: int, hi: int) -> tuple[int, int]:
        try:
            offs = self.offsets()
        except SessionDamagedError:
            return 0, self.count
        start = int(np.searchsorted(offs, lo, side="right")) - 1
        stop = int(np.searchsorted(offs, hi, side="left"))
        return max(0, start), min(self.count, max(stop, start + 1))

    def _read(self, name: str, lo: int, hi: int, to_frames: FrameMap | None = None) -> np.ndarray:
        return read_checked(
            self._array(name),
            lo,
            hi,
            name=name,
            stream=self.info.key,
            session=self.session,
            to_frames=to_frames or self._frames_of_frames,
        )

    # -- reading ---------------------------------------------------------------------------------
    def timestamps(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name in _TIME_ARRAYS:
            arr = self._array(name)
            if arr.shape[0] < self.count:
                raise self._damaged(
                    arr.shape[0], self.count, f"array {name!r} holds {arr.shape[0]} < count {self.count} values"
                )
            out[name] = np.asarray(self._read(name, 0, self.count), dtype=np.int64)
        return out

    def timestamps_tolerant(self) -> tuple[dict[str, np.ndarray], np.ndarray, list[Damage]]:
        """Timestamps chunk by chunk: ``(timestamps, readable mask, damage)``; damaged frames
        are masked out instead of raising."""
        out = {name: np.zeros(self.count, dtype=np.int64) for name in _TIME_ARRAYS}
        ok = np.ones(self.count, dtype=bool)
        damage: list[Damage] = []
        for name in _TIME_ARRAYS:
            try:
                arr = self._array(name)
            except SessionDamagedError as exc:
                ok[:] = False
                damage.append(Damage(self.info.key, exc.start, exc.stop, exc.problem))
                continue
            if arr.shape[0] < self.count:
                ok[arr.shape[0] :] = False
                damage.append(Damage(self.info.key, arr.shape[0], self.count, f"array {name!r} is short"))
            for _, a, b in chunk_rows(arr, 0, min(self.count, arr.shape[0])) if self.count else ():
                try:
                    out[name][a:b] = self._read(name, a, b)
                except SessionDamagedError as exc:
                    ok[a:b] = False
                    damage.append(Damage(self.info.key, exc.start, exc.stop, exc.problem))
        return out, ok, damage

    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            arr = self._array("offsets")
            if arr.shape[0] < self.count + 1:
                raise self._damaged(max(0, arr.shape[0] - 1), self.count, "offsets shorter than count + 1")
            self._offsets = np.asarray(
                self._read("offsets", 0, self.count + 1, self._frames_of_offsets), dtype=np.int64
            )
        return self._offsets

    def read_block(self, start: int, stop: int) -> list[Frame]:
        """Frames ``start`` to ``stop`` (exclusive), already clipped to ``count``."""
        if stop <= start:
            return []
        ts = {name: self._read(name, start, stop) for name in _TIME_ARRAYS}
        name = self.info.name
        if self.spec.ragged:
            offs = self.offsets()[start : stop + 1]
            lo, hi = int(offs[0]), int(offs[-1])
            values = {
                f: self._read(f, lo, hi, self._frames_of_items) if hi > lo else self._empty(f) for f in self.spec.fields
            }
            rel = offs - lo
            return [
                Frame(
                    stream=name,
                    t_sensor_ns=int(ts["t_sensor_ns"][i]),
                    t_host_ns=int(ts["t_host_ns"][i]),
                    seq=int(ts["seq"][i]),
                    data={f: v[rel[i] : rel[i + 1]] for f, v in values.items()},
                )
                for i in range(stop - start)
            ]
        data = {f: self._read(f, start, stop) for f in self.spec.fields}
        return [
            Frame(
                stream=name,
                t_sensor_ns=int(ts["t_sensor_ns"][i]),
                t_host_ns=int(ts["t_host_ns"][i]),
                seq=int(ts["seq"][i]),
                data={f: v[i, ...] for f, v in data.items()},
            )
            for i in range(stop - start)
        ]

    def _empty(self, fname: str) -> np.ndarray:
        f = self.spec.fields[fname]
        return np.zeros((0, *f.shape), dtype=f.dtype)

    def iter_frames(
        self, start: int = 0, stop: int | None = None, on_damage: Callable[[Damage], None] | None = None
    ) -> Iterator[Frame]:
        """Frames ``start:stop`` in blocks. A damaged block raises, or with ``on_damage`` is read
        frame by frame: every damaged frame range is reported and left out."""
        for _, frame in self.iter_indexed(start, stop, on_damage):
            yield frame

    def iter_indexed(
        self, start: int = 0, stop: int | None = None, on_damage: Callable[[Damage], None] | None = None
    ) -> Iterator[tuple[int, Frame]]:
        stop = self.count if stop is None else max(0, min(stop, self.count))
        start = max(0, start)
        for b0 in range(start, stop, self.block):
            b1 = min(stop, b0 + self.block)
            try:
                block = self.read_block(b0, b1)
            except SessionDamagedError:
                if on_damage is None:
                    raise
                yield from self._salvage(b0, b1, on_damage)
                continue
            yield from zip(range(b0, b1), block, strict=True)

    def _salvage(self, b0: int, b1: int, on_damage: Callable[[Damage], None]) -> Iterator[tuple[int, Frame]]:
        bad_from: int | None = None
        problem = ""
        for i in range(b0, b1):
            try:
                (frame,) = self.read_block(i, i + 1)
            except SessionDamagedError as exc:
                if bad_from is None:
                    bad_from, problem = i, exc.problem
                continue
            if bad_from is not None:
                on_damage(Damage(self.info.key, bad_from, i, problem))
                bad_from = None
            yield i, frame
        if bad_from is not None:
            on_damage(Damage(self.info.key, bad_from, b1, problem))

    # -- verification ----------------------------------------------------------------------------
    def verify(self, progress: Callable[[int], None] | None = None) -> list[Damage]:
        """Check every chunk the committed frames need: present, and decodes (checksums)."""
        out: list[Damage] = []
        names: list[tuple[str, int, FrameMap]] = [(n, self.count, self._frames_of_frames) for n in _TIME_ARRAYS]
        if self.spec.ragged:
            names.append(("offsets", self.count + 1, self._frames_of_offsets))
            names += [(f, self.items, self._frames_of_items) for f in self.spec.fields]
        else:
            names += [(f, self.count, self._frames_of_frames) for f in self.spec.fields]
        for name, extent, to_frames in names:
            try:
                arr = self._array(name)
            except SessionDamagedError as exc:
                out.append(Damage(self.info.key, exc.start, exc.stop, exc.problem))
                continue
            out += verify_array(arr, extent, name=name, stream=self.info.key, to_frames=to_frames, progress=progress)
        return out

    def chunk_rows_total(self) -> int:
        """How many chunk rows :meth:`verify` reads (for a progress bar), 0 when unknown."""
        total = 0
        for name in [*_TIME_ARRAYS, *self.spec.fields, *(["offsets"] if self.spec.ragged else [])]:
            try:
                arr = self._array(name)
            except SessionDamagedError:
                continue
            total += arr.shape[0]
        return total


class Session:
    """A recorded session, opened read-only with :meth:`open`.

    Attributes:
        path: the session directory (a :class:`~pathlib.Path`), or its URL (``str``).
        schema_version: the layout version the session was written with.
        attrs: the root attributes, migrated to the current schema version.
    """

    def __init__(self, path: Location, root: Any, attrs: dict[str, Any], schema_version: int) -> None:
        self.path = path
        self._root = root
        self.attrs = attrs
        self.schema_version = schema_version
        self._readers: dict[str, _StreamReader] | None = None
        self._group_damage: list[Damage] = []

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Session:
        """Open a session; :class:`StoreError` when ``path`` is not one or is too new.
        ``path``: a local folder, or a URL of any fsspec file system (``s3://bucket/run.zarr``)."""
        p = location(path)
        try:
            root = zarr.open_group(zarr_store(p, read_only=True), mode="r", zarr_format=3)
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
            damage: list[Damage] = []
            for stage, path, group in self._stream_groups(damage):
                try:
                    reader = self._make_reader(group, stage)
                except SessionDamagedError as exc:
                    damage.append(Damage(exc.stream, exc.start, exc.stop, exc.problem))
                    continue
                except StoreError as exc:
                    damage.append(Damage(path, 0, 0, str(exc).split(": ", 1)[-1][:300]))
                    continue
                readers[reader.info.key] = reader
            self._readers = dict(sorted(readers.items()))
            self._group_damage = damage
        return self._readers

    @property
    def damaged_groups(self) -> list[Damage]:
        """Stream groups that cannot be opened at all (unreadable metadata), found when the
        streams were listed; their streams are missing from :meth:`streams`."""
        self._all()
        return list(self._group_damage)

    def _stream_groups(self, damage: list[Damage]) -> Iterator[tuple[str | None, str, Any]]:
        """``(stage, path, group)`` of every stream group that opens; the others go to ``damage``."""

        def children(parent: Any, path: str) -> Iterator[tuple[str, Any]]:
            # list the store, then open each child on its own: one child with unreadable
            # metadata is named as damage and does not hide its siblings
            try:
                keys = sorted(k for k in sync(_list_dir(parent.store, parent.path)) if k != "zarr.json")
            except Exception as exc:
                damage.append(Damage(path, 0, 0, f"group listing failed ({type(exc).__name__})"))
                return
            for key in keys:
                try:
                    child = zarr.open_group(store=parent.store, path=f"{parent.path}/{key}", mode="r", zarr_format=3)
                except FileNotFoundError:
                    continue  # not a group (a stray file or folder)
                except Exception as exc:
                    problem = f"unreadable group metadata {path}/{key}/zarr.json ({type(exc).__name__})"
                    damage.append(Damage(f"{path}/{key}", 0, 0, problem))
                    continue
                yield key, child

        def two_levels(top: Any, path: str) -> Iterator[tuple[str, Any]]:
            for sensor, sgroup in children(top, path):
                for channel, cgroup in children(sgroup, f"{path}/{sensor}"):
                    yield f"{path}/{sensor}/{channel}", cgroup

        for top_name in ("streams", "estimates"):
            try:
                if top_name not in self._root:
                    continue
                top = self._root[top_name]
            except Exception as exc:
                damage.append(Damage(top_name, 0, 0, f"unreadable group metadata ({type(exc).__name__})"))
                continue
            if top_name == "streams":
                for path, g in two_levels(top, "streams"):
                    yield None, path, g
            else:
                for stage, sgroup in children(top, "estimates"):
                    for key, child in children(sgroup, f"estimates/{stage}"):
                        path = f"estimates/{stage}/{key}"
                        if "spec" in child.attrs:  # estimates/<stage>/<channel> (schema 2)
                            yield stage, path, child
                            continue
                        for channel, cgroup in children(child, path):  # estimates/<stage>/<sensor>/<channel>
                            yield stage, f"{path}/{channel}", cgroup

    def _make_reader(self, group: Any, stage: str | None) -> _StreamReader:
        attrs = dict(group.attrs)
        try:
            spec = StreamSpec.model_validate(attrs["spec"])
        except Exception as exc:
            raise StoreError(f"{self.path}/{group.path}: invalid or missing stream spec: {str(exc)[:300]}") from exc
        try:
            count = int(attrs.get("count", 0))
            items = int(attrs.get("items", 0))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{self.path}/{group.path}: invalid count") from exc
        t_first, t_last = attrs.get("t_first_ns"), attrs.get("t_last_ns")
        info = StreamInfo(
            name=spec.name,
            spec=spec,
            count=count,
            t_first_ns=int(t_first) if t_first is not None and count else None,
            t_last_ns=int(t_last) if t_last is not None and count else None,
            stage=stage,
        )
        return _StreamReader(group, info, items, str(self.path))

    def verify(self, progress: Callable[[int, int], None] | None = None) -> list[Damage]:
        """Check the whole session: every stream group opens and every chunk its committed
        frames need is present and intact (checksums). Returns the damage found (empty: healthy).
        ``progress(done, total)`` is called as chunk rows are read."""
        readers = self._all()
        out = list(self._group_damage)
        total = sum(r.chunk_rows_total() for r in readers.values()) or 1
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        for reader in readers.values():
            out += reader.verify(step)
        return out

    @property
    def integrity(self) -> str:
        """``crc32c`` when every chunk carries a checksum, ``none`` for older sessions."""
        return str(self.attrs.get("integrity") or "none")

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

    def frames_in_order(
        self, patterns: Sequence[str] = ("*/*",), *, on_damage: Callable[[Damage], None] | None = None
    ) -> Iterator[Frame]:
        """Source frames of the matched streams merged in recorded host-time order (ties by
        stream name, then seq). Streams are read block by block, never whole.

        Damage raises :class:`~sensorfusion.SessionDamagedError` naming the stream and frames;
        with ``on_damage`` every damaged range is reported to it and left out instead.
        """
        names = self.match(patterns)
        readers = [self._reader(n, None) for n in names]
        return _merge(readers, on_damage)


def _merge(readers: list[_StreamReader], on_damage: Callable[[Damage], None] | None = None) -> Iterator[Frame]:
    """Merge streams on (t_host_ns, stream name, seq); each stream's frames are visited in its
    own sorted order, loading one block per stream at a time."""

    def stream_iter(idx: int, reader: _StreamReader) -> Iterator[tuple[int, int, int, int, Frame]]:
        if on_damage is None:
            ts = reader.timestamps()
            good = np.arange(reader.count)
        else:
            ts, ok, damage = reader.timestamps_tolerant()
            for d in damage:
                on_damage(d)
            good = np.flatnonzero(ok)
        host, seq = ts["t_host_ns"][good], ts["seq"][good]
        order = good[np.lexsort((seq, host))]
        if np.array_equal(order, good):
            for a, b in _runs(good):
                for i, frame in reader.iter_indexed(a, b, on_damage):
                    yield frame.t_host_ns, idx, frame.seq, i, frame
            return
        cache_start, cache = -1, list[Frame]()  # out of order on disk: read the block around each index
        for i in order.tolist():
            if not cache_start <= i < cache_start + len(cache):
                cache_start = i
                stop = min(reader.count, i + reader.block)
                if on_damage is None:
                    cache = reader.read_block(i, stop)
                else:
                    cache = [f for _, f in reader.iter_indexed(i, i + 1, on_damage)]
            if not cache:
                continue
            frame = cache[i - cache_start]
            yield frame.t_host_ns, idx, frame.seq, i, frame

    iters = [stream_iter(i, r) for i, r in enumerate(readers)]  # readers are sorted by name
    for *_, frame in heapq.merge(*iters, key=lambda item: item[:4]):
        yield frame


async def _list_dir(store: Any, prefix: str) -> list[str]:
    return [k async for k in store.list_dir(prefix)]


def _runs(indices: np.ndarray) -> Iterator[tuple[int, int]]:
    """Contiguous runs ``[a, b)`` of sorted indices."""
    if not len(indices):
        return
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    for part in np.split(indices, breaks):
        yield int(part[0]), int(part[-1]) + 1
