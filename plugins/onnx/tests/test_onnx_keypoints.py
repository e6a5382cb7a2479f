"""onnx.keypoints end to end with tiny models exported at test time that have the real layouts.

Each test model *finds* coloured dots in its input: it undoes the family's normalisation,
builds a soft mask per keypoint colour, takes the mask's centroid, and plants its output
peaks there (SimCC codes, or YOLO-pose / RTMO rows). A wrong crop, letterbox, normalisation,
channel order or decoding moves or loses the dots, so known keypoints in -> the same
keypoints out checks the whole round trip.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is needed to build the test models")
pytest.importorskip("onnx", reason="onnx is needed to export the test models")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from sensorfusion_onnx import (  # noqa: E402
    RTMPOSE_MEAN,
    RTMPOSE_STD,
    OnnxKeypoints,
    box_to_center_scale,
    decode_simcc,
    letterbox,
    nms,
    topdown_affine,
)

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

K = 17
# 17 colours whose brightest channel is 255: a dot's edge blended with the background is
# darker than every colour, so it never matches another keypoint
COLORS = np.array([c for c in itertools.product((0, 128, 255), repeat=3) if max(c) == 255][:K], dtype=np.float32)
DOT = 6  # dots are (2 * DOT + 1) px squares


class _DotFinder(torch.nn.Module):
    """Keypoint k = centroid of the pixels whose colour is COLORS[k] (after undoing normalisation)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], bgr: bool, width: int, height: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("colors", torch.tensor(COLORS).view(1, K, 3, 1, 1))
        self.register_buffer("xs", torch.arange(width, dtype=torch.float32).view(1, 1, 1, width))
        self.register_buffer("ys", torch.arange(height, dtype=torch.float32).view(1, 1, height, 1))
        self.bgr = bgr

    def masks(self, x: Any) -> Any:
        pix = x * self.std + self.mean
        if self.bgr:
            pix = torch.flip(pix, dims=[1])
        d2 = ((pix.unsqueeze(1) - self.colors) ** 2).sum(2)  # (B, K, H, W)
        return torch.relu(torch.exp(-d2 / (2 * 30.0**2)) - 0.5)

    @staticmethod
    def centroid(m: Any, xs: Any, ys: Any) -> tuple[Any, Any, Any]:
        w = m.sum((-1, -2))
        cx = (m * xs).sum((-1, -2)) / (w + 1e-6)
        cy = (m * ys).sum((-1, -2)) / (w + 1e-6)
        return cx, cy, w / (w + 1.0)


class SimccModel(_DotFinder):
    def __init__(self, width: int = 192, height: int = 256, split: float = 2.0, k_out: int = K) -> None:
        super().__init__(RTMPOSE_MEAN, RTMPOSE_STD, False, width, height)
        self.register_buffer("bx", (torch.arange(int(width * split), dtype=torch.float32) / split).view(1, 1, -1))
        self.register_buffer("by", (torch.arange(int(height * split), dtype=torch.float32) / split).view(1, 1, -1))
        self.k_out = k_out

    def forward(self, x: Any) -> tuple[Any, Any]:
        cx, cy, conf = self.centroid(self.masks(x), self.xs, self.ys)
        sx = conf.unsqueeze(-1) * torch.exp(-((self.bx - cx.unsqueeze(-1)) ** 2) / 0.5)
        sy = conf.unsqueeze(-1) * torch.exp(-((self.by - cy.unsqueeze(-1)) ** 2) / 0.5)
        return sx[:, : self.k_out], sy[:, : self.k_out]


