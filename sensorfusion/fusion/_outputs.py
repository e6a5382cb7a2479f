"""The one stream contract of fused 3D skeletons (the fusion stages and ``sensorfusion triangulate``)."""

from __future__ import annotations

from typing import Any

from ..schema._skeletons import SkeletonSpec
from ..schema._streams import FieldSpec, FrameKind, StreamSpec

__all__ = ["skeleton3d_spec"]


def skeleton3d_spec(name: str, skeleton: SkeletonSpec, *, status: bool = False, backfill: bool = False) -> StreamSpec:
    """A ragged ``skeleton3d`` stream of ``skeleton``: per person ``joints (J, 3)`` float32 world
    metres (NaN: unknown), ``person_id`` int64, ``reprojection_error_px (J,)`` float32 (mean over
    inlier views), ``views (J,)`` int8 inlier views; with ``status`` the
    :class:`~sensorfusion.fusion.TriangulationStatus` bits ``(J,)`` int8 and ``in_volume`` (bool,
    inside the capture volume); with ``backfill`` (a stage's ``<stage>/backfill`` stream of held
    frames) ``t_ns`` int64, the time of the frame each item belongs to, and the attribute
    ``backfill_of`` naming the stream it completes."""
    J = skeleton.num_joints
    fields = {
        "joints": FieldSpec(dtype="float32", shape=(J, 3)),
        "person_id": FieldSpec(dtype="int64"),
        "reprojection_error_px": FieldSpec(dtype="float32", shape=(J,)),
        "views": FieldSpec(dtype="int8", shape=(J,)),
    }
    attrs: dict[str, Any] = {}
    if status:
        fields["status"] = FieldSpec(dtype="int8", shape=(J,))
        fields["in_volume"] = FieldSpec(dtype="bool")
    if backfill:
        fields["t_ns"] = FieldSpec(dtype="int64")
        attrs["backfill_of"] = name.rsplit("/", 1)[0] + "/skeleton3d"
    return StreamSpec(
        name=name, kind=FrameKind.SKELETON3D, ragged=True, skeleton=skeleton.name, fields=fields, attrs=attrs
    )
