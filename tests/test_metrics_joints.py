"""metrics.mpjpe scores only the listed joints when ``joints`` is given."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfusion import ConfigError, FieldSpec, Frame, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion._builtin.metrics import MpjpeParams, MpjpeSink
from sensorfusion.schema import RigCalibration, SkeletonRegistry, builtin_skeletons


def spec(name: str) -> StreamSpec:
    return StreamSpec(
        name=name, kind=FrameKind.SKELETON3D, ragged=True, skeleton="coco17",
        fields={"joints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
    )  # fmt: skip


def sink(**params: object) -> MpjpeSink:
    ctx = StageContext(
        "m", [spec("est/skeleton3d"), spec("gt/skeleton3d")], RigCalibration(), SkeletonRegistry(builtin_skeletons())
    )
    return MpjpeSink(MpjpeParams.model_validate({"estimate": "est/skeleton3d", "match": "id", **params}), ctx)


def test_joints_restricts_the_score():
    gt = np.zeros((1, 17, 3), np.float32)
    est = gt.copy()
    est[0, :5, 0] = 1.0  # the face 1 m off, every limb exact
    ids = np.array([0])
    fs = FrameSet(0, 0, 0, {"gt/skeleton3d": Frame("gt/skeleton3d", 0, 0, 0, {"joints": gt, "person_id": ids}),
                            "est/skeleton3d": Frame("est/skeleton3d", 0, 0, 0, {"joints": est, "person_id": ids})})  # fmt: skip
    everything, limbs = sink(), sink(joints=["left_wrist", "right_ankle"])
    everything.write(fs)
    limbs.write(fs)
    assert everything.summary()["mpjpe_mm"] == pytest.approx(5 / 17 * 1000, abs=0.01)
    assert limbs.summary()["mpjpe_mm"] == 0.0


def test_an_unknown_joint_is_a_config_error():
    with pytest.raises(ConfigError, match="not a joint both skeletons share") as e:
        sink(joints=["left_wrist", "tail"])
    assert e.value.field_path == "m.params.joints" and e.value.value == "tail"
