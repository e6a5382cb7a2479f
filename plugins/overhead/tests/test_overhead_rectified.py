"""``overhead.rectified``: upright keypoint estimators run in virtual views of a fisheye image."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_overhead import (
    DetectionAP,
    OverheadCamera,
    RectifiedDetector,
    RectifiedParams,
    localise_detections,
    rbox_ends,
    virtual_views,
)

from sensorfusion import ConfigError, FieldSpec, Frame, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import (
    CeilingMount,
    KannalaBrandtCamera,
    RigCalibration,
    SensorCalibration,
    SkeletonRegistry,
    builtin_skeletons,
)

REG = SkeletonRegistry(builtin_skeletons())


def _camera(size: int = 480) -> tuple[KannalaBrandtCamera, RigCalibration]:
    f = 0.98 * size / 2 / math.radians(95.0)
    cam = KannalaBrandtCamera(width=size, height=size, fx=f, fy=f, cx=(size - 1) / 2, cy=(size - 1) / 2)
    mount = CeilingMount(height_m=3.0, position_m=(0.5, -0.2), yaw_rad=0.3)
    return cam, RigCalibration(
        sensors={"ceil0": SensorCalibration(camera=cam, world_from_sensor=mount.world_from_sensor())}
    )


def _image_spec(size: int = 480) -> StreamSpec:
    return StreamSpec(
        name="ceil0/image",
        kind=FrameKind.IMAGE,
        fields={"image": FieldSpec(dtype="uint8", shape=(size, size, 3))},
        rate_hz=10,
    )


def test_virtual_views_look_around_the_nadir_with_world_up_up() -> None:
    _, cal = _camera()
    oc = OverheadCamera.from_calibration(cal, "ceil0")
    views = virtual_views(oc, views=6, elevation_rad=math.radians(50), centre_view=True)
    assert len(views) == 7
    for v in views[:6]:
        r = v.world_from_view.matrix[:3, :3]
        axis = r[:, 2]
        assert math.degrees(math.acos(-axis[2])) == pytest.approx(50.0)
        # the view's image y axis (down) has no upward component: people stand upright in it
        assert r[2, 1] < 0 and abs(r[:, 0][2]) < 1e-12
        # a world point on the view's axis maps to the view's centre and to the fisheye pixel of that point
        p = oc.centre_m + 2.0 * axis
        fish = oc.world_to_pixels(p[None])
        assert v.to_fisheye(oc, np.array([[v.pinhole.cx, v.pinhole.cy]])) == pytest.approx(fish, abs=1e-6)
    # views are 60 degrees apart in azimuth
    az = [math.atan2(v.world_from_view.matrix[1, 2], v.world_from_view.matrix[0, 2]) for v in views[:6]]
    steps = np.diff(np.unwrap(az))
    assert steps == pytest.approx(np.full(5, math.radians(60.0)))


def test_with_the_simulated_keypoint_detector_on_a_simulated_ceiling_camera() -> None:
    sim = pytest.importorskip("sensorfusion_sim")
    from sensorfusion import DriverContext

    p = sim.SimRigParams(cameras=0, ceiling_cameras=1, people=6, room_m=(8.0, 6.0),
                         ceiling={"fov_deg": 190, "positions_m": [[-1.0, 0.0]], "width": 384, "height": 384})  # fmt: skip
    drv = sim.SimRigDriver(p, DriverContext(sensor_id="sim", seed=21, realtime=False))
    specs = {s.name: s for s in drv.streams()}
    ctx = StageContext("rect", [specs["ceil0/image"], specs["gt/skeleton3d"]], drv.calibration(), REG, seed=21)
    det = RectifiedDetector(
        RectifiedParams(estimator={"name": "sim.keypoints2d", "params": {"identities": False}}), ctx
    )
    outs = {s.name: s for s in det.outputs()}
    assert set(outs) == {"ceil0/rboxes", "ceil0/keypoints2d"}
    ap = DetectionAP()
    feet_err = []
    for i in range(0, 150, 15):
        fr = {f.stream: f for f in drv.frames_at(i)}
        fs = FrameSet(i, fr["gt/floor"].t_sensor_ns, 0, dict(fr))
        out = det.process(fs)
        for name, data in out.items():
            outs[name].validate_frame(Frame(name, 0, 0, 0, data))
        r, g = out["ceil0/rboxes"], fr["ceil0/gt_rboxes"]
        ap.add(r["rbox"], r["score"], g["rbox"], g["visible_fraction"])
        # the mapped mid-ankle lies near a true mid-ankle pixel
        for fp in r["feet_px"][np.all(np.isfinite(r["feet_px"]), axis=1)]:
            feet_err.append(np.min(np.hypot(*(g["feet_px"] - fp).T)))
    assert ap.ap() is not None and ap.ap() > 0.75
    assert np.median(feet_err) < 4.0
    s = det.summary()
    assert s["merged"] > 0 and s["inner"]["views"] == 10 * 9


class _DotPose:
    """A YOLO-pose-layout model (Ultralytics export: (1, 5 + 3K, N)) that finds a red dot (the head:
    face, shoulders, arms) and a blue dot (the feet: hips and knees between, ankles at the dot)."""

    @staticmethod
    def build(size: int) -> object:
        torch = pytest.importorskip("torch")

        class M(torch.nn.Module):  # type: ignore[misc,name-defined]
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                img = x * 255.0
                r, g, b = img[0, 0], img[0, 1], img[0, 2]
                ys = torch.arange(size, dtype=torch.float32).view(-1, 1).expand(size, size) + 0.5
                xs = torch.arange(size, dtype=torch.float32).view(1, -1).expand(size, size) + 0.5
                red = ((r > 180) & (g < 80) & (b < 80)).float()
                blue = ((b > 180) & (r < 80) & (g < 80)).float()
                nr, nb = red.sum(), blue.sum()
                hx, hy = (red * xs).sum() / nr.clamp(min=1), (red * ys).sum() / nr.clamp(min=1)
                fx, fy = (blue * xs).sum() / nb.clamp(min=1), (blue * ys).sum() / nb.clamp(min=1)
                score = ((nr > 3) & (nb > 3)).float() * 0.9
                kps = []
                for k in range(17):
                    t = 0.0 if k <= 10 else (0.45 if k <= 12 else (0.75 if k <= 14 else 1.0))
                    kps += [hx + t * (fx - hx), hy + t * (fy - hy), score]
                x0, x1 = torch.minimum(hx, fx), torch.maximum(hx, fx)
                y0, y1 = torch.minimum(hy, fy), torch.maximum(hy, fy)
                row = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0 + 10, y1 - y0 + 10, score, *kps])
                return torch.stack([row, torch.zeros_like(row)], dim=1)[None]  # (1, 56, 2)

        return M()


def test_with_an_onnx_keypoint_model_on_real_pixels(tmp_path: Path) -> None:
    """The whole pixel path: remap into the views, a real ONNX model (through onnx.keypoints), the way back."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("sensorfusion_onnx")
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "dots.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_DotPose.build(320).eval(), (torch.zeros(1, 3, 320, 320),), str(path), input_names=["images"],
                          output_names=["output0"], opset_version=17, dynamo=False)  # fmt: skip
    _, cal = _camera()
    oc = OverheadCamera.from_calibration(cal, "ceil0")
    # floor positions 120 degrees apart around the camera: the toy model sees one person per view
    az, dist = np.radians([10.0, 130.0, 250.0]), np.array([2.5, 2.0, 3.0])
    people = oc.centre_m[:2] + np.column_stack([dist * np.cos(az), dist * np.sin(az)])
    img = np.full((480, 480, 3), 100, np.uint8)
    feet_px = oc.floor_to_pixels(people, 0.07)
    head_px = oc.floor_to_pixels(people, 1.65)
    for f, h in zip(feet_px, head_px, strict=True):
        cv2.circle(img, (round(h[0]), round(h[1])), 5, (255, 0, 0), -1)
        cv2.circle(img, (round(f[0]), round(f[1])), 5, (0, 0, 255), -1)
    ctx = StageContext("rect", [_image_spec()], cal, REG, seed=0)
    upright = {
        "name": "onnx.keypoints",
        "params": {"model_path": str(path), "family": "yolo_pose", "score_threshold": 0.5},
    }
    params = RectifiedParams(estimator=upright, views=8, elevation_deg=50, view_fov_deg=80)
    det = RectifiedDetector(params, ctx)
    fs = FrameSet(0, 0, 0, {"ceil0/image": Frame("ceil0/image", 0, 0, 0, {"image": img})})
    out = det.process(fs)["ceil0/rboxes"]
    assert len(out["rbox"]) == 3  # each seen in one or two views, merged
    for k, person in enumerate(people):
        j = int(np.argmin(np.hypot(*(out["feet_px"] - feet_px[k]).T)))
        assert np.hypot(*(out["feet_px"][j] - feet_px[k])) < 2.0
        # the box's top is the head end, its bottom the feet end
        top, bottom = rbox_ends(out["rbox"][j : j + 1].astype(float))
        assert np.hypot(*(top[0] - head_px[k])) < np.hypot(*(bottom[0] - head_px[k]))
        est = localise_detections(oc, out["rbox"][j : j + 1], feet_px=out["feet_px"][j : j + 1])
        assert np.hypot(*(est.position_m[0] - person)) < 0.1


