"""Simulated RGB-D cameras of sim.rig: streams, calibration, the depth error model, determinism, ground truth untouched."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sensorfusion_sim import SimRigDriver
from sensorfusion_sim._depth import DepthCameraParams, simulate_depth_mm

from sensorfusion import DriverContext, FrameKind
from sensorfusion.schema import PinholeCamera
from sensorfusion.testing import DriverContract


def make(seed: int = 0, **params: Any) -> SimRigDriver:
    base = {"cameras": 1, "render": False, "depth_cameras": 2, "width": 160, "height": 120}
    return SimRigDriver(
        SimRigDriver.Params.model_validate({**base, **params}), DriverContext("sim", seed=seed, realtime=False)
    )


class TestSimDepthContract(DriverContract):
    driver_class = SimRigDriver
    params = {"cameras": 1, "render": False, "depth_cameras": 2, "width": 160, "height": 120}
    frames_to_read = 3


def test_streams_and_calibration() -> None:
    drv = make()
    specs = {s.name: s for s in drv.streams()}
    assert sorted(specs) == ["depth0/depth", "depth0/image", "depth1/depth", "depth1/image", "gt/skeleton3d"]
    d = specs["depth1/depth"]
    assert d.kind == FrameKind.DEPTH and d.fields["depth"].dtype == "uint16" and d.fields["depth"].shape == (120, 160)
    assert d.attrs["depth_scale_m"] == 0.001 and d.attrs["aligned_to"] == "color"
    cal = drv.calibration()
    cam = cal.camera("depth0")
    assert isinstance(cam, PinholeCamera) and (cam.width, cam.height) == (160, 120)
    assert cal.sensors["depth0"].world_from_sensor.translation_m[2] == pytest.approx(1.8)
    assert "cam0" in cal.sensors
    assert [s.name for s in make(depth_cameras=0).streams()] == ["gt/skeleton3d"]


def test_depth_matches_the_render_within_the_noise_model() -> None:
    drv = make(seed=4, depth={"invalid_prob": 0.0, "edge_dropout_prob": 0.0, "bias_m_per_m2": 0.0})
    drv.open()
    frames = {f.stream: f for f in drv.read()}
    exact = drv.depth_cameras.renderers()[0].render_buffers(frames["gt/skeleton3d"]["joints"].astype(np.float64),
                                                            frames["gt/skeleton3d"]["person_id"], drv.people.heights_m).depth_m  # fmt: skip
    got = frames["depth0/depth"]["depth"].astype(np.float64) * 1e-3
    ok = (got > 0) & np.isfinite(exact)
    z = exact[ok]
    rel = (got[ok] - z) / z**2  # sigma(z) = 0.004 z^2 (+ 0.5 mm quantisation)
    assert ok.mean() > 0.99
    assert abs(rel.mean()) < 5e-4 and 0.0036 < rel.std() < 0.0046


def test_holes_at_edges_and_random_dropouts() -> None:
    z = np.full((50, 60), 4.0)
    z[10:30, 20:40] = 2.0  # a body in front of a wall
    p = DepthCameraParams(edge_dropout_prob=1.0, invalid_prob=0.01)
    mm = simulate_depth_mm(z, p, np.random.default_rng(0))
    assert (mm[10:30, 19] == 0).all() and (mm[10:30, 20] == 0).all()  # both sides of the silhouette edge
    assert 0.003 < (mm[35:, :] == 0).mean() < 0.03  # random dropouts away from edges
    exact = simulate_depth_mm(z, DepthCameraParams(noise=False), None)
    assert set(np.unique(exact)) == {2000, 4000}
    far = simulate_depth_mm(np.array([[0.1, 12.0, np.inf, 3.0004]]), DepthCameraParams(noise=False), None)
    assert far.tolist() == [[0, 0, 0, 3000]]  # range limits; mm quantisation


def test_deterministic_and_ground_truth_unchanged() -> None:
    a, b = make(seed=5), make(seed=5)
    a.open()
    fa = [a.read() for _ in range(3)][-1]
    fb = b.frames_at(2)
    for x, y in zip(fa, fb, strict=True):
        for k in x.data:
            assert np.array_equal(x.data[k], y.data[k])
    plain = SimRigDriver(SimRigDriver.Params(cameras=1, render=False), DriverContext("sim", seed=5)).frames_at(2)[-1]
    gt = next(f for f in fb if f.stream == "gt/skeleton3d")
    assert np.array_equal(plain["joints"], gt["joints"])
    # the people show up in depth where the renderer sees them, with their own depth
    d = next(f for f in fb if f.stream == "depth0/depth")["depth"].astype(np.float64) * 1e-3
    buf = b.depth_cameras.renderers()[0].render_buffers(
        gt["joints"].astype(np.float64), gt["person_id"], b.people.heights_m
    )
    body = (buf.person_id >= 0) & (d > 0)
    assert body.sum() > 50 and np.median(np.abs(d[body] - buf.depth_m[body])) < 0.05
