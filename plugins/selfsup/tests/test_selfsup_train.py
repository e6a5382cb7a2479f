"""Training (the loss falls), checkpoints (weights_only, versioned, refused for another skeleton or
camera count), the commands, and the selfsup.fusion estimator in a rig in place of multiperson."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sensorfusion_selfsup._checkpoint import FORMAT, load_checkpoint
from sensorfusion_selfsup._infer import fuse_recording
from sensorfusion_selfsup._loading import load_session
from sensorfusion_selfsup._train import TrainSettings, train

from sensorfusion import ConfigError
from sensorfusion.cli import main as cli_main
from sensorfusion.store import Session

_spec = importlib.util.spec_from_file_location("_selfsup_conftest", Path(__file__).with_name("conftest.py"))
assert _spec and _spec.loader
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

VIEWS3 = ["cam0", "cam1", "cam2"]


@pytest.fixture(scope="module")
def trained(sim_session: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, float]]]:
    torch.set_num_threads(1)
    rec = load_session(sim_session, views=VIEWS3, identities=True)
    s = TrainSettings(epochs=6, batch_chunks=4, chunk_frames=16, min_steps_per_epoch=6, seed=1, lr=3e-3)
    res = train([rec], s)
    path = res.checkpoint.save(tmp_path_factory.mktemp("model") / "m.pt")
    return path, res.history


def test_a_tiny_model_learns_the_loss_falls(trained: tuple[Path, list[dict[str, float]]]) -> None:
    _, history = trained
    assert len(history) == 6
    first, last = history[0], history[-1]
    assert last["total"] < 0.85 * first["total"], (first, last)
    assert last["reprojection"] < first["reprojection"]


def test_checkpoint_is_plain_and_versioned(trained: tuple[Path, list[dict[str, float]]], tmp_path: Path) -> None:
    path, _ = trained
    doc = torch.load(str(path), weights_only=True)  # tensors and plain data only
    assert doc["format"] == FORMAT and doc["views"] == VIEWS3 and doc["skeleton"]["name"] == "coco17"
    assert all(isinstance(v, torch.Tensor) for v in doc["state_dict"].values())
    assert doc["train"]["steps"] > 0 and doc["train"]["history"]
    ck = load_checkpoint(path)
    assert ck.num_views == 3 and ck.model.config.num_joints == 17
    bad = tmp_path / "other.pt"
    torch.save({"format": "something-else/9", "state_dict": {}}, str(bad))
    with pytest.raises(ConfigError, match="not a selfsup model"):
        load_checkpoint(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a loadable selfsup checkpoint"):
        load_checkpoint(junk)


def test_model_for_another_camera_count_or_skeleton_is_refused(
    trained: tuple[Path, list[dict[str, float]]], sim_session: Path
) -> None:
    ck = load_checkpoint(trained[0])
    rec4 = load_session(sim_session, identities=True)
    with pytest.raises(ConfigError, match=r"trained for 3 cameras \(cam0, cam1, cam2\).*has 4") as e:
        fuse_recording(ck, rec4, tier="numpy")
    assert e.value.field_path == "--model"
    from dataclasses import replace

    from sensorfusion.plugins import get_plugin_host

    rec3 = load_session(sim_session, views=VIEWS3, identities=True)
    other = replace(rec3, skeleton=get_plugin_host().skeletons.get("h36m17"))
    with pytest.raises(ConfigError, match="trained on skeleton coco17"):
        fuse_recording(ck, other, tier="numpy")


def test_fused_tracks_cover_every_frame(trained: tuple[Path, list[dict[str, float]]], sim_session: Path) -> None:
    ck = load_checkpoint(trained[0])
    rec = load_session(sim_session, views=VIEWS3, identities=True)
    est = fuse_recording(ck, rec, tier="numpy")
    assert len(est) == len(rec.tracks)
    for e, t in zip(est, rec.tracks, strict=True):
        assert e.joints.shape == (t.num_frames, 17, 3) and np.isfinite(e.joints).all()
        assert e.views.max() <= 3 and e.status.dtype == np.int8
    # causal and offline differ, both finite
    est_c = fuse_recording(ck, rec, tier="numpy", causal=True)
    assert np.isfinite(est_c[0].joints).all() and not np.allclose(est_c[0].joints, est[0].joints)


def test_commands_train_eval_fuse(sim_session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "cli.pt"
    args = ["selfsup", "train", str(sim_session), "--views", "cam0,cam1,cam2", "--identities", "--epochs", "2",
            "--min-steps", "2", "--batch", "3", "--chunk", "12", "--out", str(model), "--json", "--quiet"]  # fmt: skip
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["steps"] >= 4 and len(out["history"]) == 2 and model.is_file()
    assert cli_main(["selfsup", "eval", str(sim_session), "--identities", "--model", str(model), "--json", "--quiet",
                     "--tier", "numpy"]) == 0  # fmt: skip
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    names = [m["name"] for m in ev["methods"]]
    assert names[:2] == ["weighted DLT", "robust"] and names[-1] == "selfsup"
    assert names[2].startswith("robust + ") and ev["common"]["joints"] > 1000
    assert all(np.isfinite(m["mpjpe_mm"]) for m in ev["methods"])
    trc = tmp_path / "out.trc"
    assert cli_main(["selfsup", "fuse", str(sim_session), "--identities", "--model", str(model), "--out", str(trc),
                     "--quiet"]) == 0  # fmt: skip
    files = sorted(tmp_path.glob("out_P*.trc"))
    assert len(files) == 2 and files[0].read_text().splitlines()[2].split("\t")[3] == "17"
    js = tmp_path / "out.json"
    assert cli_main(["selfsup", "fuse", str(sim_session), "--identities", "--model", str(model), "--out", str(js),
                     "--quiet"]) == 0  # fmt: skip
    doc = json.loads(js.read_text())
    assert doc["skeleton"] == "coco17" and len(doc["tracks"]) == 2


def test_commands_report_bad_input_with_exit_2(
    sim_session: Path, tmp_path: Path, trained: tuple[Path, list[dict[str, float]]], capsys: pytest.CaptureFixture[str]
) -> None:
    only_gt = helpers.copy_session(sim_session, tmp_path / "only_gt.zarr", drop=("estimates",))
    assert cli_main(["selfsup", "train", str(only_gt), "--out", str(tmp_path / "x.pt"), "--quiet"]) == 2
    assert "no 2D keypoint streams" in capsys.readouterr().err
    nocal = helpers.copy_session(sim_session, tmp_path / "nocal.zarr", no_calibration=True)
    assert cli_main(["selfsup", "train", str(nocal), "--out", str(tmp_path / "x.pt"), "--quiet"]) == 2
    assert "no camera calibration" in capsys.readouterr().err
    # a 3-camera model on 4 cameras
    assert cli_main(["selfsup", "fuse", str(sim_session), "--views", "cam0,cam1,cam2,cam3", "--model",
                     str(trained[0]), "--out", str(tmp_path / "o.json"), "--quiet"]) == 2  # fmt: skip
    assert "trained for 3 cameras" in capsys.readouterr().err
    assert cli_main(["selfsup", "train", str(sim_session), "--epochs", "0", "--out", str(tmp_path / "x.pt")]) == 2
    assert "--epochs" in capsys.readouterr().err
    assert cli_main(["selfsup", "eval", str(sim_session), "--model", str(tmp_path / "missing.pt")]) == 2
    assert "no such model file" in capsys.readouterr().err
    assert cli_main(["selfsup", "train", "--out", str(tmp_path / "x.pt")]) == 2
    assert "at least one SESSION" in capsys.readouterr().err


def test_estimator_replaces_multiperson_in_a_rig(trained: tuple[Path, list[dict[str, float]]], tmp_path: Path) -> None:
    """The same rig with ``selfsup.fusion`` where ``multiperson`` was: same output stream and fields,
    people associated without ids, scored by the mpjpe sink."""
    from sensorfusion.run import main as run_main

    root = Path(__file__).resolve().parents[3]
    rig = yaml.safe_load((root / "examples" / "selfsup_sim.yaml").read_text())
    rig["sensors"][0]["params"].update({"width": 320, "height": 240, "people": 2})
    for st in rig["stages"]:
        if st["estimator"] == "selfsup.fusion":
            st["params"]["model"] = str(trained[0])
            st["params"]["tier"] = "numpy"
    rig["stages"].append({"id": "multi", "estimator": "multiperson", "inputs": ["cam[012]/keypoints2d"],
                          "params": {"birth_hits": 1}})  # fmt: skip
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(rig))
    out = tmp_path / "s.zarr"
    assert run_main([str(path), "--fast", "--duration", "1.5", "--out", str(out), "--quiet"]) == 0
    s = Session.open(out)
    est = s.estimates()
    a, b = est["fusion:fusion/skeleton3d"].spec, est["multi:multi/skeleton3d"].spec
    assert a.fields == b.fields and a.kind == b.kind and a.skeleton == b.skeleton
    frames = list(s.read("fusion:fusion/skeleton3d"))
    assert len(frames) >= 40
    assert max(len(f["person_id"]) for f in frames) == 2
    assert all(np.isfinite(f["joints"]).all() for f in frames)
    summary = s.summary
    assert summary["estimators"]["fusion"]["framesets"] == len(frames)
    assert summary["sinks"]["mpjpe"]["matched_person_frames"] > 50