def test_bad_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _, cal = _camera()
    ctx = StageContext("rect", [_image_spec()], cal, REG, seed=0, config_path="stages[0]")
    with pytest.raises(ConfigError) as exc:
        RectifiedDetector(RectifiedParams(estimator={"name": "no.such"}), ctx)
    assert exc.value.field_path == "stages[0].params.estimator.name"
    assert exc.value.choices and "sim.keypoints2d" in exc.value.choices
    pytest.importorskip("sensorfusion_onnx")
    with pytest.raises(ConfigError) as exc2:
        RectifiedDetector(
            RectifiedParams(estimator={"name": "onnx.keypoints", "params": {"family": "yolo_pose", "modelpath": "x"}}),
            ctx,
        )
    assert exc2.value.field_path.startswith("stages[0].params.estimator.params")
    # errors raised by the upright estimator itself name its params under ours
    with pytest.raises(ConfigError) as exc3:
        RectifiedDetector(
            RectifiedParams(
                estimator={"name": "onnx.keypoints", "params": {"family": "yolo_pose", "model_path": "/nope.onnx"}}
            ),
            ctx,
        )
    assert exc3.value.field_path == "stages[0].params.estimator.params.model_path"
    # an estimator that makes no keypoints
    import types

    from sensorfusion import Estimator, hookimpl
    from sensorfusion.plugins import PluginHost

    class Boxes(Estimator):
        name = "test.boxes"

        def outputs(self) -> list[StreamSpec]:
            return [
                StreamSpec(
                    name=f"{s.sensor}/boxes",
                    kind=FrameKind.BOXES,
                    ragged=True,
                    fields={"box": FieldSpec(dtype="float32", shape=(4,))},
                )
                for s in self.context.inputs
            ]

        def process(self, frameset: FrameSet) -> dict[str, dict[str, np.ndarray]]:
            return {}

    plugin = types.SimpleNamespace(sensorfusion_add_estimators=hookimpl(lambda: [Boxes]))
    host = PluginHost(autoload=False, extra_plugins=[("test_boxes", plugin)])
    monkeypatch.setattr("sensorfusion.plugins.get_plugin_host", lambda **_: host)
    with pytest.raises(ConfigError, match="no keypoints2d") as exc4:
        RectifiedDetector(RectifiedParams(estimator={"name": "test.boxes"}), ctx)
    assert exc4.value.field_path == "stages[0].params.estimator.name"
    # a pinhole ceiling camera is refused
    from sensorfusion.schema import PinholeCamera

    pin = PinholeCamera(width=480, height=480, fx=300.0, fy=300.0, cx=239.5, cy=239.5)
    bad = RigCalibration(
        sensors={
            "ceil0": SensorCalibration(camera=pin, world_from_sensor=CeilingMount(height_m=3.0).world_from_sensor())
        }
    )
    with pytest.raises(ConfigError, match="fisheye"):
        RectifiedDetector(
            RectifiedParams(estimator={"name": "test.boxes"}), StageContext("rect", [_image_spec()], bad, REG)
        )


