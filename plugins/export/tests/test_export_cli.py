"""``sensorfusion export``: formats from --to or the suffix, the --json document, and bad
input answered with one line and exit 2, before anything is written."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sensorfusion import FieldSpec, Frame, FrameKind, RigCalibration, StreamSpec
from sensorfusion.cli import main as cli_main
from sensorfusion.store import SessionWriter


def _export(capsys, *args):
    code = cli_main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_format_from_the_suffix(session_path, tmp_path, capsys):
    for fmt in ("trc", "c3d", "bvh", "json", "csv"):
        code, out, err = _export(capsys, session_path, "--out", tmp_path / f"x.{fmt}", "--person", 0, "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["format"] == fmt and doc["person_ids"] == [0] and doc["frames"] > 10
        assert doc["streams"] == ["fusion:fusion/skeleton3d"] and doc["session"] == str(session_path)
        assert all(os.path.getsize(p) > 0 for p in doc["paths"])


def test_to_stream_options_and_default_out(session_path, tmp_path, capsys):
    code, out, err = _export(
        capsys,
        session_path,
        "--to",
        "c3d",
        "--stream",
        "gt/skeleton3d",
        "--option",
        "units=m",
        "--out",
        tmp_path / "g.bin",
    )
    assert code == 0, err
    assert "as c3d" in out and str(tmp_path / "g.bin") in out
    from sensorfusion_export import read_c3d_points

    labels, units, _, _ = read_c3d_points(tmp_path / "g.bin")
    assert units == "m" and len(labels) == 3 * 17
    # no --out: beside the session, named after it
    code, out, err = _export(capsys, session_path, "--to", "json", "--quiet", "--start", "0.1", "--stop", "0.3")
    assert code == 0 and out == "", err
    doc = json.loads(session_path.with_name("sim.json").read_text())
    times = [f["t_ns"] for f in doc["streams"][0]["frames"]]
    assert len(times) == 6 and times[0] >= 100_000_000 and times[-1] < 300_000_000


def _one_line_exit_2(code, out, err):
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_an_unknown_stream_lists_the_3d_streams(session_path, tmp_path, capsys):
    line = _one_line_exit_2(*_export(capsys, session_path, "--stream", "cam9/skeleton3d", "--out", tmp_path / "a.c3d"))
    assert "--stream" in line and "cam9/skeleton3d" in line
    assert "fusion:fusion/skeleton3d" in line and "gt/skeleton3d" in line and not (tmp_path / "a.c3d").exists()


def test_an_unknown_person_lists_the_ids(session_path, tmp_path, capsys):
    line = _one_line_exit_2(*_export(capsys, session_path, "--person", 42, "--out", tmp_path / "a.bvh"))
    assert "--person" in line and "42" in line and "0, 1, 2" in line
    assert not list(tmp_path.iterdir())


def test_unknown_format_and_suffix(session_path, tmp_path, capsys):
    line = _one_line_exit_2(*_export(capsys, session_path, "--to", "fbx", "--out", tmp_path / "a.fbx"))
    assert "unknown export format" in line and "bvh" in line and "c3d" in line
    line = _one_line_exit_2(*_export(capsys, session_path, "--out", tmp_path / "a.fbx"))
    assert "bvh (.bvh)" in line
    line = _one_line_exit_2(*_export(capsys, session_path, "--to", "c3d", "--option", "unit=mm"))
    assert "--option" in line and "units" in line
    line = _one_line_exit_2(
        *_export(capsys, session_path, "--to", "bvh", "--stream", "gt/skeleton3d", "--stream", "fusion/skeleton3d")
    )
    assert "one stream" in line


def test_unwritable_out_is_refused_before_the_work(session_path, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = _one_line_exit_2(*_export(capsys, session_path, "--out", blocker / "x.c3d"))
    assert "--out" in line
    line = _one_line_exit_2(*_export(capsys, session_path, "--to", "c3d", "--out", tmp_path))
    assert "folder" in line


def test_a_read_only_folder_is_refused(session_path, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who writes into read-only folders (root)")
        line = _one_line_exit_2(*_export(capsys, session_path, "--out", ro / "x.c3d"))
        assert "cannot write" in line
    finally:
        ro.chmod(0o700)


def test_a_session_without_3d_skeletons(tmp_path, capsys):
    path = tmp_path / "counts.zarr"
    spec = StreamSpec(name="a/value", kind=FrameKind.DEVICE_POSE, fields={"value": FieldSpec(dtype="int64")})
    w = SessionWriter(path, rig={"name": "counts"}, calibration=RigCalibration())
    w.add_stream(spec)
    for i in range(3):
        w.write(Frame("a/value", i * 1000, i * 1000, i, {"value": np.array(i, dtype=np.int64)}))
    w.close({})
    line = _one_line_exit_2(*_export(capsys, path, "--to", "bvh"))
    assert "no 3D skeleton stream" in line and "a/value (device_pose)" in line
    line = _one_line_exit_2(*_export(capsys, tmp_path / "missing.zarr", "--to", "bvh"))
    assert "no session there" in line


def test_opensim_missing_says_what_to_install(session_path, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "opensim" else real(name, *a))
    line = _one_line_exit_2(*_export(capsys, session_path, "--opensim", "--out", tmp_path / "o.trc"))
    assert "opensim" in line and "pip install sensorfusion-export[opensim]" in line
    assert not (tmp_path / "o.trc").exists()


def test_a_stream_with_nobody_in_it(tmp_path, capsys):
    from sensorfusion.fusion import skeleton3d_spec
    from sensorfusion.plugins import get_plugin_host

    sk = get_plugin_host().skeletons.get("coco17")
    spec = skeleton3d_spec("fusion/skeleton3d", sk)
    path = tmp_path / "empty.zarr"
    w = SessionWriter(path, rig={"name": "empty"}, calibration=RigCalibration())
    w.add_stream(spec, stage="fusion")
    for i in range(4):
        data = {
            "joints": np.zeros((0, 17, 3), np.float32),
            "person_id": np.zeros(0, np.int64),
            "reprojection_error_px": np.zeros((0, 17), np.float32),
            "views": np.zeros((0, 17), np.int8),
        }
        w.write(Frame(spec.name, i * 33_000_000, i * 33_000_000, i, data), stage="fusion")
    w.close({})
    line = _one_line_exit_2(*_export(capsys, path, "--to", "c3d"))
    assert "nobody to export" in line and "fusion:fusion/skeleton3d" in line
    # JSON still writes the (empty) frames
    code, out, err = _export(capsys, path, "--to", "json", "--json", "--out", tmp_path / "e.json")
    assert code == 0 and json.loads(out)["frames"] == 4, err


def test_a_third_party_exporter_runs_through_the_command(session_path, tmp_path, capsys, monkeypatch):
    import types

    import sensorfusion.plugins as plugins
    from sensorfusion import ConfigError, Exporter, ExportResult, hookimpl

    def export_counts(session, out, options):
        if options.extra:
            raise ConfigError("no options", field_path="--option", value=str(dict(options.extra)))
        keys = sorted(session.streams())
        out.write_text("".join(f"{k} {session.streams()[k].count}\n" for k in keys))
        return ExportResult("counts", (out,), frames=1, streams=tuple(keys), details={"streams": len(keys)})

    plugin = types.SimpleNamespace(
        sensorfusion_add_exporters=hookimpl(lambda: [Exporter("counts", "frame counts", ".counts", export_counts)])
    )
    monkeypatch.setattr(plugins, "_HOST", plugins.PluginHost(extra_plugins=[("third", plugin)]))
    code, out, err = _export(capsys, session_path, "--out", tmp_path / "s.counts", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["format"] == "counts" and doc["details"] == {"streams": len(doc["streams"])}
    assert "gt/skeleton3d" in (tmp_path / "s.counts").read_text()
    line = _one_line_exit_2(*_export(capsys, session_path, "--to", "counts", "--option", "x=1"))
    assert "--option" in line
    monkeypatch.setattr(plugins, "_HOST", None)


def test_a_session_at_a_url_exports_into_the_current_folder(tmp_path, capsys, monkeypatch):
    """A session on an fsspec store (memory:// here) exports like a local one; with no --out the
    file lands in the current folder under the session's name."""
    pytest.importorskip("fsspec")
    pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")
    from sensorfusion.run import main as run_main

    url = "memory://export-test/take1.zarr"
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "sim_rig.yaml")
    assert run_main([demo, "--fast", "--duration", "0.3", "--out", url, "--quiet"]) == 0
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert cli_main(["export", url, "--to", "json", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    written = tmp_path / "take1.json"
    assert written.is_file() and out["paths"] == ["take1.json"] and out["frames"] > 0
    assert json.loads(written.read_text())  # a real, non-empty document