class OneStageModel(_DotFinder):
    """8 candidate slots; slot n looks at vertical stripe n // 2 of the input (4 stripes), so
    every person gives two candidates, the odd one with a slightly lower score (NMS removes it)."""

    def __init__(self, layout: str, width: int = 640, height: int = 640) -> None:
        if layout == "yolo_pose":
            super().__init__((0.0, 0.0, 0.0), (255.0, 255.0, 255.0), False, width, height)
        else:
            super().__init__((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), True, width, height)
        self.layout = layout
        stripe = torch.zeros(8, 1, 1, width)
        for n in range(8):
            m = n // 2
            stripe[n, :, :, m * width // 4 : (m + 1) * width // 4] = 1.0
        self.register_buffer("stripe", stripe.view(1, 8, 1, 1, width))
        self.register_buffer("penalty", torch.tensor([1.0 - 0.05 * (n % 2) for n in range(8)]).view(1, 8))

    def forward(self, x: Any) -> Any:
        m = self.masks(x).unsqueeze(1) * self.stripe  # (B, 8, K, H, W)
        cx, cy, vis = self.centroid(m, self.xs.unsqueeze(1), self.ys.unsqueeze(1))  # (B, 8, K)
        present = (vis > 0.5).float()
        score = vis.mean(-1) * self.penalty  # (B, 8)
        x0 = (cx + (1 - present) * 1e4).min(-1).values - 8
        x1 = (cx - (1 - present) * 1e4).max(-1).values + 8
        y0 = (cy + (1 - present) * 1e4).min(-1).values - 8
        y1 = (cy - (1 - present) * 1e4).max(-1).values + 8
        kps = torch.stack([cx, cy, vis], -1)  # (B, 8, K, 3)
        if self.layout == "yolo_pose":
            rows = torch.cat(
                [torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, score], -1), kps.flatten(2)], -1
            )
            return rows.transpose(1, 2)  # (B, 5 + 3K, 8)
        return torch.stack([x0, y0, x1, y1, score], -1), kps


class BadInputModel(torch.nn.Module):
    def forward(self, x: Any) -> tuple[Any, Any]:
        return x.sum((2, 3)).unsqueeze(-1).expand(-1, K, 384), x.sum((2, 3)).unsqueeze(-1).expand(-1, K, 512)


def export(
    model: torch.nn.Module, path: Path, shape: tuple[int, ...], outputs: list[str], *, dynamic_batch: bool
) -> Path:
    axes = {"input": {0: "batch"}, **{o: {0: "batch"} for o in outputs}} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="You are using the legacy TorchScript-based ONNX export", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")  # its own deprecations
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(model.eval(), (torch.zeros(shape),), str(path), input_names=["input"], output_names=outputs,
                          dynamic_axes=axes, opset_version=17, dynamo=False)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("onnx_models")
    return {
        "simcc": export(SimccModel(), d / "simcc.onnx", (1, 3, 256, 192), ["simcc_x", "simcc_y"], dynamic_batch=True),
        "simcc_static": export(
            SimccModel(), d / "simcc_static.onnx", (1, 3, 256, 192), ["simcc_x", "simcc_y"], dynamic_batch=False
        ),
        "simcc_k5": export(
            SimccModel(k_out=5), d / "simcc_k5.onnx", (1, 3, 256, 192), ["simcc_x", "simcc_y"], dynamic_batch=False
        ),
        "yolo_pose": export(
            OneStageModel("yolo_pose"), d / "yolo_pose.onnx", (1, 3, 640, 640), ["output0"], dynamic_batch=False
        ),
        "rtmo": export(
            OneStageModel("rtmo"), d / "rtmo.onnx", (1, 3, 640, 640), ["dets", "keypoints"], dynamic_batch=False
        ),
        "bad_input": export(
            BadInputModel(), d / "bad_input.onnx", (1, 1, 64, 64), ["simcc_x", "simcc_y"], dynamic_batch=False
        ),
    }


def draw(image: np.ndarray, kps: np.ndarray) -> None:
    for (x, y), c in zip(kps, COLORS, strict=True):
        xi, yi = round(x), round(y)
        image[yi - DOT : yi + DOT + 1, xi - DOT : xi + DOT + 1] = c.astype(np.uint8)


