"""``overhead.onnx`` on models exported at test time whose outputs are known.

The models *measure* coloured rectangles in their input: they undo the normalisation, take
the pixels of each colour, and report the rectangle from the first and second moments of
those pixels (centre = mean, long axis = principal axis, sides = sqrt(12 x eigenvalue)), in
the model's input pixels. Rectangles drawn into an image of another size therefore come back
at their drawn place only if letterboxing, normalisation, decoding, un-letterboxing and the
pixel-origin convention are all right. Each rectangle is also emitted a second time, shifted
by one input pixel with a lower score (NMS must drop it), and a junk row scored below the
threshold is emitted (the threshold must drop it).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_overhead import (
    Letterbox,
    OnnxRotatedDetector,
    OnnxRotatedParams,
    decode_rotated,
    letterbox_image,
    polar_to_rbox,
    rbox_corners,
    rbox_iou,
)

from sensorfusion import ConfigError, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import RigCalibration, SkeletonRegistry, builtin_skeletons

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
cv2 = pytest.importorskip("cv2")

COLOURS = {"red": ((255, 30, 30), 0.9), "green": ((30, 255, 30), 0.8)}


class _Measure(torch.nn.Module):  # type: ignore[misc]
    def __init__(self, fmt: str, mean: tuple[float, ...], std: tuple[float, ...], size: int, bgr: bool) -> None:
        super().__init__()
        self.fmt = fmt
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.size = size
        self.bgr = bgr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img = x * self.std + self.mean
        if self.bgr:
            img = img[:, [2, 1, 0]]
        r, g, b = img[0, 0], img[0, 1], img[0, 2]
        ys = (
            torch.arange(self.size, dtype=torch.float32).view(-1, 1).expand(self.size, self.size) + 0.5
        )  # corner origin
        xs = torch.arange(self.size, dtype=torch.float32).view(1, -1).expand(self.size, self.size) + 0.5
        rows = []
        for mask, score in (((r > 200) & (g < 90) & (b < 90), 0.9), ((g > 200) & (r < 90) & (b < 90), 0.8)):
            m = mask.float()
            n = m.sum().clamp(min=1.0)
            cx = (m * xs).sum() / n
            cy = (m * ys).sum() / n
            cxx = (m * (xs - cx) ** 2).sum() / n
            cyy = (m * (ys - cy) ** 2).sum() / n
            cxy = (m * (xs - cx) * (ys - cy)).sum() / n
            theta = 0.5 * torch.atan2(2 * cxy, cxx - cyy)
            half = torch.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
            length = torch.sqrt(12 * ((cxx + cyy) / 2 + half))
            width = torch.sqrt(12 * ((cxx + cyy) / 2 - half).clamp(min=0.0))
            angle = theta * 180.0 / math.pi + 90.0  # the long side along the box's "top" axis
            s = torch.tensor(score) * (m.sum() > 10).float()
            for shift, sc in ((0.0, s), (1.0, s - 0.05)):
                if self.fmt == "rapid":
                    rows.append(torch.stack([cx + shift, cy, width, length, angle, sc]))
                else:
                    dx, dy = cx + shift - self.size / 2, cy - self.size / 2
                    rows.append(
                        torch.stack(
                            [torch.sqrt(dx**2 + dy**2), torch.atan2(dy, dx) * 180.0 / math.pi, width, length, sc]
                        )
                    )
        junk = [5.0, 5.0, 3.0, 3.0, 0.0, 0.1] if self.fmt == "rapid" else [5.0, 0.0, 3.0, 3.0, 0.1]
        rows.append(torch.tensor(junk))
        return torch.stack(rows)[None]


def _export(path: Path, module: torch.nn.Module, size: int, channels: int = 3) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.zeros(1, channels, size, size),), str(path), input_names=["images"],
                          output_names=["boxes"], opset_version=17, dynamo=False)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rotated_models")
    return {
        "rapid": _export(d / "rapid.onnx", _Measure("rapid", (0, 0, 0), (255, 255, 255), 256, False), 256),
        "loaf": _export(
            d / "loaf.onnx", _Measure("loaf", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375), 256, False), 256
        ),
        "rapid_bgr": _export(d / "rapid_bgr.onnx", _Measure("rapid", (10, 20, 30), (100, 100, 100), 256, True), 256),
    }


def _ctx(w: int, h: int) -> StageContext:
    spec = StreamSpec(
        name="ceil0/image",
        kind=FrameKind.IMAGE,
        fields={"image": FieldSpec(dtype="uint8", shape=(h, w, 3))},
        rate_hz=10,
    )
    return StageContext("det", [spec], RigCalibration(), SkeletonRegistry(builtin_skeletons()))


def _draw(w: int, h: int, boxes: dict[str, np.ndarray]) -> np.ndarray:
    img = np.full((h, w, 3), 90, np.uint8)
    for name, box in boxes.items():
        # corners in the SDK's pixel-centre convention -> OpenCV's fillPoly works on pixel centres too
        pts = rbox_corners(box[None])[0]
        cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], COLOURS[name][0], lineType=cv2.LINE_8, shift=4)
    return img


def _run(det: OnnxRotatedDetector, img: np.ndarray) -> dict[str, np.ndarray]:
    fs = FrameSet(0, 0, 0, {})
    from sensorfusion import Frame

    fs.frames["ceil0/image"] = Frame("ceil0/image", 0, 0, 0, {"image": img})
    return dict(det.process(fs)["ceil0/rboxes"])


@pytest.mark.parametrize("size", [(640, 480), (300, 520), (256, 256)])
def test_rapid_boxes_come_back_where_they_were_drawn(models: dict[str, Path], size: tuple[int, int]) -> None:
    w, h = size
    truth = {"red": np.array([0.3 * w, 0.4 * h, 0.06 * min(w, h) + 6, 0.25 * min(w, h) + 20, 35.0]),
             "green": np.array([0.7 * w, 0.65 * h, 0.05 * min(w, h) + 6, 0.2 * min(w, h) + 20, -110.0])}  # fmt: skip
    det = OnnxRotatedDetector(OnnxRotatedParams(model_path=str(models["rapid"]), format="rapid"), _ctx(w, h))
    img = _draw(w, h, truth)
    out = _run(det, img)
    assert len(out["rbox"]) == 2  # the duplicates suppressed, the junk below the threshold dropped
    assert out["score"].tolist() == pytest.approx([0.9, 0.8])
    for box, name in zip(out["rbox"], ("red", "green"), strict=True):
        iou = rbox_iou(box[None].astype(float), truth[name][None])[0, 0]
        assert iou > 0.85, (name, box, truth[name], iou)
        # the centre of the drawn pixels (image pixel centres at integers): unscaled, exact (a half-pixel
        # slip of the origin convention shows); rescaled, within the resampling's blur
        v, u = np.nonzero(np.all(img == COLOURS[name][0], axis=-1))
        assert np.hypot(u.mean() - box[0], v.mean() - box[1]) < (0.01 if size == (256, 256) else 0.6)
    assert det.summary() == {"images": 1, "people": 2, "below_threshold_or_invalid": 1, "suppressed": 2}


def test_loaf_polar_boxes_about_the_input_centre(models: dict[str, Path]) -> None:
    w, h = 600, 400
    centre = ((w - 1) / 2, (h - 1) / 2)
    truth = {
        "red": polar_to_rbox(np.array([[120.0, 30.0, 18.0, 70.0]]), centre)[0],
        "green": polar_to_rbox(np.array([[150.0, 200.0, 16.0, 60.0]]), centre)[0],
    }
    det = OnnxRotatedDetector(OnnxRotatedParams(model_path=str(models["loaf"]), format="loaf"), _ctx(w, h))
    out = _run(det, _draw(w, h, truth))
    assert len(out["rbox"]) == 2
    for box, name in zip(out["rbox"], ("red", "green"), strict=True):
        assert rbox_iou(box[None].astype(float), truth[name][None])[0, 0] > 0.85
        assert np.hypot(*(box[:2] - truth[name][:2])) < 1.0


def test_channel_order_and_statistics_are_applied(models: dict[str, Path]) -> None:
    w, h = 320, 240
    truth = {"red": np.array([100.0, 120.0, 14.0, 60.0, 10.0])}
    good = OnnxRotatedDetector(
        OnnxRotatedParams(
            model_path=str(models["rapid_bgr"]),
            format="rapid",
            channel_order="bgr",
            mean=(10, 20, 30),
            std=(100, 100, 100),
        ),
        _ctx(w, h),
    )
    out = _run(good, _draw(w, h, truth))
    assert len(out["rbox"]) == 1 and rbox_iou(out["rbox"][:1].astype(float), truth["red"][None])[0, 0] > 0.85
    # with the wrong channel order the red rectangle looks blue to the model: nothing found
    wrong = OnnxRotatedDetector(
        OnnxRotatedParams(model_path=str(models["rapid_bgr"]), format="rapid", mean=(10, 20, 30), std=(100, 100, 100)),
        _ctx(w, h),
    )
    assert len(_run(wrong, _draw(w, h, truth))["rbox"]) == 0


def test_letterbox_and_decoding_directly() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    out, lb = letterbox_image(img, (64, 64), centre=True, pad_value=7)
    assert out.shape == (64, 64, 3) and lb == Letterbox(0.32, 0.32, 0, 16)
    assert out[0, 0, 0] == 7 and out[40, 10, 0] == 0
    _, lb2 = letterbox_image(img, (64, 64), centre=False, pad_value=0)
    assert (lb2.pad_x, lb2.pad_y) == (0, 0)
    # a box at input (32, 32) corner coordinates, i.e. the middle of the letterboxed image
    boxes, _ = decode_rotated(np.array([[32.0, 32.0, 3.2, 6.4, 370.0, 0.5]]), "rapid", lb, (64, 64))
    assert boxes[0] == pytest.approx([99.5, 49.5, 10.0, 20.0, 10.0])
    radians, _ = decode_rotated(
        np.array([[32.0, 32.0, 3.2, 6.4, math.pi / 2, 0.5]]), "rapid", lb, (64, 64), angle_unit="rad"
    )
    assert radians[0, 4] == pytest.approx(90.0)


def test_bad_models_and_params_are_clear_errors(tmp_path: Path, models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="not found") as exc:
        OnnxRotatedDetector(OnnxRotatedParams(model_path=str(tmp_path / "none.onnx"), format="rapid"), _ctx(64, 64))
    assert exc.value.field_path.endswith("params.model_path")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load"):
        OnnxRotatedDetector(OnnxRotatedParams(model_path=str(junk), format="rapid"), _ctx(64, 64))
    # a RAPiD model read as LOAF: 6 columns where 5 are expected
    with pytest.raises(ConfigError, match="format loaf expects") as exc2:
        OnnxRotatedDetector(OnnxRotatedParams(model_path=str(models["rapid"]), format="loaf"), _ctx(64, 64))
    assert exc2.value.field_path.endswith("params.format") and exc2.value.choices == ["rapid", "loaf"]
    # an input that is not (1, 3, H, W)
    grey = _export(tmp_path / "grey.onnx", torch.nn.Conv2d(1, 6, 1), 8, channels=1)
    with pytest.raises(ConfigError, match=r"\(1, 3, H, W\)"):
        OnnxRotatedDetector(OnnxRotatedParams(model_path=str(grey), format="rapid"), _ctx(64, 64))
