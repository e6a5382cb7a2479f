"""Aria Digital Twin (ADT) body skeletons: the 51-joint OptiTrack (Motive) skeleton and its reader.

ADT records each participant's body with an OptiTrack suit: per capture ``markers`` (57) and the
``joints`` (51) that Motive solves from them, in ADT's scene frame (metres, y up), written to
``Skeleton_<name>.json`` as ``{"dt_optitrack_minus_device_ns": {serial: dt}, "frames":
[{"timestamp_ns", "joints", "markers"}]}``. In ADT 2.0 sequences (``metadata.json``
``gt_time_domain: DEVICE_CAPTURE``) ``timestamp_ns`` is already on the Aria device's capture
clock; ``dt_optitrack_minus_device_ns`` records how far the OptiTrack clock was from it.

Joint names follow Motive's segments; a segment's joint is its *proximal* end, so ``LUArm`` (upper
arm) is the shoulder joint, ``LFArm`` (forearm) the elbow, ``LHand`` the wrist, ``LThigh`` the hip
joint, ``LShin`` the knee, ``LFoot`` the ankle and ``LToe`` the ball of the foot. The fingers'
three segments start at the knuckles the 21-point hand numbers 1-3 (thumb), 5-7 (index) and so
on, so they share the hand vocabulary.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError
from sensorfusion.schema import SkeletonSpec

__all__ = ["ADT51", "ADT_JOINT_LABELS", "ADT_MARKER_LABELS", "AdtSkeleton", "read_adt_skeleton"]

# ADT's joint labels in file order (projectaria_tools AriaDigitalTwinSkeletonProvider).
ADT_JOINT_LABELS: tuple[str, ...] = (
    "Skeleton", "Ab", "Chest", "Neck", "Head",
    "LShoulder", "LUArm", "LFArm", "LHand",
    "LThumb1", "LThumb2", "LThumb3", "LIndex1", "LIndex2", "LIndex3", "LMiddle1", "LMiddle2", "LMiddle3",
    "LRing1", "LRing2", "LRing3", "LPinky1", "LPinky2", "LPinky3",
    "RShoulder", "RUArm", "RFArm", "RHand",
    "RThumb1", "RThumb2", "RThumb3", "RIndex1", "RIndex2", "RIndex3", "RMiddle1", "RMiddle2", "RMiddle3",
    "RRing1", "RRing2", "RRing3", "RPinky1", "RPinky2", "RPinky3",
    "LThigh", "LShin", "LFoot", "LToe", "RThigh", "RShin", "RFoot", "RToe",
)  # fmt: skip

ADT_MARKER_LABELS: tuple[str, ...] = (
    "LIAS", "LFTC", "LIPS", "RIPS", "RFTC", "RIAS", "CV7", "TV2", "TV7", "SJN",
    "SXS", "LAH", "LPH", "RPH", "RAH", "LHGT", "LCAJ", "LUA", "LHLE", "LHME",
    "LUSP", "LRSP", "LHM2", "RHGT", "RCAJ", "RUA", "RHLE", "RHME", "RUSP", "RRSP",
    "RHM2", "LTH", "LFLE", "LFME", "LFAX", "LTTC", "LSK", "LFAL", "LTAM", "LFCC",
    "LFM1", "LFM5", "LFM2", "LDP1", "RTH", "RFLE", "RFME", "RFAX", "RTTC", "RSK",
    "RFAL", "RTAM", "RFCC", "RFM1", "RFM5", "RFM2", "RDP1",
)  # fmt: skip

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")


def _vocabulary() -> dict[str, str]:
    """ADT label -> the SDK's shared joint vocabulary (or a name unique to this spec)."""
    names = {
        "Skeleton": "pelvis",
        "Ab": "spine_ab",
        "Chest": "spine_chest",
        "Neck": "neck",
        "Head": "upper_neck",
    }
    for side, s in (("L", "left"), ("R", "right")):
        names |= {
            f"{side}Shoulder": f"{s}_collar",
            f"{side}UArm": f"{s}_shoulder",
            f"{side}FArm": f"{s}_elbow",
            f"{side}Hand": f"{s}_wrist",
            f"{side}Thigh": f"{s}_hip",
            f"{side}Shin": f"{s}_knee",
            f"{side}Foot": f"{s}_ankle",
            f"{side}Toe": f"{s}_foot",
        }
        for f, finger in enumerate(_FINGERS):
            for k in range(3):
                names[f"{side}{finger}{k + 1}"] = f"{s}_hand_{1 + 4 * f + k}"
    return names


def _parents() -> tuple[int, ...]:
    idx = {label: i for i, label in enumerate(ADT_JOINT_LABELS)}
    parent: dict[str, str | None] = {"Skeleton": None, "Ab": "Skeleton", "Chest": "Ab", "Neck": "Chest", "Head": "Neck"}
    for side in ("L", "R"):
        parent |= {
            f"{side}Shoulder": "Chest",
            f"{side}UArm": f"{side}Shoulder",
            f"{side}FArm": f"{side}UArm",
            f"{side}Hand": f"{side}FArm",
            f"{side}Thigh": "Skeleton",
            f"{side}Shin": f"{side}Thigh",
            f"{side}Foot": f"{side}Shin",
            f"{side}Toe": f"{side}Foot",
        }
        for finger in _FINGERS:
            parent |= {
                f"{side}{finger}1": f"{side}Hand",
                f"{side}{finger}2": f"{side}{finger}1",
                f"{side}{finger}3": f"{side}{finger}2",
            }
    return tuple(-1 if parent[label] is None else idx[str(parent[label])] for label in ADT_JOINT_LABELS)


