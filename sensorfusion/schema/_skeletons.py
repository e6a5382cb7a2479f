"""Skeleton specs: named joint sets with parents and edges, and mappings between them.

Joint names come from one shared vocabulary (``left_shoulder``, ``right_knee``...), so a
mapping between two specs follows from the names; a spec may also define *derived*
joints as weighted sums of named joints (``pelvis`` = mean of the hips) so that specs
with different roots still map onto each other.

The vocabulary. Two specs use the same name only for the same anatomical point; the
keypoint *conventions* still differ between datasets (annotated surface keypoints in
COCO-style 2D data, joint centres in motion capture and SMPL), and each spec's
``description`` says where a shared name or a derived joint is an approximation.

* limbs: ``left_/right_`` + ``shoulder``, ``elbow``, ``wrist``, ``hip``, ``knee``, ``ankle``.
* face: ``nose``, ``left_eye``/``right_eye`` (eye centres), ``left_ear``/``right_ear``,
  ``left_eye_inner``/``left_eye_outer`` (eye corners), ``mouth_left``/``mouth_right``
  (mouth corners); COCO-WholeBody's 68 face points are ``face_0``...``face_67``.
* feet: ``left_big_toe``, ``left_small_toe``, ``left_heel`` (tips of the toes, back of the
  heel, as in the OpenPose foot data); ``left_foot_index`` (BlazePose's foot tip);
  ``left_foot`` (the forefoot / ball of the foot, SMPL and Kinect).
* hands: ``left_hand_0``...``left_hand_20`` (21-point hand: root, then thumb, index,
  middle, ring, little finger, four points each from the base to the tip);
  ``left_hand`` (centre of the hand, SMPL and Kinect).
* trunk: ``pelvis`` (midpoint of the hips), ``neck`` (base of the neck on the midline, at
  shoulder height; the shoulder midpoint where a spec has no such joint), ``head``
  (centre of the head; the ear midpoint where a spec has no such joint), ``head_top``
  (top of the head), ``upper_neck`` (top of the neck under the chin, as in MPII).
* spec-specific points keep a descriptive name that no other spec uses (``spine_base``,
  ``spine1``, ``left_collar``, ``left_hand_tip``...), so they map to nothing by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._errors import ConfigError, SchemaError

__all__ = [
    "BLAZEPOSE33",
    "BODY25B",
    "COCO17",
    "COCO_WHOLEBODY133",
    "H36M17",
    "KINECT25",
    "SMPL24",
    "SkeletonRegistry",
    "SkeletonSpec",
    "builtin_skeletons",
]


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
            if dname in self.joints:
                raise ValueError(f"skeleton {self.name}: derived {dname} is already a joint")
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


def _spec(
    name: str,
    joints: Sequence[tuple[str, str | None]],
    description: str,
    *,
    bones: Sequence[tuple[str, str]] | None = None,
    derived: Mapping[str, tuple[tuple[str, float], ...]] | None = None,
) -> SkeletonSpec:
    """Build a spec from ``(joint, parent joint)`` pairs and bones given by joint names."""
    names = [j for j, _ in joints]
    parents = [names.index(p) if p is not None else -1 for _, p in joints]
    edges = tuple((names.index(a), names.index(b)) for a, b in bones) if bones else ()
    return SkeletonSpec(
        name=name,
        joints=tuple(names),
        parents=tuple(parents),
        edges=edges,
        derived=dict(derived or {}),
        description=description,
    )


def _mid(a: str, b: str) -> tuple[tuple[str, float], ...]:
    return ((a, 0.5), (b, 0.5))


def _same(a: str) -> tuple[tuple[str, float], ...]:
    return ((a, 1.0),)


def _sides(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    """Bones given once with ``{s}`` for the side, expanded for left and right."""
    return [(a.format(s=s), b.format(s=s)) for s in ("left", "right") for a, b in pairs]


# Shared pieces -------------------------------------------------------------------------

# derived joints of every spec with COCO's 17 body points and no trunk joints
_COCO_TRUNK: dict[str, tuple[tuple[str, float], ...]] = {
    "pelvis": _mid("left_hip", "right_hip"),
    "neck": _mid("left_shoulder", "right_shoulder"),
    "head": _mid("left_ear", "right_ear"),
}

_COCO_FACE_BONES = _sides(("nose", "{s}_eye"), ("{s}_eye", "{s}_ear"))
_COCO_BODY_BONES = [
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    *_sides(
        ("{s}_shoulder", "{s}_elbow"),
        ("{s}_elbow", "{s}_wrist"),
        ("{s}_shoulder", "{s}_hip"),
        ("{s}_hip", "{s}_knee"),
        ("{s}_knee", "{s}_ankle"),
    ),
]
_FOOT_BONES = _sides(("{s}_ankle", "{s}_big_toe"), ("{s}_big_toe", "{s}_small_toe"), ("{s}_ankle", "{s}_heel"))

# COCO's 17 body points as (joint, parent); the tree hangs the trunk off the nose
_COCO_BODY: list[tuple[str, str | None]] = [
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
]

# OpenPose foot points (BODY_25B and COCO-WholeBody share the definition and the order)
_FEET: list[tuple[str, str | None]] = [
    ("left_big_toe", "left_ankle"),
    ("left_small_toe", "left_big_toe"),
    ("left_heel", "left_ankle"),
    ("right_big_toe", "right_ankle"),
    ("right_small_toe", "right_big_toe"),
    ("right_heel", "right_ankle"),
]

# BlazePose's foot tip lies at the tip of the foot near the second toe: the big toe tip is
# the nearest point the OpenPose foot data has, a few centimetres off
_FOOT_INDEX_FROM_BIG_TOE = {
    "left_foot_index": _same("left_big_toe"),
    "right_foot_index": _same("right_big_toe"),
}

# 68-point face (iBUG 300-W) indices of the eye and mouth corners. The 68-point scheme
# runs from the subject's right to left: 36/39 are the outer/inner corner of the right
# eye, 42/45 the inner/outer corner of the left eye, 48/54 the right/left mouth corner.
_FACE68_CORNERS = {
    "right_eye_outer": 36,
    "right_eye_inner": 39,
    "left_eye_inner": 42,
    "left_eye_outer": 45,
    "mouth_right": 48,
    "mouth_left": 54,
}

# 21-point hand: root, then four points per finger from the base to the tip
_FINGERS = ("thumb", "index", "middle", "ring", "little")


def _hand(side: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [(f"{side}_hand_0", f"{side}_wrist")]
    for f in range(len(_FINGERS)):
        for k in range(4):
            i = 1 + 4 * f + k
            parent = 0 if k == 0 else i - 1
            out.append((f"{side}_hand_{i}", f"{side}_hand_{parent}"))
    return out


def _face68_bones() -> list[tuple[str, str]]:
    def chain(a: int, b: int, *, closed: bool = False) -> list[tuple[str, str]]:
        pairs = list(pairwise(range(a, b + 1)))
        if closed:
            pairs.append((b, a))
        return [(f"face_{i}", f"face_{j}") for i, j in pairs]

    return [
        *chain(0, 16),  # jaw line
        *chain(17, 21),  # right eyebrow
        *chain(22, 26),  # left eyebrow
        *chain(27, 30),  # nose bridge
        *chain(31, 35),  # nostrils
        *chain(36, 41, closed=True),  # right eye
        *chain(42, 47, closed=True),  # left eye
        *chain(48, 59, closed=True),  # outer lips
        *chain(60, 67, closed=True),  # inner lips
    ]


# The specs -----------------------------------------------------------------------------

COCO17 = _spec(
    "coco17",
    _COCO_BODY,
    "COCO keypoints (17), the order of COCO, OpenPifPaf, RTMPose-body and YOLO-pose. "
    "Derived: pelvis = hip midpoint, neck = shoulder midpoint, head = ear midpoint. COCO "
    "hips are annotated on the body outline, higher and more lateral than the hip joint "
    "centres of motion capture and SMPL; the ear midpoint sits lower than a head centre.",
    bones=[*_COCO_FACE_BONES, *_COCO_BODY_BONES],
    derived=_COCO_TRUNK,
)

BLAZEPOSE33 = _spec(
    "blazepose33",
    [
        ("nose", None),
        ("left_eye_inner", "nose"),
        ("left_eye", "left_eye_inner"),
        ("left_eye_outer", "left_eye"),
        ("right_eye_inner", "nose"),
        ("right_eye", "right_eye_inner"),
        ("right_eye_outer", "right_eye"),
        ("left_ear", "left_eye_outer"),
        ("right_ear", "right_eye_outer"),
        ("mouth_left", "nose"),
        ("mouth_right", "nose"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_pinky_knuckle", "left_wrist"),
        ("right_pinky_knuckle", "right_wrist"),
        ("left_index_knuckle", "left_wrist"),
        ("right_index_knuckle", "right_wrist"),
        ("left_thumb_knuckle", "left_wrist"),
        ("right_thumb_knuckle", "right_wrist"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
        ("left_heel", "left_ankle"),
        ("right_heel", "right_ankle"),
        ("left_foot_index", "left_ankle"),
        ("right_foot_index", "right_ankle"),
    ],
    "MediaPipe BlazePose landmarks (33) in MediaPipe's order. MediaPipe's left_pinky, "
    "left_index and left_thumb (the model card's pinky #1, index #1 and thumb #2 knuckles) "
    "are named *_knuckle here and map to no other spec, because which joint of the hand "
    "they are is not well defined. The other points are treated as the COCO/WholeBody "
    "points of the same name (their annotation guides differ). Derived: pelvis, neck, head "
    "as in coco17; left_big_toe ~ left_foot_index (approximate: the foot tip lies near the "
    "second toe); face_36/39/42/45/48/54 (the 68-point eye and mouth corners) from the "
    "eye and mouth corners.",
    bones=[
        ("left_eye_inner", "right_eye_inner"),
        ("mouth_left", "mouth_right"),
        ("left_shoulder", "right_shoulder"),
        ("left_hip", "right_hip"),
        *_sides(
            ("nose", "{s}_eye_inner"),
            ("{s}_eye_inner", "{s}_eye"),
            ("{s}_eye", "{s}_eye_outer"),
            ("{s}_eye_outer", "{s}_ear"),
            ("{s}_shoulder", "{s}_elbow"),
            ("{s}_elbow", "{s}_wrist"),
            ("{s}_wrist", "{s}_pinky_knuckle"),
            ("{s}_wrist", "{s}_index_knuckle"),
            ("{s}_wrist", "{s}_thumb_knuckle"),
            ("{s}_pinky_knuckle", "{s}_index_knuckle"),
            ("{s}_shoulder", "{s}_hip"),
            ("{s}_hip", "{s}_knee"),
            ("{s}_knee", "{s}_ankle"),
            ("{s}_ankle", "{s}_heel"),
            ("{s}_heel", "{s}_foot_index"),
            ("{s}_ankle", "{s}_foot_index"),
        ),
    ],
    derived={
        **_COCO_TRUNK,
        "left_big_toe": _same("left_foot_index"),
        "right_big_toe": _same("right_foot_index"),
        **{f"face_{i}": _same(name) for name, i in _FACE68_CORNERS.items()},
    },
)

# OpenPose BODY_25B (experimental models; the skeleton Pose2Sim uses by default). Points
# 0-16 are COCO's, 19-24 the OpenPose foot points. 17 and 18 come from MPII's "upper neck"
# and "head top" (OpenPose names them UpperNeck and HeadTop, Pose2Sim's tree Neck and
# Head): the top of the neck and the top of the head, not the shoulder midpoint and not a
# head centre, so they are upper_neck and head_top here. Written from memory of OpenPose's
# BODY_25B part list and Pose2Sim's skeletons.py tree ids (17 Neck, 18 Head, 19-21 left
# big toe, small toe, heel, 22-24 right), not checked against those sources.
BODY25B = _spec(
    "body_25b",
    [
        ("nose", "upper_neck"),
        ("left_eye", "nose"),
        ("right_eye", "nose"),
        ("left_ear", "left_eye"),
        ("right_ear", "right_eye"),
        ("left_shoulder", "upper_neck"),
        ("right_shoulder", "upper_neck"),
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
        ("upper_neck", None),
        ("head_top", "upper_neck"),
        *_FEET,
    ],
    "OpenPose BODY_25B (25), as used by Pose2Sim: COCO's 17 points, upper_neck (17, "
    "OpenPose UpperNeck / Pose2Sim Neck: MPII's top of the neck), head_top (18, OpenPose "
    "HeadTop / Pose2Sim Head), then the left and right big toe, small toe and heel. "
    "Derived: pelvis, neck, head as in coco17 (neck is the shoulder midpoint, not "
    "upper_neck); left_foot_index ~ left_big_toe (approximate, for blazepose33).",
    bones=[
        *_COCO_FACE_BONES,
        *_COCO_BODY_BONES,
        ("upper_neck", "head_top"),
        ("upper_neck", "left_shoulder"),
        ("upper_neck", "right_shoulder"),
        *_FOOT_BONES,
    ],
    derived={**_COCO_TRUNK, **_FOOT_INDEX_FROM_BIG_TOE},
)

# Human3.6M's 17-joint subset of its 32-joint motion-capture skeleton, in the order of
# VideoPose3D and MMPose (parents -1,0,1,2,0,4,5,0,7,8,9,8,11,12,8,14,15). Index 8
# (Thorax; the mocap Neck joint, where the clavicles attach) is this vocabulary's neck.
# Index 9 (VideoPose3D "Neck/Nose", MMPose "neck_base"; the mocap Head joint) sits at the
# top of the neck and projects near the chin and nose: no other spec has it, so it is
# neck_nose. Index 10 (MMPose "head"; the end site above the mocap Head joint) is the top
# of the head, so it is head_top.
H36M17 = _spec(
    "h36m17",
    [
        ("pelvis", None),
        ("right_hip", "pelvis"),
        ("right_knee", "right_hip"),
        ("right_ankle", "right_knee"),
        ("left_hip", "pelvis"),
        ("left_knee", "left_hip"),
        ("left_ankle", "left_knee"),
        ("spine", "pelvis"),
        ("neck", "spine"),
        ("neck_nose", "neck"),
        ("head_top", "neck_nose"),
        ("left_shoulder", "neck"),
        ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_shoulder", "neck"),
        ("right_elbow", "right_shoulder"),
        ("right_wrist", "right_elbow"),
    ],
    "Human3.6M joints (17) in the VideoPose3D / MMPose order. Joint centres from motion "
    "capture: the hips sit inside the body, lower and more medial than COCO-style hip "
    "keypoints, so mappings to and from 2D specs are approximate there. pelvis (root) is "
    "the hip midpoint. neck is H36M's Thorax (on the spine, approximately behind the "
    "shoulder midpoint that 2D specs derive). neck_nose is H36M's Neck/Nose (MMPose "
    "neck_base), unique to this spec; head_top is H36M's Head (MMPose head), the top of "
    "the head, which only body_25b shares: no head centre is derived, and coco17's "
    "ear-midpoint head does not map to it. spine has no counterpart in other specs.",
)

KINECT25 = _spec(
    "kinect25",
    [
        ("spine_base", None),
        ("spine_mid", "spine_base"),
        ("mid_neck", "neck"),
        ("head", "mid_neck"),
        ("left_shoulder", "neck"),
        ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"),
        ("left_hand", "left_wrist"),
        ("right_shoulder", "neck"),
        ("right_elbow", "right_shoulder"),
        ("right_wrist", "right_elbow"),
        ("right_hand", "right_wrist"),
        ("left_hip", "spine_base"),
        ("left_knee", "left_hip"),
        ("left_ankle", "left_knee"),
        ("left_foot", "left_ankle"),
        ("right_hip", "spine_base"),
        ("right_knee", "right_hip"),
        ("right_ankle", "right_knee"),
        ("right_foot", "right_ankle"),
        ("neck", "spine_mid"),
        ("left_hand_tip", "left_hand"),
        ("left_thumb", "left_wrist"),
        ("right_hand_tip", "right_hand"),
        ("right_thumb", "right_wrist"),
    ],
    "Microsoft Kinect v2 body joints (25) in SDK JointType order. SDK names: SpineBase -> "
    "spine_base, SpineMid -> spine_mid, Neck -> mid_neck (between the base of the neck and "
    "the head; no other spec has it), SpineShoulder -> neck (the base of the neck between "
    "the shoulders; approximate against the shoulder midpoint of 2D specs), Head -> head "
    "(head centre), HandTip/Thumb -> left_hand_tip/left_thumb (unique). Kinect hips sit "
    "close to spine_base, more medial than COCO-style hips; left_hand (palm centre) and "
    "left_foot (forefoot) share SMPL's names but are placed differently (approximate). "
    "Derived: pelvis = hip midpoint (spine_base is not used: it lies above it).",
    derived={"pelvis": _mid("left_hip", "right_hip")},
)

SMPL24 = _spec(
    "smpl24",
    [
        ("pelvis", None),
        ("left_hip", "pelvis"),
        ("right_hip", "pelvis"),
        ("spine1", "pelvis"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("spine2", "spine1"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
        ("spine3", "spine2"),
        ("left_foot", "left_ankle"),
        ("right_foot", "right_ankle"),
        ("neck", "spine3"),
        ("left_collar", "spine3"),
        ("right_collar", "spine3"),
        ("head", "neck"),
        ("left_shoulder", "left_collar"),
        ("right_shoulder", "right_collar"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_hand", "left_wrist"),
        ("right_hand", "right_wrist"),
    ],
    "SMPL joints (24) in SMPL's order with its kinematic tree. These are the joints the "
    "model regresses from its mesh, not surface keypoints: the hips sit inside the body, "
    "lower and more medial than COCO-style hips, and the pelvis is above the hip midpoint; "
    "neck is the base of the neck and head lies low in the head (both approximate against "
    "the shoulder and ear midpoints of 2D specs). left_foot is the ball of the foot and "
    "left_hand the knuckles / palm (approximate against Kinect's joints of those names). "
    "spine1-3 and the collars have no counterpart in other specs.",
)

COCO_WHOLEBODY133 = _spec(
    "coco_wholebody133",
    [
        *_COCO_BODY,
        *_FEET,
        *[(f"face_{i}", "nose") for i in range(68)],
        *_hand("left"),
        *_hand("right"),
    ],
    "COCO-WholeBody keypoints (133): COCO's 17 body points, the 6 OpenPose foot points "
    "(left big toe, small toe, heel, then right), 68 face points face_0..face_67 (iBUG "
    "300-W order, from the subject's right jaw), 21 left hand points left_hand_0..20 (root "
    "at the wrist, then thumb, index, middle, ring and little finger from base to tip) and "
    "21 right hand points. Derived: pelvis, neck, head as in coco17; left_foot_index ~ "
    "left_big_toe (approximate, for blazepose33); the BlazePose eye and mouth corners "
    "from face_36/39/42/45/48/54.",
    bones=[
        *_COCO_FACE_BONES,
        *_COCO_BODY_BONES,
        *_FOOT_BONES,
        *_face68_bones(),
        *[(p, j) for side in ("left", "right") for j, p in _hand(side) if p is not None],
    ],
    derived={
        **_COCO_TRUNK,
        **_FOOT_INDEX_FROM_BIG_TOE,
        **{name: _same(f"face_{i}") for name, i in _FACE68_CORNERS.items()},
    },
)


def builtin_skeletons() -> list[SkeletonSpec]:
    """Every skeleton spec shipped with the core."""
    return [COCO17, BODY25B, BLAZEPOSE33, COCO_WHOLEBODY133, H36M17, KINECT25, SMPL24]


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

    def shared_joints(self, a: str, b: str) -> list[tuple[int, int]]:
        """``(index in a, index in b)`` of the joints both specs have by name (derived ones excluded)."""
        sa, sb = self.get(a), self.get(b)
        return [(i, sb.joints.index(j)) for i, j in enumerate(sa.joints) if j in sb.joints]

    def convert(self, points: np.ndarray, src: str, dst: str) -> np.ndarray:
        """Map ``(*, J_src, C)`` points into ``(*, J_dst, C)``; unmappable joints are NaN.

        A non-finite source coordinate (NaN, a missing detection) makes NaN only the output
        coordinates whose joint uses that source joint with a nonzero weight.
        """
        m = self.mapping(src, dst)
        pts = np.asarray(points, dtype=np.float64)
        unmapped = np.isnan(m).all(axis=1)
        w = np.nan_to_num(m)
        bad_src = ~np.isfinite(pts)
        out: np.ndarray = np.einsum("ds,...sc->...dc", w, np.where(bad_src, 0.0, pts))
        if bad_src.any():
            uses = (w != 0).astype(np.float64)
            out[np.einsum("ds,...sc->...dc", uses, bad_src.astype(np.float64)) > 0] = np.nan
        out[..., unmapped, :] = np.nan
        return out
