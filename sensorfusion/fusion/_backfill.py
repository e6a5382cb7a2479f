"""Putting a fusion stage's late emissions back where they belong.

The ``multiperson`` stage reports a track causally, from the frameset that confirms it, on
``<stage>/skeleton3d``; the frames it held while confirming come out once, in that frameset, on
``<stage>/backfill`` (same fields plus ``t_ns``: the reference time of the frameset each row
belongs to). :func:`merge_backfill` gives the complete tracks: every person from their first
frame on.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._errors import SchemaError
from ..schema._streams import Frame

__all__ = ["merge_backfill"]


def merge_backfill(frames: Iterable[Frame], backfill: Iterable[Frame]) -> list[Frame]:
    """``frames`` (of ``<stage>/skeleton3d``) with the rows of ``backfill`` (``<stage>/backfill``)
    added to the frame whose ``t_sensor_ns`` equals their ``t_ns``; people sorted by
    ``person_id`` within a frame. Rows whose frame is not among ``frames`` (a recording cut short)
    raise :class:`~sensorfusion.SchemaError`."""
    out = list(frames)
    index = {f.t_sensor_ns: i for i, f in enumerate(out)}
    extra: dict[int, list[dict[str, np.ndarray]]] = {}
    for b in backfill:
        t = np.asarray(b.data["t_ns"], dtype=np.int64)
        for k in range(len(t)):
            i = index.get(int(t[k]))
            if i is None:
                raise SchemaError(f"back-filled row for t_ns={int(t[k])} has no frame among the {len(out)} given")
            extra.setdefault(i, []).append({n: np.asarray(a)[k : k + 1] for n, a in b.data.items() if n != "t_ns"})
    for i, rows in extra.items():
        f = out[i]
        data = {n: np.concatenate([np.asarray(f.data[n]), *(r[n] for r in rows)]) for n in f.data}
        order = np.argsort(data["person_id"], kind="stable")
        out[i] = Frame(f.stream, f.t_sensor_ns, f.t_host_ns, f.seq, {n: a[order] for n, a in data.items()})
    return out
