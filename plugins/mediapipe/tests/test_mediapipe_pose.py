"""mediapipe.pose on real photos: BlazePose on the astronaut, two people top-down, head pose."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="mediapipe is not installed")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (astronaut photo) is not installed")

from sensorfusion_mediapipe import MediaPipePose  # noqa: E402
from sensorfusion_mediapipe._mp import INSTALL, require_mediapipe  # noqa: E402

from sensorfusion import (  # noqa: E402
    ConfigError,
    FieldSpec,
    Frame,
    FrameKind,
    FrameSet,
    MissingDependencyError,
    RigCalibration,
    StageContext,
    StreamSpec,
)
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons  # noqa: E402
from sensorfusion.testing import EstimatorContract  # noqa: E402


@cache
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(skimage_data.astronaut())


@cache
def two_astronauts() -> np.ndarray:
    img = astronaut()
    return np.ascontiguousarray(np.concatenate([img, img], axis=1))


def spec(name: str, image: np.ndarray) -> StreamSpec:
    return StreamSpec(
        name=name, kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=image.shape)}, rate_hz=30
    )


def estimator(images: dict[str, np.ndarray], **params: Any) -> MediaPipePose:
    ctx = StageContext(
        "mp", inputs=[spec(n, im) for n, im in sorted(images.items())], calibration=RigCalibration(),
        skeletons=SkeletonRegistry(builtin_skeletons()), config_path="stages[0]",
    )  # fmt: skip
    return MediaPipePose(MediaPipePose.Params.model_validate(params), ctx)


def run(images: dict[str, np.ndarray], **params: Any) -> dict[str, Any]:
    est = estimator(images, **params)
    try:
        fs = FrameSet(0, 0, 0, {n: Frame(n, 0, 0, 0, {"image": im}) for n, im in images.items()})
        return dict(est.process(fs))
    finally:
        est.close()


J = {name: i for i, name in enumerate(SkeletonRegistry(builtin_skeletons()).get("blazepose33").joints)}


def test_astronaut_33_landmarks_on_the_person() -> None:
    img = astronaut()
    out = run({"cam0/image": img}, detector="none", tracking=False, world_landmarks=True)
    kp = out["cam0/keypoints2d"]["keypoints"]
    assert kp.shape == (1, 33, 3) and kp.dtype == np.float32
    assert out["cam0/keypoints2d"]["person_id"].tolist() == [-1]
    k = kp[0]
    assert np.isfinite(k).all()
    # nose above the shoulders above the hips (image y grows downward)
    nose_y = k[J["nose"], 1]
    shoulders_y = k[[J["left_shoulder"], J["right_shoulder"]], 1]
    hips_y = k[[J["left_hip"], J["right_hip"]], 1]
    assert nose_y < shoulders_y.min() and shoulders_y.max() < hips_y.min()
    # the face and upper body are inside the image and confidently seen
    upper = np.arange(0, 13)  # face and shoulders (her arms bend down out of the frame)
    assert (k[upper, 0] >= 0).all() and (k[upper, 0] < img.shape[1]).all()
    assert (k[upper, 1] >= 0).all() and (k[upper, 1] < img.shape[0]).all()
    assert k[upper, 2].min() > 0.9
    # the subject's left shoulder is on the image's right (she faces the camera)
    assert k[J["left_shoulder"], 0] > k[J["right_shoulder"], 0]
    # the nose lies on the face: within 60 px of (223, 128), found by eye on the photo
    assert np.hypot(k[J["nose"], 0] - 223, k[J["nose"], 1] - 128) < 60
    world = out["cam0/world_landmarks"]["joints"][0]
    hips_mid = world[[J["left_hip"], J["right_hip"]]].mean(axis=0)
    assert np.linalg.norm(hips_mid) < 0.05  # the world frame's origin is between the hips
    assert 0.2 < np.linalg.norm(world[J["left_shoulder"]] - world[J["right_shoulder"]]) < 0.6  # metres


def test_two_people_side_by_side_top_down() -> None:
    img = two_astronauts()
    out = run({"cam0/image": img}, detector="blazepose", max_people=4, detector_min_score=0.4)
    kp = out["cam0/keypoints2d"]["keypoints"]
    assert kp.shape[0] == 2
    noses = np.sort(kp[:, J["nose"], 0])
    half = astronaut().shape[1]
    assert noses[0] < half <= noses[1]
    # each person is the same astronaut: landmarks of the right copy = left copy + half width
    order = np.argsort(kp[:, J["nose"], 0])
    left, right = kp[order[0], :17, :2], kp[order[1], :17, :2]
    assert np.median(np.abs(right - left - [half, 0])) < 8.0
    # max_people caps the report
    assert run({"cam0/image": img}, detector="blazepose", max_people=1)["cam0/keypoints2d"]["keypoints"].shape[0] == 1


def test_head_pose_on_the_astronaut_is_near_frontal() -> None:
    out = run({"cam0/image": astronaut()}, detector="none", tracking=False, head_pose=True)
    hp = out["cam0/head_pose"]
    assert hp["yaw_pitch_roll_rad"].shape == (1, 3)
    yaw, pitch, roll = hp["yaw_pitch_roll_rad"][0]
    assert abs(yaw) < 0.2 and abs(roll) < 0.2
    assert abs(pitch) < 0.6  # generic face model: pitch is the least certain angle
    assert hp["person_index"].tolist() == [0]
    R = hp["camera_from_head"][0].astype(np.float64)
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-5)
    assert 0.3 < hp["translation_m"][0, 2] < 2.0  # a face filling ~1/8 of a 512 px, f=512 px image


def test_cameras_are_processed_in_one_call_with_their_own_outputs() -> None:
    images = {"cam0/image": astronaut(), "cam1/image": two_astronauts()}
    out = run(images, detector="blazepose", max_people=3, threads=2)
    assert out["cam0/keypoints2d"]["keypoints"].shape[0] == 1
    assert out["cam1/keypoints2d"]["keypoints"].shape[0] == 2


def test_no_person_gives_an_empty_frame() -> None:
    blank = np.full((256, 256, 3), 127, dtype=np.uint8)
    for det in ("none", "blazepose", "hog"):
        out = run({"cam0/image": blank}, detector=det, tracking=False)
        assert out["cam0/keypoints2d"]["keypoints"].shape == (0, 33, 3)


def test_unbundled_model_complexity_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        estimator({"cam0/image": astronaut()}, model_complexity=2)
    assert info.value.field_path == "stages[0].params.model_complexity"
    assert "1" in (info.value.choices or [])


def test_non_rgb_input_is_a_config_error() -> None:
    gray = StreamSpec(
        name="cam0/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint16", shape=(8, 8))}
    )
    ctx = StageContext(
        "mp",
        inputs=[gray],
        calibration=RigCalibration(),
        skeletons=SkeletonRegistry(builtin_skeletons()),
        config_path="stages[1]",
    )
    with pytest.raises(ConfigError, match=r"uint8 RGB") as info:
        MediaPipePose(MediaPipePose.Params(), ctx)
    assert info.value.field_path == "stages[1].inputs"


def test_person_id_single_needs_one_person() -> None:
    with pytest.raises(ValueError, match="max_people"):
        MediaPipePose.Params(person_id="single", max_people=2)
    out = run({"cam0/image": astronaut()}, detector="none", tracking=False, person_id="single")
    assert out["cam0/keypoints2d"]["person_id"].tolist() == [0]


def test_missing_mediapipe_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(MissingDependencyError) as info:
        require_mediapipe("mediapipe.pose")
    assert info.value.install == INSTALL and "pip install" in str(info.value)
    with pytest.raises(MissingDependencyError):
        estimator({"cam0/image": astronaut()})


class TestMediaPipePoseContract(EstimatorContract):
    estimator_class = MediaPipePose
    params = {"detector": "blazepose", "max_people": 3, "head_pose": True, "world_landmarks": True}
    plugin_name = "mediapipe"

    def input_specs(self) -> list[StreamSpec]:
        return [spec("cam0/image", astronaut()), spec("cam1/image", two_astronauts())]

    def framesets(self) -> Sequence[FrameSet]:
        frames = {"cam0/image": astronaut(), "cam1/image": two_astronauts()}
        return [
            FrameSet(0, 0, 0, {n: Frame(n, 0, 0, 0, {"image": im}) for n, im in frames.items()}, tuple(sorted(frames)))
        ]
