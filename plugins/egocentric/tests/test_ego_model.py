"""The learned model: safe versioned checkpoints, refusing another skeleton, ONNX export, the torch
camera projections it samples features with, training data from sessions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sensorfusion_egocentric._data import concat_samples, samples_from_session
from sensorfusion_egocentric._model import FORMAT, load_model
from sensorfusion_egocentric._torch_camera import camera_param_tensor, f624_project, projection_for

from sensorfusion import ConfigError
from sensorfusion.geometry import project
from sensorfusion.schema import DoubleSphereCamera, Fisheye624Camera, KannalaBrandtCamera, builtin_skeletons

COCO = next(s for s in builtin_skeletons() if s.name == "coco17")


def test_training_samples_from_sessions(sim_sessions: list[Path]):
    parts = samples_from_session(sim_sessions[0])
    assert len(parts) == 1
    s = parts[0]
    assert s.skeleton == "coco17" and s.geometry.cameras == ("hmd0_left", "hmd0_right")
    assert s.keypoints.shape[1:] == (2, 17, 3) and len(s) > 60
    # the ground truth in the device frame really is the world ground truth seen from the true pose
    back = (
        np.einsum("nij,nkj->nki", s.world_from_device[:, :3, :3], s.joints_device) + s.world_from_device[:, None, :3, 3]
    )
    assert np.abs(back - s.joints_world).max() < 1e-5
    # the wearer's face is behind the cameras: never detected; the shoulders nearly always are
    seen = np.isfinite(s.keypoints[..., 0])
    assert not seen[..., :5].any() and seen[..., 5:7].mean() > 0.8
    both = concat_samples([p for path in sim_sessions for p in samples_from_session(path)])
    assert len(both.sessions) == 3 and set(both.source.tolist()) == {0, 1, 2}


def test_checkpoint_round_trip_is_weights_only(tiny_model: Path, sim_sessions: list[Path]):
    raw = torch.load(tiny_model, weights_only=True)  # tensors and plain data only: no pickled objects
    assert raw["format"] == FORMAT and isinstance(raw["meta"], str)
    assert all(isinstance(v, torch.Tensor) for v in raw["state_dict"].values())
    meta = json.loads(raw["meta"])
    assert meta["skeleton"] == "coco17" and meta["joints"] == list(COCO.joints)
    model = load_model(tiny_model, skeleton="coco17", joints=COCO.joints)
    again = load_model(tiny_model)
    kp = samples_from_session(sim_sessions[1])[0].keypoints[:20]
    a, sa = model.predict(kp)
    b, sb = again.predict(kp)
    assert np.array_equal(a, b) and np.array_equal(sa, sb)
    assert a.shape == (20, 17, 3) and np.isfinite(a).all() and (sa > 0).all()


def test_a_checkpoint_for_another_skeleton_is_refused(tiny_model: Path, tmp_path: Path):
    raw = torch.load(tiny_model, weights_only=True)
    meta = json.loads(raw["meta"])
    h36m = next(s for s in builtin_skeletons() if s.name == "h36m17")
    meta["skeleton"], meta["joints"] = "h36m17", list(h36m.joints)
    other = tmp_path / "h36m.pt"
    torch.save({**raw, "meta": json.dumps(meta)}, other)
    with pytest.raises(
        ConfigError, match="trained for skeleton 'h36m17' \\(17 joints\\), the inputs are 'coco17'"
    ) as e:
        load_model(other, skeleton="coco17", joints=COCO.joints, field_path="stages[3].params.model")
    assert e.value.field_path == "stages[3].params.model"


def test_foreign_or_unsafe_files_are_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="egocentric model not found"):
        load_model(tmp_path / "missing.pt")
    torch.save({"format": "sensorfusion-radar-pose-2", "state_dict": {}}, tmp_path / "radar.pt")
    with pytest.raises(ConfigError, match="not an egocentric model checkpoint"):
        load_model(tmp_path / "radar.pt")

    class Evil:  # an arbitrary object in the file: weights_only refuses to unpickle it
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("executed",))

    torch.save({"format": FORMAT, "state_dict": {}, "meta": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ConfigError, match="not a loadable egocentric model checkpoint"):
        load_model(tmp_path / "evil.pt")


def test_onnx_export_matches_torch(tiny_model: Path, sim_sessions: list[Path], tmp_path: Path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sensorfusion_egocentric._model import export_onnx

    model = load_model(tiny_model)
    path = tmp_path / "ego.onnx"
    export_onnx(model, path)
    kp = samples_from_session(sim_sessions[2])[0].keypoints[:7]
    ours, sigma = model.predict(kp)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    joints, log_sigma = sess.run(None, {"keypoints": kp.astype(np.float32)})
    assert np.abs(joints - ours).max() < 1e-4
    assert np.abs(np.exp(log_sigma) - sigma).max() < 1e-4


@pytest.mark.parametrize(
    "camera",
    [
        KannalaBrandtCamera(width=256, height=256, fx=81.5, fy=80.0, cx=127.5, cy=126.0, k1=0.02, k2=-0.01),
        DoubleSphereCamera(width=256, height=256, fx=70, fy=71, cx=127.5, cy=127.5, xi=-0.2, alpha=0.6),
        Fisheye624Camera.from_params(
            [
                241.7,
                320.6,
                242.6,
                -0.027,
                0.103,
                -0.073,
                0.012,
                0.0015,
                -0.0005,
                0.0019,
                0.0019,
                -0.0031,
                -0.0003,
                -0.0026,
                1.6e-05,
            ],
            width=640,
            height=480,
        ),
    ],
    ids=lambda c: c.model,
)
def test_torch_projections_match_the_core(camera: object):
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(-1, 1, (300, 2)), rng.uniform(0.05, 1.5, 300)]
    ref = project(camera, pts, tier="numpy")  # type: ignore[arg-type]
    fn = projection_for(camera.model)  # type: ignore[attr-defined]
    uv, ok = fn(camera_param_tensor(camera, torch.float64), torch.from_numpy(pts))
    good = np.isfinite(ref).all(-1)
    assert ok.numpy()[good].all()
    assert np.abs(uv.numpy()[good] - ref[good]).max() < 1e-6


def test_own_fisheye624_projection_is_finite_and_marks_invalid_rows():
    params = camera_param_tensor(Fisheye624Camera.from_params([200.0, 100, 100] + [0.0] * 12, width=200, height=200))
    pts = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [float("nan"), 0.0, 1.0], [1.0, 0.0, 0.0]])
    uv, ok = f624_project(params, pts)
    assert ok.tolist() == [True, False, False, True] and torch.isfinite(uv).all()
    assert torch.allclose(uv[3], torch.tensor([100 + 200 * np.pi / 2, 100.0]))  # 90 degrees off the axis


def test_the_train_command(sim_sessions: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    pytest.importorskip("onnx")
    from sensorfusion.cli import main as cli_main

    out, onnx = tmp_path / "m.pt", tmp_path / "m.onnx"
    args = ["egocentric", "train", *map(str, sim_sessions), "--out", str(out), "--epochs", "1", "--quiet", "--json"]
    assert cli_main([*args, "--onnx", str(onnx)]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["train_samples"] > 0 and len(record["history"]) == 1 and len(record["sessions"]) == 3
    assert load_model(out).joints == COCO.joints and onnx.stat().st_size > 0
    assert cli_main(["egocentric", "train", str(tmp_path / "nope.zarr"), "--out", str(out)]) == 2
    assert "is not a sensorfusion session" in capsys.readouterr().err
