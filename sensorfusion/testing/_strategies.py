"""Hypothesis strategies for plugin authors: stream specs, frames, and arrival orders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..schema._streams import FieldSpec, Frame, FrameKind, StreamSpec

__all__ = ["arrival_orders", "frames_for", "stream_specs", "timestamps_ns"]

_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)


@st.composite
def stream_specs(draw: st.DrawFn, *, ragged: bool | None = None) -> StreamSpec:
    """Random valid stream contracts (numeric fields, small shapes)."""
    is_ragged = draw(st.booleans()) if ragged is None else ragged
    names = draw(st.lists(_NAME, min_size=1, max_size=3, unique=True))
    fields = {
        n: FieldSpec(
            dtype=draw(st.sampled_from(["uint8", "uint16", "int64", "float32", "float64"])),
            shape=tuple(draw(st.lists(st.integers(1, 4), max_size=2))),
        )
        for n in names
    }
    kind = draw(st.sampled_from(list(FrameKind)))
    if kind == FrameKind.PERSON_VALUES:  # its contract: ragged, person_id int64 beside the values
        is_ragged = True
        fields = {"person_id": FieldSpec(dtype="int64"), **{n: f for n, f in fields.items() if n != "person_id"}}
        fields.setdefault("value", FieldSpec(dtype="float32"))
    return StreamSpec(
        name=f"{draw(_NAME)}/{draw(_NAME)}",
        kind=kind,
        fields=fields,
        ragged=is_ragged,
        rate_hz=draw(st.sampled_from([0.0, 10.0, 30.0, 100.0])),
    )


def timestamps_ns(min_value: int = 0, max_value: int = 10**12) -> st.SearchStrategy[int]:
    """int64 nanosecond timestamps."""
    return st.integers(min_value, max_value)


@st.composite
def frames_for(
    draw: st.DrawFn, spec: StreamSpec, *, seq: int = 0, t_sensor_ns: int | None = None, max_items: int = 4
) -> Frame:
    """A frame obeying ``spec`` (random values, including NaN/inf for float fields)."""
    n = draw(st.integers(0, max_items)) if spec.ragged else None
    data: dict[str, np.ndarray] = {}
    for key, f in spec.fields.items():
        shape = (n, *f.shape) if n is not None else f.shape
        dtype = np.dtype(f.dtype)
        elements = (
            st.floats(allow_nan=True, allow_infinity=True, width=32 if dtype.itemsize == 4 else 64)
            if dtype.kind == "f"
            else None
        )
        data[key] = draw(hnp.arrays(dtype, shape, elements=elements))
    t = draw(timestamps_ns()) if t_sensor_ns is None else t_sensor_ns
    return Frame(stream=spec.name, t_sensor_ns=t, t_host_ns=t, seq=seq, data=data)


def arrival_orders(frames: Sequence[Frame], *, keep_stream_order: bool = True) -> st.SearchStrategy[list[Frame]]:
    """Permutations of ``frames``; with ``keep_stream_order`` each stream's own order is kept
    (any interleaving of streams), as from independent in-order sources."""
    if not keep_stream_order:
        return st.permutations(list(frames))
    by_stream: dict[str, list[Frame]] = {}
    for f in frames:
        by_stream.setdefault(f.stream, []).append(f)
    tags = [s for s, fs in by_stream.items() for _ in fs]

    def interleave(order: list[str]) -> list[Frame]:
        its = {s: iter(fs) for s, fs in by_stream.items()}
        return [next(its[s]) for s in order]

    return st.permutations(tags).map(interleave)