def person(rng: np.random.Generator, x0: float, y0: float, w: float, h: float) -> np.ndarray:
    """17 integer keypoints on a jittered 4 x 5 grid inside the box (dots never touch)."""
    cells = [(i, j) for j in range(5) for i in range(4)][:K]
    pts = np.array([(x0 + (i + 0.5) * w / 4, y0 + (j + 0.5) * h / 5) for i, j in cells])
    return np.round(pts + rng.uniform(-3, 3, pts.shape))


def image_spec(name: str, h: int, w: int) -> StreamSpec:
    return StreamSpec(
        name=name, kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(h, w, 3))}, rate_hz=30
    )


def boxes_spec(name: str) -> StreamSpec:
    return StreamSpec(
        name=name,
        kind=FrameKind.BOXES,
        ragged=True,
        fields={"boxes": FieldSpec(dtype="float32", shape=(4,)), "score": FieldSpec(dtype="float32")},
    )


def make(specs: list[StreamSpec], **params: Any) -> OnnxKeypoints:
    ctx = StageContext(
        "kp",
        inputs=specs,
        calibration=RigCalibration(),
        skeletons=SkeletonRegistry(builtin_skeletons()),
        config_path="stages[3]",
    )
    return OnnxKeypoints(OnnxKeypoints.Params.model_validate(params), ctx)


def frameset(frames: dict[str, dict[str, np.ndarray]]) -> FrameSet:
    return FrameSet(0, 0, 0, {n: Frame(n, 0, 0, 0, d) for n, d in frames.items()}, tuple(sorted(frames)))


def match(found: np.ndarray, truth: np.ndarray) -> float:
    """Largest keypoint error (px) of the found person nearest to ``truth``."""
    errs = [np.abs(f[:, :2] - truth).max() for f in found]
    return float(min(errs))


# -- SimCC (RTMPose) ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["simcc", "simcc_static"])
def test_simcc_top_down_round_trip(models: dict[str, Path], model: str) -> None:
    rng = np.random.default_rng(1)
    img0 = np.zeros((480, 640, 3), np.uint8)
    truth0 = person(rng, 260, 90, 140, 300)
    draw(img0, truth0)
    img1 = np.zeros((480, 640, 3), np.uint8)
    a, b = person(rng, 40, 40, 160, 300), person(rng, 380, 120, 180, 320)
    draw(img1, a)
    draw(img1, b)
    boxes1 = np.array([[30, 30, 210, 350], [370, 110, 570, 450]], np.float32)
    specs = [
        image_spec("cam0/image", 480, 640),
        image_spec("cam1/image", 480, 640),
        boxes_spec("cam0/boxes"),
        boxes_spec("cam1/boxes"),
    ]
    est = make(specs, model_path=str(models[model]), family="simcc", boxes="stream")
    out = est.process(frameset({
        "cam0/image": {"image": img0},
        "cam1/image": {"image": img1},
        "cam0/boxes": {"boxes": np.array([[250, 80, 410, 400]], np.float32), "score": np.array([0.9], np.float32)},
        "cam1/boxes": {"boxes": boxes1, "score": np.array([0.8, 0.7], np.float32)},
    }))  # fmt: skip
    k0, k1 = out["cam0/keypoints2d"]["keypoints"], out["cam1/keypoints2d"]["keypoints"]
    assert k0.shape == (1, K, 3) and k1.shape == (2, K, 3)
    assert match(k0, truth0) < 1.0
    assert match(k1, a) < 1.0 and match(k1, b) < 1.0
    assert (k0[..., 2] > 0.5).all()  # peak height: the weight-derived confidence x the sub-bin offset
    assert out["cam1/keypoints2d"]["score"].tolist() == pytest.approx([0.8, 0.7])
    assert est.summary()["model_calls"] == (1 if model == "simcc" else 3)


