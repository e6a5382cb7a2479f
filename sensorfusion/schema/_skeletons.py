"""Skeleton specs: named joint sets with parents and edges, and mappings between them.

Joint names come from one shared vocabulary (``left_shoulder``, ``right_knee``...), so a
mapping between two specs follows from the names; a spec may also define *derived*
joints as weighted sums of named joints (``pelvis`` = mean of the hips) so that specs
with different roots still map onto each other.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._errors import ConfigError, SchemaError

__all__ = ["COCO17", "SkeletonRegistry", "SkeletonSpec", "builtin_skeletons"]


class SkeletonSpec(BaseModel):
    """A named joint set.

    Attributes:
        name: registry key (``coco17``, ``blazepose33``...).
        joints: joint names, in array order.
        parents: index of each joint's parent, ``-1`` for a root.
        edges: pairs of joint indices drawn as bones; defaults to the parent links.
        derived: joints that are not observed in this spec but can be computed from it,
            as ``name -> ((joint, weight), ...)`` (used by mappings into other specs).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    edges: tuple[tuple[int, int], ...] = ()
    derived: dict[str, tuple[tuple[str, float], ...]] = Field(default_factory=dict)
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> SkeletonSpec:
        n = len(self.joints)
        if len(set(self.joints)) != n:
            raise ValueError(f"skeleton {self.name}: joint names must be unique")
        if len(self.parents) != n:
            raise ValueError(f"skeleton {self.name}: {n} joints but {len(self.parents)} parents")
        for i, p in enumerate(self.parents):
            if p < -1 or p >= n or p == i:
                raise ValueError(f"skeleton {self.name}: joint {self.joints[i]} has invalid parent {p}")
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"skeleton {self.name}: edge ({a}, {b}) out of range")
        for dname, terms in self.derived.items():
            for jname, _w in terms:
                if jname not in self.joints:
                    raise ValueError(f"skeleton {self.name}: derived {dname} uses unknown joint {jname}")
        if not self.edges:
            object.__setattr__(self, "edges", tuple((p, i) for i, p in enumerate(self.parents) if p >= 0))
        return self

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise SchemaError(f"skeleton {self.name} has no joint {joint!r}") from None

    def weights_for(self, joint: str) -> np.ndarray | None:
        """Weights over this spec's joints that give ``joint``, or None if it cannot."""
        w = np.zeros(self.num_joints)
        if joint in self.joints:
            w[self.joints.index(joint)] = 1.0
            return w
        if joint in self.derived:
            for jname, weight in self.derived[joint]:
                w[self.joints.index(jname)] += weight
            return w
        return None


def _spec(name: str, joints: list[tuple[str, str | None]], description: str, **kw: object) -> SkeletonSpec:
    names = [j for j, _ in joints]
    parents = [names.index(p) if p is not None else -1 for _, p in joints]
    return SkeletonSpec(name=name, joints=tuple(names), parents=tuple(parents), description=description, **kw)  # type: ignore[arg-type]


COCO17 = _spec(
    "coco17",
    [
        ("nose", None),
        ("left_eye", "nose"),
        ("right_eye", "nose"),
        ("left_ear", "left_eye"),
        ("right_ear", "right_eye"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
    ],
    "COCO keypoints (17), the order of COCO, OpenPifPaf, RTMPose-body and YOLO-pose.",
    derived={
        "pelvis": (("left_hip", 0.5), ("right_hip", 0.5)),
        "neck": (("left_shoulder", 0.5), ("right_shoulder", 0.5)),
        "head": (("left_ear", 0.5), ("right_ear", 0.5)),
    },
)


def builtin_skeletons() -> list[SkeletonSpec]:
    """Every skeleton spec shipped with the core."""
    return [COCO17]


class SkeletonRegistry:
    """Skeleton specs by name, and the mappings between them."""

    def __init__(self, specs: Iterable[SkeletonSpec] = ()) -> None:
        self._specs: dict[str, SkeletonSpec] = {}
        for s in specs:
            self.register(s)

    def register(self, spec: SkeletonSpec) -> None:
        if spec.name in self._specs and self._specs[spec.name] != spec:
            raise SchemaError(f"skeleton {spec.name!r} is already registered with a different definition")
        self._specs[spec.name] = spec

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def get(self, name: str, *, field_path: str = "skeleton") -> SkeletonSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ConfigError("unknown skeleton", field_path=field_path, value=name, choices=self.names()) from None

    def mapping(self, src: str, dst: str) -> np.ndarray:
        """``(J_dst, J_src)`` weights; a row of NaN where ``dst`` has a joint ``src`` cannot give."""
        s, d = self.get(src), self.get(dst)
        m = np.full((d.num_joints, s.num_joints), np.nan)
        for i, joint in enumerate(d.joints):
            w = s.weights_for(joint)
            if w is not None:
                m[i] = w
        return m

    def convert(self, points: np.ndarray, src: str, dst: str) -> np.ndarray:
        """Map ``(*, J_src, C)`` points into ``(*, J_dst, C)``; unmappable joints are NaN."""
        m = self.mapping(src, dst)
        pts = np.asarray(points, dtype=np.float64)
        out = np.einsum("ds,...sc->...dc", np.nan_to_num(m), pts)
        out[..., np.isnan(m).all(axis=1), :] = np.nan
        return out
