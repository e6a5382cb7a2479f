"""Session integrity: finding missing and corrupt chunks and naming the frames they hold.

Every chunk a session writer stores ends in a CRC-32C of its bytes (Zarr's ``crc32c``
codec), so a corrupt chunk fails to decode instead of reading back as wrong numbers; and a
stream's committed ``count`` says which chunks must exist, so a missing chunk (which Zarr
would silently read as the fill value, zeros) is found by looking for its key. Sessions
written before the checksums (``integrity`` attribute absent) are checked for missing and
undecodable chunks only.

Damage is reported per stream as a frame range: frame-indexed arrays (timestamps, fixed
fields) map chunk rows to frames directly, a ragged stream's item arrays through its
offsets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from zarr.core.sync import sync

from .._errors import SessionDamagedError

__all__ = ["Damage", "FrameMap", "chunk_rows", "merge_ranges", "read_checked", "verify_array"]

FrameMap = Callable[[int, int], tuple[int, int]]
"""Array index range ``[lo, hi)`` on the first axis -> the frame range ``[start, stop)`` it holds."""


@dataclass(frozen=True)
class Damage:
    """One damaged range of a stream.

    Attributes:
        stream: stream key (``cam0/image``, ``pose:cam0/keypoints2d``) or group path.
        start: first damaged frame; stop: end of the range (exclusive).
        problem: what is wrong, naming the array and chunk.
    """

    stream: str
    start: int
    stop: int
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "start": self.start, "stop": self.stop, "problem": self.problem}

    def error(self, session: str) -> SessionDamagedError:
        return SessionDamagedError(session, self.stream, self.start, self.stop, self.problem)


def chunk_rows(arr: Any, lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
    """``(row, start, stop)`` of every chunk row (chunks along the first axis) meeting ``[lo, hi)``."""
    c = int(arr.chunks[0])
    for row in range(lo // c, (max(hi, lo + 1) - 1) // c + 1):
        yield row, max(lo, row * c), min(hi, (row + 1) * c)


def _row_keys(arr: Any, row: int) -> list[str]:
    grid = [range(math.ceil(n / c)) if n else range(1) for n, c in zip(arr.shape[1:], arr.chunks[1:], strict=True)]
    base = arr.store_path.path
    return [f"{base}/{arr.metadata.encode_chunk_key((row, *rest))}" for rest in itertools.product(*grid)]


def _missing(arr: Any, row: int) -> str | None:
    store = arr.store_path.store
    for key in _row_keys(arr, row):
        if not sync(store.exists(key)):
            return key[len(arr.store_path.path) + 1 :]
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "checksum" in text.lower():
        return "checksum mismatch"
    return f"{type(exc).__name__}: {text[:200]}"


def read_checked(
    arr: Any, lo: int, hi: int, *, name: str, stream: str, session: str, to_frames: FrameMap
) -> np.ndarray:
    """``arr[lo:hi]``, or :class:`SessionDamagedError` naming the stream, the frames and the
    chunk when a chunk it needs is missing or does not decode."""
    if hi <= lo:
        return np.asarray(arr[lo:hi])
    for row, a, b in chunk_rows(arr, lo, hi):
        key = _missing(arr, row)
        if key is not None:
            start, stop = to_frames(a, b)
            raise SessionDamagedError(session, stream, start, stop, f"array {name!r}: chunk {key} is missing")
    try:
        return np.asarray(arr[lo:hi])
    except Exception as exc:
        for row, a, b in chunk_rows(arr, lo, hi):  # which chunk?
            try:
                arr[a:b]
            except Exception as row_exc:
                start, stop = to_frames(a, b)
                key = _row_keys(arr, row)[0][len(arr.store_path.path) + 1 :]
                raise SessionDamagedError(
                    session, stream, start, stop, f"array {name!r}: chunk {key} is corrupt ({_short(row_exc)})"
                ) from row_exc
        start, stop = to_frames(lo, hi)
        raise SessionDamagedError(session, stream, start, stop, f"array {name!r}: {_short(exc)}") from exc


def verify_array(
    arr: Any, extent: int, *, name: str, stream: str, to_frames: FrameMap, progress: Callable[[int], None] | None = None
) -> list[Damage]:
    """Check every chunk of ``arr[:extent]``: present, and decodes (checksum included)."""
    out: list[Damage] = []
    if arr.shape[0] < extent:
        start, _ = to_frames(arr.shape[0], extent)
        _, stop = to_frames(arr.shape[0], extent)
        out.append(Damage(stream, start, stop, f"array {name!r} holds {arr.shape[0]} < {extent} committed values"))
        extent = arr.shape[0]
    for row, a, b in chunk_rows(arr, 0, extent) if extent else ():
        key = _missing(arr, row)
        start, stop = to_frames(a, b)
        if key is not None:
            out.append(Damage(stream, start, stop, f"array {name!r}: chunk {key} is missing"))
        else:
            try:
                arr[a:b]
            except Exception as exc:
                key = _row_keys(arr, row)[0][len(arr.store_path.path) + 1 :]
                out.append(Damage(stream, start, stop, f"array {name!r}: chunk {key} is corrupt ({_short(exc)})"))
        if progress is not None:
            progress(b - a)
    return out


def merge_ranges(damage: list[Damage]) -> list[tuple[int, int]]:
    """The union of the damaged frame ranges, sorted."""
    spans = sorted((d.start, d.stop) for d in damage)
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
