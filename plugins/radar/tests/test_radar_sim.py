"""The simulated radar of ``sim.rig`` (``radars: N``): contract, ground truth and signal model."""

from __future__ import annotations

import numpy as np
import pytest
from sensorfusion_sim import PeopleSim, SimRigDriver, SimRigParams
from sensorfusion_sim._radar import SimRadar, fmcw_adc_cube, radar_world_from_sensor

from sensorfusion import DriverContext
from sensorfusion.testing import DriverContract


class TestSimRigWithRadarContract(DriverContract):
    driver_class = SimRigDriver
    params = {"cameras": 1, "render": False, "radars": 2, "people": 2, "fps": 10.0, "duration_s": 0.5}
    frames_to_read = 7
    finite = True
    plugin_name = "sim"


def test_radar_streams_and_calibration() -> None:
    drv = SimRigDriver(
        SimRigParams(cameras=2, render=False, radars=2, people=1), DriverContext("sim", seed=1, realtime=False)
    )
    names = [s.name for s in drv.streams()]
    assert {"radar0/adc", "radar0/points", "radar1/adc", "radar1/points"} <= set(names)
    cal = drv.calibration()
    assert {"cam0", "cam1", "radar0", "radar1"} <= set(cal.sensors)
    assert cal.sensors["radar0"].radar is not None
    off = SimRigDriver(SimRigParams(cameras=1, render=False), DriverContext("sim", seed=1, realtime=False))
    assert not any(n.startswith("radar") for n in (s.name for s in off.streams()))


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_radars_look_into_the_room(index: int) -> None:
    w = radar_world_from_sensor(index, (6.0, 6.0))
    boresight = np.asarray(w.rotation) @ np.array([0.0, 1.0, 0.0])
    pos = np.asarray(w.translation_m)
    # from its wall, the boresight points at the room centre (horizontally)
    to_centre = -pos[:2] / np.linalg.norm(pos[:2])
    assert np.dot(boresight[:2], to_centre) == pytest.approx(1.0)
    assert boresight[2] == pytest.approx(0.0)


def test_point_cloud_ground_truth_is_on_the_people() -> None:
    drv = SimRigDriver(
        SimRigParams(cameras=1, render=False, radars=1, people=2, radar_adc=False),
        DriverContext("sim", seed=4, realtime=False),
    )
    fr = {f.stream: f for f in drv.frames_at(12)}
    pts = fr["radar0/points"]
    cal = drv.calibration().sensors["radar0"]
    xyz = cal.world_from_sensor.apply(np.column_stack([pts["x"], pts["y"], pts["z"]]))
    joints = fr["gt/skeleton3d"]["joints"]
    for pid in (0, 1):
        mine = xyz[pts["person_id"] == pid]
        if len(mine) == 0:
            continue
        centre = joints[pid].mean(axis=0)
        assert np.all(np.hypot(mine[:, 0] - centre[0], mine[:, 1] - centre[1]) < 0.6)
    assert np.any(pts["person_id"] == -1)  # static clutter is there too


def test_adc_cube_is_pure_in_the_frame_index_and_has_the_right_layout() -> None:
    drv = SimRigDriver(
        SimRigParams(cameras=1, render=False, radars=1, people=1, radar_points=False),
        DriverContext("sim", seed=2, realtime=False),
    )
    a = {f.stream: f for f in drv.frames_at(5)}["radar0/adc"]["adc"]
    b = {f.stream: f for f in drv.frames_at(5)}["radar0/adc"]["adc"]
    assert a.dtype == np.complex64 and a.shape == (64, 3, 4, 128)
    np.testing.assert_array_equal(a, b)


def test_micro_doppler_from_joint_velocities() -> None:
    """A walking person's scatterers move at different speeds (limbs swing): finite
    differences of the joints give the velocities."""
    people = PeopleSim(0, 1, (6.0, 6.0), crossing=True)
    radar = SimRadar(0, 0, (6.0, 6.0), 30.0, 0.0)
    scat = radar.scatterers(people, 1.0)
    body = scat.person_id == 0
    speed = np.linalg.norm(scat.velocity_m_per_s[body], axis=1)
    assert speed.max() - speed.min() > 0.3
    assert np.all(scat.velocity_m_per_s[~body] == 0)


def test_fmcw_phase_model_matches_the_formula() -> None:
    """One noiseless scatterer: the cube equals the closed-form signal sample by sample."""
    from sensorfusion_sim._radar import SPEED_OF_LIGHT_M_PER_S, RadarScatterers, default_radar_model

    m = default_radar_model()
    p = np.array([[0.5, 2.0, 0.3]])
    v = np.array([[0.2, -0.4, 0.0]])
    cube = fmcw_adc_cube(m, RadarScatterers(p, v, np.array([1.0]), np.zeros(1, dtype=np.int64)), noise_std=0.0)
    r = float(np.linalg.norm(p))
    u = p[0] / r
    vr = float(v[0] @ u)
    lam = m.wavelength_m
    tc = (m.idle_time_us + m.ramp_end_time_us) * 1e-6
    for l_, t_, x_, n_ in [(0, 0, 0, 0), (3, 1, 2, 17), (63, 2, 3, 127)]:
        px, pz = np.add(m.tx_positions[t_], m.rx_positions[x_])
        f_b = 2 * m.freq_slope_mhz_per_us * 1e12 * r / SPEED_OF_LIGHT_M_PER_S
        t = l_ * 3 * tc + t_ * tc
        phase = (
            2 * np.pi * f_b * n_ / (m.sample_rate_ksps * 1e3)
            + 4 * np.pi * vr * t / lam
            + np.pi * (px * u[0] + pz * u[2])
            + 4 * np.pi * r / lam
        )
        want = np.exp(1j * phase) / r**2
        assert cube[l_, t_, x_, n_] == pytest.approx(want, rel=1e-4)