def test_simcc_full_image_box(models: dict[str, Path]) -> None:
    rng = np.random.default_rng(2)
    img = np.zeros((480, 640, 3), np.uint8)
    truth = person(rng, 200, 60, 240, 360)
    draw(img, truth)
    est = make([image_spec("cam0/image", 480, 640)], model_path=str(models["simcc"]), family="simcc")
    kp = est.process(frameset({"cam0/image": {"image": img}}))["cam0/keypoints2d"]["keypoints"]
    # the whole 640x480 image is squeezed into 192x256 (0.3 px per px): a looser bound
    assert match(kp, truth) < 2.5


def test_simcc_decoding_reference() -> None:
    sx = np.zeros((1, 2, 20))
    sy = np.zeros((1, 2, 10))
    sx[0, 0, 7], sy[0, 0, 3] = 0.8, 0.6
    locs, score = decode_simcc(sx, sy, 2.0)
    assert locs[0, 0].tolist() == [3.5, 1.5] and score[0, 0] == pytest.approx(0.6)
    assert np.isnan(locs[0, 1]).all() and score[0, 1] == 0.0  # all-zero codes: missing


def test_topdown_crop_keeps_the_aspect_ratio() -> None:
    # a 100x300 box, padded by 1.25 and widened to 192:256 -> 281.25 x 375, isotropic scale
    center, scale = box_to_center_scale(np.array([50.0, 20.0, 150.0, 320.0]), aspect_w_over_h=192 / 256, padding=1.25)
    assert center.tolist() == [100.0, 170.0] and scale.tolist() == pytest.approx([281.25, 375.0])
    A = topdown_affine(center, scale, (192, 256))
    assert A[0, 0] == pytest.approx(A[1, 1]) and A[0, 1] == 0 and A[1, 0] == 0
    assert (A[:, :2] @ center + A[:, 2]).tolist() == pytest.approx([96.0, 128.0])
    # a wide box is heightened instead
    _, wide = box_to_center_scale(np.array([0.0, 0.0, 400.0, 100.0]), aspect_w_over_h=0.75, padding=1.0)
    assert wide.tolist() == pytest.approx([400.0, 400.0 / 0.75])


def test_letterbox_conventions() -> None:
    img = np.full((600, 800, 3), 7, np.uint8)
    centred, lb = letterbox(img, (640, 640), center=True)  # YOLO: centred
    assert (lb.ratio, lb.pad_x, lb.pad_y) == (0.8, 0, 80)
    assert (centred[:80] == 114).all() and (centred[80:560] == 7).all() and (centred[560:] == 114).all()
    top, lb2 = letterbox(img, (640, 640), center=False)  # RTMO: top-left
    assert (lb2.pad_x, lb2.pad_y) == (0, 0) and (top[:480] == 7).all() and (top[480:] == 114).all()
    assert lb.to_image(np.array([[320.0, 320.0]])).tolist() == [[400.0, 300.0]]


# -- one-stage: YOLO-pose and RTMO ---------------------------------------------------------------


@pytest.mark.parametrize("family", ["yolo_pose", "rtmo"])
def test_one_stage_letterbox_round_trip_with_nms(models: dict[str, Path], family: str) -> None:
    rng = np.random.default_rng(3)
    img = np.zeros((600, 800, 3), np.uint8)  # letterboxed by 0.8 into 640x640
    a, b = person(rng, 20, 80, 160, 400), person(rng, 420, 120, 160, 420)
    draw(img, a)
    draw(img, b)
    est = make([image_spec("cam0/image", 600, 800)], model_path=str(models[family]), family=family)
    out = est.process(frameset({"cam0/image": {"image": img}}))["cam0/keypoints2d"]
    kp = out["keypoints"]
    assert kp.shape == (2, K, 3), "NMS must keep one of each pair of duplicate candidates"
    assert match(kp, a) < 1.0 and match(kp, b) < 1.0
    assert (out["score"] > 0.9).all()
    boxes = out["boxes"]
    for truth in (a, b):
        i = int(np.argmin([np.abs(k[:, :2] - truth).max() for k in kp]))
        assert boxes[i, 0] < truth[:, 0].min() < truth[:, 0].max() < boxes[i, 2]
        assert boxes[i, 1] < truth[:, 1].min() < truth[:, 1].max() < boxes[i, 3]
    # max_people keeps the best
    est1 = make([image_spec("cam0/image", 600, 800)], model_path=str(models[family]), family=family, max_people=1)
    assert est1.process(frameset({"cam0/image": {"image": img}}))["cam0/keypoints2d"]["keypoints"].shape[0] == 1


