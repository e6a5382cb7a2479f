"""C3D (read back with ezc3d and with py-c3d), TRC (the interop reader), JSON and CSV:
every value is the session's."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from sensorfusion_export import load_motion, read_c3d_points, write_c3d

from sensorfusion import ExportOptions, export_session
from sensorfusion.plugins import get_plugin_host
from sensorfusion.store import Session


def _motion(session_path, key="fusion:fusion/skeleton3d", **kw):
    s = Session.open(session_path)
    return load_motion(s, key, ExportOptions(**kw), get_plugin_host().skeletons.get("coco17"))


def _with_gaps(m):
    """The motion with a person absent for a few frames and a joint unknown in others."""
    from dataclasses import replace

    j = m.joints_m.copy()
    j[2:5, 0] = np.nan
    j[6, 1, 3] = np.nan
    return replace(m, joints_m=j)


@pytest.mark.parametrize("units", ["mm", "m"])
def test_c3d_through_ezc3d(session_path, tmp_path, units):
    m = _with_gaps(_motion(session_path))
    path = tmp_path / "a.c3d"
    labels = write_c3d(path, m, units=units)
    got_labels, got_units, rate, xyz = read_c3d_points(path)
    assert got_labels == labels and got_units == units and rate == pytest.approx(m.rate_hz, rel=1e-6)
    assert labels[:2] == [f"P{m.person_ids[0]}:nose", f"P{m.person_ids[0]}:left_eye"]
    T, P, J, _ = m.joints_m.shape
    want = m.joints_m.reshape(T, P * J, 3)
    assert np.array_equal(np.isnan(xyz), np.isnan(want))
    assert np.nanmax(np.abs(xyz - want)) < 1e-6  # float32 storage: micrometres
    import ezc3d

    c = ezc3d.c3d(str(path))
    res = np.asarray(c["data"]["meta_points"]["residuals"])[0]  # (N, T)
    assert (res[:J, 2:5] == -1).all() and (res[J + 3, 6] == -1) and (res[np.isfinite(want).all(-1).T] == 0).all()
    subjects = c["parameters"]["SUBJECTS"]
    assert subjects["LABEL_PREFIXES"]["value"] == [f"P{p}:" for p in m.person_ids]
    assert int(np.asarray(subjects["USES_PREFIXES"]["value"]).reshape(-1)[0]) == 1
    assert c["parameters"]["SENSORFUSION"]["STREAM"]["value"] == [m.stream]


def test_c3d_through_py_c3d(session_path, tmp_path):
    c3d = pytest.importorskip("c3d", reason="py-c3d (test extra) is not installed")
    m = _with_gaps(_motion(session_path))
    path = tmp_path / "b.c3d"
    labels = write_c3d(path, m, units="mm")
    with path.open("rb") as fh, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No analog data found in file", UserWarning)  # we write points only
        reader = c3d.Reader(fh)
        assert [x.strip() for x in reader.point_labels] == labels
        assert reader.point_rate == pytest.approx(m.rate_hz, rel=1e-6)
        assert reader.get("POINT:UNITS").string_value.strip() == "mm"
        frames = [(points[:, :3], points[:, 3]) for _, points, _ in reader.read_frames()]
    T, P, J, _ = m.joints_m.shape
    assert len(frames) == T
    want = m.joints_m.reshape(T, P * J, 3) * 1000
    for t, (xyz, res) in enumerate(frames):
        ok = np.isfinite(want[t]).all(-1)
        assert np.array_equal(res >= 0, ok), t  # py-c3d: residual -1 for an invalid point
        assert np.abs(xyz[ok] - want[t][ok]).max() < 1e-3


def test_trc_reads_back_through_interop(session_path, tmp_path):
    from sensorfusion_interop import read_trc

    res = export_session(session_path, tmp_path / "w.trc", options=ExportOptions(person_ids=(1,)))
    assert res.paths == (tmp_path / "w.trc",) and res.person_ids == (1,)
    names, rate, world = read_trc(res.paths[0])
    assert names[:7] == ["Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder"] and names[-1] == "Neck"
    m = _motion(session_path)
    k = int(np.flatnonzero(m.person_ids == 1)[0])
    seen = np.flatnonzero(m.present()[:, k])
    want = m.joints_m[seen[0] : seen[-1] + 1, k]
    assert rate == pytest.approx(m.rate_hz, rel=1e-6) and world.shape == (len(want), 18, 3)
    assert np.array_equal(np.isnan(world[:, :17]), np.isnan(want))
    assert np.nanmax(np.abs(world[:, :17] - want)) < 1e-9
    neck = 0.5 * (want[:, 5] + want[:, 6])
    assert np.nanmax(np.abs(world[:, 17] - neck)) < 1e-9
    # several people: one file each, named by person id
    many = export_session(session_path, tmp_path / "all" / "w.trc")
    assert [p.name for p in many.paths] == [f"w_P{p}.trc" for p in m.person_ids]


def test_json_and_csv_hold_the_session_values(session_path, tmp_path):
    keys = ("fusion:fusion/skeleton3d", "gt/skeleton3d")
    opts = ExportOptions(streams=keys)
    rj = export_session(session_path, tmp_path / "x.json", options=opts)
    rc = export_session(session_path, tmp_path / "x.csv", options=opts)
    assert rj.streams == keys == rc.streams
    doc = json.loads((tmp_path / "x.json").read_text())
    assert doc["units"] == "m" and [s["stream"] for s in doc["streams"]] == list(keys)
    s = Session.open(session_path)
    for entry, key in zip(doc["streams"], keys, strict=True):
        stage, _, name = key.rpartition(":")
        frames = list(s.read(name, stage=stage or None))
        assert [f["t_ns"] for f in entry["frames"]] == [f.t_sensor_ns for f in frames]
        for fj, fr in zip(entry["frames"], frames, strict=True):
            for person in fj["people"]:
                n = int(np.flatnonzero(fr.data["person_id"] == person["id"])[0])
                want = fr.data["joints"][n].astype(float)
                got = np.array([p if p is not None else [np.nan] * 3 for p in person["joints"]])
                assert np.array_equal(np.isnan(got), np.isnan(want)) and np.nanmax(np.abs(got - want)) == 0
    with (tmp_path / "x.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["stream", "t_ns", "time_s", "person_id", "joint", "x_m", "y_m", "z_m"]
    assert len(rows) == rc.details["rows"]
    m = _motion(session_path, "gt/skeleton3d")
    gt_rows = [r for r in rows if r["stream"] == "gt/skeleton3d"]
    assert len(gt_rows) == int(m.present().sum()) * 17
    r = gt_rows[20]
    t = int(np.flatnonzero(m.t_ns == int(r["t_ns"]))[0])
    k = int(np.flatnonzero(m.person_ids == int(r["person_id"]))[0])
    j = m.skeleton.index(r["joint"])
    assert [float(r["x_m"]), float(r["y_m"]), float(r["z_m"])] == m.joints_m[t, k, j].tolist()


def test_time_range_and_people_select(session_path, tmp_path):
    m = _motion(session_path)
    t = m.t_ns[m.recorded]
    opts = ExportOptions(start_ns=int(t[3]), stop_ns=int(t[8]), person_ids=(0,))
    res = export_session(session_path, tmp_path / "r.csv", options=opts)
    with (tmp_path / "r.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {int(r["t_ns"]) for r in rows} <= set(t[3:8].tolist()) and {r["person_id"] for r in rows} == {"0"}
    assert res.frames == 5


def test_opensim_scaling_and_inverse_kinematics(session_path, tmp_path):
    pytest.importorskip("opensim", reason="opensim (the [opensim] extra) is not installed")
    pytest.importorskip("Pose2Sim", reason="Pose2Sim (its OpenSim models) is not installed")
    opts = ExportOptions(streams=("gt/skeleton3d",), person_ids=(1,), extra={"opensim": "true", "mass_kg": "80"})
    res = export_session(session_path, tmp_path / "ik" / "p1.trc", options=opts)
    (run,) = res.details["opensim"]
    assert {p.name for p in res.paths} == {"p1.trc", "p1.osim", "p1.mot"}
    assert run["frames"] == res.frames and run["coordinates"] > 20 and run["mass_kg"] == 80.0
    # the scaled generic model follows the simulated person to a few centimetres
    assert run["marker_rms_m_median"] < 0.06, run
    mot = (tmp_path / "ik" / "p1.mot").read_text()
    assert "pelvis_tx" in mot and "knee_angle_r" in mot