def test_with_mediapipe_on_a_real_photo_seen_by_a_ceiling_camera() -> None:
    """A real person (the astronaut photo) pasted into a fisheye image as one virtual view would see
    it: BlazePose, run in the views through the registry, finds them, and their landmarks come back
    to the fisheye pixels where BlazePose's landmarks on the original photo map to."""
    pytest.importorskip("mediapipe")
    pytest.importorskip("sensorfusion_mediapipe")
    skimage_data = pytest.importorskip("skimage.data")
    cv2 = pytest.importorskip("cv2")
    photo = np.ascontiguousarray(skimage_data.astronaut())  # 512 x 512, upright
    size = 1024
    f = 0.98 * size / 2 / math.radians(95.0)
    cam = KannalaBrandtCamera(width=size, height=size, fx=f, fy=f, cx=(size - 1) / 2, cy=(size - 1) / 2)
    cal = RigCalibration(
        sensors={
            "ceil0": SensorCalibration(camera=cam, world_from_sensor=CeilingMount(height_m=3.0).world_from_sensor())
        }
    )
    oc = OverheadCamera.from_calibration(cal, "ceil0")
    params = RectifiedParams(estimator={"name": "mediapipe.pose", "params": {"detector": "none", "tracking": False}},
                             views=6, view_size=(512, 512), view_fov_deg=60.0, elevation_deg=50.0, centre_view=False)  # fmt: skip
    view = virtual_views(
        oc, views=6, elevation_rad=math.radians(50.0), fov_rad=math.radians(60.0), size=(512, 512), centre_view=False
    )[0]
    # paste: every fisheye pixel whose ray falls inside view 0 takes the photo's pixel there
    v, u = np.mgrid[0:size, 0:size].astype(np.float64)
    rays = oc.rays_world(np.column_stack([u.ravel(), v.ravel()])) @ oc.world_from_camera[:3, :3]  # fisheye frame
    in_view = rays @ view.fisheye_from_view  # view frame
    with np.errstate(invalid="ignore", divide="ignore"):
        pu = view.pinhole.fx * in_view[:, 0] / in_view[:, 2] + view.pinhole.cx
        pv = view.pinhole.fy * in_view[:, 1] / in_view[:, 2] + view.pinhole.cy
    ok = (in_view[:, 2] > 0) & (pu >= 0) & (pu <= 511) & (pv >= 0) & (pv <= 511)
    mx = np.where(ok, pu, -1).reshape(size, size).astype(np.float32)
    my = np.where(ok, pv, -1).reshape(size, size).astype(np.float32)
    fisheye = cv2.remap(photo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))
    spec = StreamSpec(
        name="ceil0/image",
        kind=FrameKind.IMAGE,
        fields={"image": FieldSpec(dtype="uint8", shape=(size, size, 3))},
        rate_hz=10,
    )
    det = RectifiedDetector(params, StageContext("rect", [spec], cal, REG))
    try:
        out = det.process(FrameSet(0, 0, 0, {"ceil0/image": Frame("ceil0/image", 0, 0, 0, {"image": fisheye})}))
    finally:
        det.close()
    kps = out["ceil0/keypoints2d"]["keypoints"]
    assert len(kps) >= 1
    # BlazePose on the photo itself, mapped to the fisheye image through the view
    from sensorfusion_mediapipe import MediaPipePose

    ref_spec = StreamSpec(
        name="ref/image",
        kind=FrameKind.IMAGE,
        fields={"image": FieldSpec(dtype="uint8", shape=photo.shape)},
        rate_hz=10,
    )
    ref = MediaPipePose(
        MediaPipePose.Params.model_validate({"detector": "none", "tracking": False}),
        StageContext("mp", [ref_spec], RigCalibration(), REG),
    )
    try:
        ref_kp = ref.process(FrameSet(0, 0, 0, {"ref/image": Frame("ref/image", 0, 0, 0, {"image": photo})}))[
            "ref/keypoints2d"
        ]["keypoints"][0]
    finally:
        ref.close()
    face_and_shoulders = list(range(13))  # nose .. shoulders: what the close-up shows clearly
    expected = view.to_fisheye(oc, ref_kp[face_and_shoulders, :2].astype(float))
    best = min(float(np.nanmedian(np.hypot(*(k[face_and_shoulders, :2] - expected).T))) for k in kps)
    assert best < 6.0  # fisheye pixels (the person spans ~300 of them)