def test_one_stage_empty_image(models: dict[str, Path]) -> None:
    est = make([image_spec("cam0/image", 600, 800)], model_path=str(models["yolo_pose"]), family="yolo_pose")
    out = est.process(frameset({"cam0/image": {"image": np.zeros((600, 800, 3), np.uint8)}}))["cam0/keypoints2d"]
    assert out["keypoints"].shape == (0, K, 3)


def test_nms_reference() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    assert nms(boxes, np.array([0.5, 0.8, 0.7]), 0.5).tolist() == [1, 2]


# -- errors ----------------------------------------------------------------------------------------


def test_missing_model_file_names_the_param(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        make([image_spec("cam0/image", 48, 64)], model_path=str(tmp_path / "nope.onnx"), family="simcc")
    assert info.value.field_path == "stages[3].params.model_path"
    assert "not found" in str(info.value)


def test_wrong_input_layout_names_expected_and_actual(models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError) as info:
        make([image_spec("cam0/image", 48, 64)], model_path=str(models["bad_input"]), family="simcc")
    assert info.value.field_path == "stages[3].params.model_path"
    msg = str(info.value)
    assert "(B, 3, H, W)" in msg and "(1, 1, 64, 64)" in msg


def test_wrong_output_layout_names_the_family(models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError) as info:  # 5 keypoints, skeleton coco17 has 17
        make([image_spec("cam0/image", 48, 64)], model_path=str(models["simcc_k5"]), family="simcc")
    assert info.value.field_path == "stages[3].params.family"
    assert "simcc_x (B, 17, 384)" in str(info.value) and "5" in str(info.value)
    with pytest.raises(ConfigError) as info2:  # a SimCC model declared as YOLO-pose
        make([image_spec("cam0/image", 48, 64)], model_path=str(models["simcc"]), family="yolo_pose")
    assert info2.value.field_path == "stages[3].params.family" and "(1, 56, N)" in str(info2.value)


def test_not_an_onnx_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="onnxruntime cannot load") as info:
        make([image_spec("cam0/image", 48, 64)], model_path=str(p), family="rtmo")
    assert info.value.field_path == "stages[3].params.model_path"


def test_boxes_stream_must_be_an_input(models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="cam0/boxes"):
        make([image_spec("cam0/image", 48, 64)], model_path=str(models["simcc"]), family="simcc", boxes="stream")


def test_missing_onnxruntime_says_what_to_install(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match="pip install onnxruntime"):
        make([image_spec("cam0/image", 48, 64)], model_path=str(models["simcc"]), family="simcc")


class TestOnnxKeypointsContract(EstimatorContract):
    estimator_class = OnnxKeypoints
    plugin_name = "onnx"
    model_file: Path

    @pytest.fixture(autouse=True)
    def _model(self, models: dict[str, Path]) -> None:
        type(self).params = {"model_path": str(models["rtmo"]), "family": "rtmo"}

    def input_specs(self) -> list[StreamSpec]:
        return [image_spec("cam0/image", 600, 800), image_spec("cam1/image", 600, 800)]

    def framesets(self) -> Sequence[FrameSet]:
        rng = np.random.default_rng(4)
        img = np.zeros((600, 800, 3), np.uint8)
        draw(img, person(rng, 20, 80, 160, 400))
        return [frameset({"cam0/image": {"image": img}, "cam1/image": {"image": img[:, ::-1].copy()}})]