_NAMES = _vocabulary()

ADT51 = SkeletonSpec(
    name="adt51",
    joints=tuple(_NAMES[label] for label in ADT_JOINT_LABELS),
    parents=_parents(),
    description=(
        "Aria Digital Twin body skeleton (51 joints, OptiTrack/Motive segments, ADT file order). "
        "Each joint is its segment's proximal end: Skeleton -> pelvis (the hip joints' midpoint, "
        "measured), Ab/Chest -> spine_ab/spine_chest (unique), Neck -> neck (base of the neck), "
        "Head -> upper_neck (the head segment's origin at the top of the neck, ~16 cm above the neck "
        "base; approximate against MPII/BODY_25B's upper neck), LShoulder -> left_collar (the clavicle's "
        "origin, approximate against SMPL's collar), LUArm/LFArm/LHand -> left_shoulder/elbow/wrist "
        "(joint centres), LThigh/LShin/LFoot -> left_hip/knee/ankle (joint centres: more medial and "
        "lower than COCO-style 2D hips), LToe -> left_foot (ball of the foot, as SMPL), fingers "
        "LThumb1-3 -> left_hand_1-3 (CMC, MCP, IP), LIndex1-3 -> left_hand_5-7 (MCP, PIP, DIP), and "
        "so on for the middle (9-11), ring (13-15) and little finger (17-19). No head centre, no face, "
        "no fingertips. Derived: left_hand_0 = left_wrist."
    ),
    derived={"left_hand_0": (("left_wrist", 1.0),), "right_hand_0": (("right_wrist", 1.0),)},
)


@dataclass(frozen=True)
class AdtSkeleton:
    """One ADT skeleton file.

    Attributes:
        name: the skeleton's name (``Skeleton_T`` from ``Skeleton_T.json``).
        t_ns: frame times ``(T,)`` int64 on the device capture clock.
        joints_m: ``(T, 51, 3)`` float64, ADT scene frame (metres, y up), :data:`ADT51` order.
        markers_m: ``(T, 57, 3)`` float64, :data:`ADT_MARKER_LABELS` order.
        dt_optitrack_minus_device_ns: per device serial, OptiTrack clock minus device clock.
        time_domain: ``device`` (timestamps already on the device clock) or ``optitrack``.
    """

    name: str
    t_ns: np.ndarray
    joints_m: np.ndarray
    markers_m: np.ndarray
    dt_optitrack_minus_device_ns: dict[str, int] = field(default_factory=dict)
    time_domain: str = "device"


def read_adt_skeleton(
    path: str | os.PathLike[str],
    *,
    time_domain: str = "auto",
    serial: str | None = None,
    field_path: str = "skeleton",
) -> AdtSkeleton:
    """Read an ADT ``Skeleton_*.json`` with its times on the device capture clock.

    ``time_domain``: ``device`` (the file's timestamps are device capture times, ADT 2.0),
    ``optitrack`` (they are OptiTrack times: ``dt_optitrack_minus_device_ns`` of the device
    ``serial`` — the only one when ``None`` — is subtracted), or ``auto`` (``device`` unless the
    sequence's ``metadata.json`` next to the file names another ``gt_time_domain``). Frames come
    out sorted by time; a malformed file is a :class:`~sensorfusion.ConfigError` naming
    ``field_path``.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError("ADT skeleton file not found", field_path=field_path, value=str(path))
    try:
        data: Any = json.loads(p.read_text(encoding="utf-8"))
        frames = data["frames"]
        dts = {str(k): int(v) for k, v in dict(data.get("dt_optitrack_minus_device_ns", {})).items()}
        t = np.array([int(f["timestamp_ns"]) for f in frames], dtype=np.int64)
        joints = np.array([f["joints"] for f in frames], dtype=np.float64).reshape(len(frames), -1, 3)
        markers = np.array([f["markers"] for f in frames], dtype=np.float64).reshape(len(frames), -1, 3)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"not an ADT skeleton file: {type(exc).__name__}: {exc}", field_path=field_path, value=str(path)
        ) from None
    if joints.shape[1:] != (len(ADT_JOINT_LABELS), 3):
        raise ConfigError(
            f"ADT skeleton frames must have {len(ADT_JOINT_LABELS)} joints, got {joints.shape[1]}",
            field_path=field_path,
            value=str(path),
        )
    domain = time_domain
    if domain == "auto":
        meta = p.parent / "metadata.json"
        domain = "device"
        if meta.is_file():
            try:
                gt_domain = json.loads(meta.read_text(encoding="utf-8")).get("gt_time_domain", "DEVICE_CAPTURE")
            except json.JSONDecodeError:
                gt_domain = "DEVICE_CAPTURE"
            domain = "device" if gt_domain == "DEVICE_CAPTURE" else "optitrack"
    if domain not in ("device", "optitrack"):
        raise ConfigError("unknown skeleton time domain", field_path=f"{field_path}_time_domain", value=time_domain,
                          choices=["auto", "device", "optitrack"])  # fmt: skip
    if domain == "optitrack":
        if serial is None and len(dts) == 1:
            serial = next(iter(dts))
        if serial not in dts:
            raise ConfigError(
                "the skeleton's times are OptiTrack times, but it has no clock offset for this device",
                field_path=field_path,
                value=serial,
                choices=sorted(dts),
            )
        t = t - dts[str(serial)]
    order = np.argsort(t, kind="stable")
    name = p.stem
    return AdtSkeleton(name, t[order], joints[order], markers[order], dts, domain)
