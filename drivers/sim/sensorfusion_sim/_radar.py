"""Simulated FMCW MIMO radar: people as scatterers on their body capsules, static clutter,
and a signal model that turns scatterers into ADC cubes ``[chirps, tx, rx, samples]``.

Radar frame (TI convention): ``x`` right, ``y`` forward (boresight), ``z`` up, metres.
Azimuth is measured from ``y`` towards ``x``, elevation from the ``x–y`` plane towards
``z``. Radial velocity is positive for a receding scatterer (range increasing).

Signal model of one scatterer at range ``r``, radial velocity ``v``, direction cosines
``u = x / r`` and ``w = z / r``, amplitude ``a``, seen by virtual antenna ``(tx, rx)`` at
``(px, pz)`` half-wavelengths, in sample ``n`` of the chirp of loop ``l`` sent by TX ``k``::

    a * exp(j * (2*pi * f_beat * n / fs + 4*pi * v * t_lk / lambda + pi * (px*u + pz*w) + 4*pi*r/lambda))

with ``f_beat = 2 * slope * r / c`` and ``t_lk = l * T_loop + k * (idle + ramp)`` (TDM-MIMO:
the TXs chirp one after another inside each loop). Complex (IQ) sampling; white complex
Gaussian noise of ``noise_std`` per real component.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
from sensorfusion.schema import RadarModel, SensorCalibration, Transform

from ._people import PeopleSim, body_capsules

__all__ = [
    "SPEED_OF_LIGHT_M_PER_S",
    "RadarScatterers",
    "SimRadar",
    "default_radar_model",
    "fmcw_adc_cube",
    "people_scatterers",
    "radar_world_from_sensor",
    "static_clutter",
    "scatterers_in_sensor",
    "simulated_point_cloud",
]

SPEED_OF_LIGHT_M_PER_S = 299_792_458.0
_POINTS_PER_CAPSULE = 3
_TORSO_RCS = 1.0


@dataclass(frozen=True)
class RadarScatterers:
    """Point scatterers in some frame: ``position_m (N, 3)``, ``velocity_m_per_s (N, 3)``,
    ``rcs (N,)`` (relative radar cross-section, linear) and ``person_id (N,)`` (-1: clutter)."""

    position_m: np.ndarray
    velocity_m_per_s: np.ndarray
    rcs: np.ndarray
    person_id: np.ndarray

    def concat(self, other: RadarScatterers) -> RadarScatterers:
        return RadarScatterers(
            np.concatenate([self.position_m, other.position_m]),
            np.concatenate([self.velocity_m_per_s, other.velocity_m_per_s]),
            np.concatenate([self.rcs, other.rcs]),
            np.concatenate([self.person_id, other.person_id]),
        )

    @property
    def count(self) -> int:
        return int(self.rcs.shape[0])


def default_radar_model(fps: float = 30.0) -> RadarModel:
    """A 60 GHz, 3 TX x 4 RX xWR68xx-like model for a room: 7.8 cm range resolution, 10 m
    unambiguous range, +-10 m/s at 0.33 m/s resolution; 8 azimuth + 4 elevated virtual antennas."""
    return RadarModel(
        start_freq_ghz=60.0,
        freq_slope_mhz_per_us=75.0,
        adc_samples=128,
        sample_rate_ksps=5000.0,
        idle_time_us=10.0,
        ramp_end_time_us=30.0,
        chirps_per_frame=64,
        frame_period_ms=1000.0 / fps,
        tx_positions=((0.0, 0.0), (4.0, 0.0), (2.0, 1.0)),
        rx_positions=((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0)),
    )


def radar_world_from_sensor(index: int, room_m: tuple[float, float], height_m: float = 1.2) -> Transform:
    """Radar ``index`` on the middle of a wall (south, west, north, east, ...), at ``height_m``,
    looking horizontally into the room. World: origin at the room centre on the floor, z up."""
    yaw = (index % 4) * (math.pi / 2)  # radar y axis (boresight) rotated from world +y
    hx, hy = room_m[0] / 2 - 0.05, room_m[1] / 2 - 0.05
    positions = [(0.0, -hy), (hx, 0.0), (0.0, hy), (-hx, 0.0)]
    px, py = positions[index % 4]
    c, s = math.cos(yaw), math.sin(yaw)
    # columns: radar x, y, z axes expressed in world; yaw rotates about world z
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    # radar at (0,-hy) looks +y: yaw 0. At (hx, 0) looks -x: boresight (−1, 0) = rot @ (0,1) with yaw=pi/2
    return Transform.from_matrix(
        np.block([[rot, np.array([[px], [py], [height_m]])], [np.zeros((1, 3)), np.ones((1, 1))]])
    )


def people_scatterers(
    joints_m: np.ndarray, joints_before_m: np.ndarray, joints_after_m: np.ndarray, dt_s: float, heights_m: np.ndarray
) -> RadarScatterers:
    """Scatterers on every body capsule (3 along its axis), in the world frame.

    Velocities are central finite differences of the capsule endpoints over ``2 * dt_s``
    (micro-Doppler of swinging limbs); RCS grows with the capsule's side area and the
    torso dominates.
    """
    if joints_m.shape[0] == 0:
        z = np.zeros((0, 3))
        return RadarScatterers(z, z.copy(), np.zeros(0), np.zeros(0, dtype=np.int64))
    a, b, radius = body_capsules(joints_m, heights_m)
    a0, b0, _ = body_capsules(joints_before_m, heights_m)
    a1, b1, _ = body_capsules(joints_after_m, heights_m)
    va, vb = (a1 - a0) / (2 * dt_s), (b1 - b0) / (2 * dt_s)
    fr = (np.arange(_POINTS_PER_CAPSULE) + 0.5) / _POINTS_PER_CAPSULE  # (K,)
    pos = a[:, :, None, :] + fr[None, None, :, None] * (b - a)[:, :, None, :]
    vel = va[:, :, None, :] + fr[None, None, :, None] * (vb - va)[:, :, None, :]
    length = np.linalg.norm(b - a, axis=-1)
    area = 2.0 * radius * np.maximum(length, 2 * radius)  # (P, B)
    rcs = _TORSO_RCS * area / area.max(axis=1, keepdims=True) / _POINTS_PER_CAPSULE
    rcs = np.repeat(rcs[:, :, None], _POINTS_PER_CAPSULE, axis=2)
    pid = np.broadcast_to(np.arange(joints_m.shape[0])[:, None, None], rcs.shape)
    return RadarScatterers(pos.reshape(-1, 3), vel.reshape(-1, 3), rcs.reshape(-1), pid.reshape(-1).astype(np.int64))


def static_clutter(room_m: tuple[float, float], seed: int, count: int = 6) -> RadarScatterers:
    """Fixed strong reflectors (furniture, wall corners) in the world frame, zero velocity."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xC1077E,)))
    hx, hy = room_m[0] / 2, room_m[1] / 2
    pos = np.column_stack([rng.uniform(-hx, hx, count), rng.uniform(-hy, hy, count), rng.uniform(0.3, 1.5, count)])
    corners = np.array([[-hx, -hy, 1.0], [hx, -hy, 1.0], [-hx, hy, 1.0], [hx, hy, 1.0]])
    pos = np.concatenate([pos, corners])
    n = pos.shape[0]
    return RadarScatterers(pos, np.zeros((n, 3)), np.full(n, 2.0), np.full(n, -1, dtype=np.int64))


def scatterers_in_sensor(scat: RadarScatterers, world_from_sensor: Transform) -> RadarScatterers:
    """The same scatterers expressed in the radar frame."""
    m = world_from_sensor.inverse().matrix
    pos = scat.position_m @ m[:3, :3].T + m[:3, 3]
    vel = scat.velocity_m_per_s @ m[:3, :3].T
    return RadarScatterers(pos, vel, scat.rcs, scat.person_id)


def _virtual_positions(model: RadarModel) -> np.ndarray:
    tx = np.asarray(model.tx_positions, dtype=np.float64)
    rx = np.asarray(model.rx_positions, dtype=np.float64)
    return tx[:, None, :] + rx[None, :, :]  # (T, R, 2)


def fmcw_adc_cube(
    model: RadarModel,
    scat: RadarScatterers,
    *,
    noise_std: float = 0.01,
    rng: np.random.Generator | None = None,
    t0_s: float = 0.0,
) -> np.ndarray:
    """ADC cube ``[chirps, tx, rx, samples]`` complex64 of scatterers given in the radar frame.

    Amplitude of a scatterer: ``sqrt(rcs) / r**2`` (radar equation, relative units).
    Scatterers behind the radar (``y <= 0``) are not seen.
    """
    n_l, n_s = model.chirps_per_frame, model.adc_samples
    n_t, n_r = len(model.tx_positions), len(model.rx_positions)
    lam = model.wavelength_m
    fs = model.sample_rate_ksps * 1e3
    slope = model.freq_slope_mhz_per_us * 1e12
    pos = np.asarray(scat.position_m, dtype=np.float64)
    keep = pos[:, 1] > 0.05 if pos.size else np.zeros(0, dtype=bool)
    pos, vel, rcs = pos[keep], np.asarray(scat.velocity_m_per_s, dtype=np.float64)[keep], np.asarray(scat.rcs)[keep]
    cube = np.zeros((n_l * n_t * n_r, n_s), dtype=np.complex128)
    if pos.shape[0]:
        r = np.linalg.norm(pos, axis=1)
        unit = pos / r[:, None]
        v = np.sum(vel * unit, axis=1)
        amp = np.sqrt(np.maximum(rcs, 0.0)) / r**2
        f_beat = 2.0 * slope * r / SPEED_OF_LIGHT_M_PER_S
        n = np.arange(n_s)
        s_fast = np.exp(2j * np.pi * np.outer(f_beat / fs, n))  # (N, S)
        t_chirp = model.idle_time_us * 1e-6 + model.ramp_end_time_us * 1e-6
        t_lk = t0_s + np.arange(n_l)[:, None] * (n_t * t_chirp) + np.arange(n_t)[None, :] * t_chirp  # (L, T)
        s_slow = np.exp(4j * np.pi / lam * v[:, None, None] * t_lk[None])  # (N, L, T)
        vp = _virtual_positions(model)  # (T, R, 2)
        phase_ant = np.pi * (vp[None, :, :, 0] * unit[:, 0, None, None] + vp[None, :, :, 1] * unit[:, 2, None, None])
        s_ant = np.exp(1j * phase_ant) * (amp * np.exp(4j * np.pi * r / lam))[:, None, None]  # (N, T, R)
        mix = (s_slow[:, :, :, None] * s_ant[:, None, :, :]).reshape(pos.shape[0], -1)  # (N, L*T*R)
        cube += mix.T @ s_fast
    if noise_std > 0:
        g = rng if rng is not None else np.random.default_rng(0)
        cube += noise_std * (g.standard_normal(cube.shape) + 1j * g.standard_normal(cube.shape))
    return cube.reshape(n_l, n_t, n_r, n_s).astype(np.complex64)


def simulated_point_cloud(
    model: RadarModel,
    scat: RadarScatterers,
    rng: np.random.Generator,
    *,
    noise_floor: float = 1e-4,
    min_snr_db: float = 10.0,
) -> dict[str, np.ndarray]:
    """What a radar's on-chip chain reports for scatterers in the radar frame: one point per
    scatterer above ``min_snr_db``, quantised to the range/velocity resolution, angle noise
    of the array's azimuth resolution / 4. Fields: ``x, y, z, velocity, snr`` (float32, ``_m``,
    ``_m_per_s``, dB) and ``person_id`` (int64 ground truth, -1 clutter)."""
    pos = np.asarray(scat.position_m, dtype=np.float64)
    keep = pos[:, 1] > 0.05
    r = np.linalg.norm(pos, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr_db = 10 * np.log10(np.maximum(scat.rcs, 1e-12) / np.maximum(r, 1e-3) ** 4 / noise_floor)
    keep &= snr_db >= min_snr_db
    keep &= r < model.max_range_m
    pos, vel, r, snr_db = pos[keep], np.asarray(scat.velocity_m_per_s)[keep], r[keep], snr_db[keep]
    unit = pos / np.maximum(r, 1e-9)[:, None]
    v = np.sum(vel * unit, axis=1)
    res_r, res_v = model.range_resolution_m, model.velocity_resolution_m_per_s
    rq = np.round(r / res_r) * res_r
    vq = np.round(v / res_v) * res_v
    az = np.arctan2(pos[:, 0], pos[:, 1]) + rng.normal(0, model.azimuth_resolution_rad / 4, r.shape)
    el = np.arcsin(np.clip(pos[:, 2] / np.maximum(r, 1e-9), -1, 1)) + rng.normal(
        0, model.azimuth_resolution_rad / 2, r.shape
    )
    out = {
        "x": (rq * np.cos(el) * np.sin(az)).astype(np.float32),
        "y": (rq * np.cos(el) * np.cos(az)).astype(np.float32),
        "z": (rq * np.sin(el)).astype(np.float32),
        "velocity": vq.astype(np.float32),
        "snr": snr_db.astype(np.float32),
        "person_id": np.asarray(scat.person_id)[keep].astype(np.int64),
    }
    return out


_VELOCITY_DT_S = 0.02


class SimRadar:
    """Radar ``radar{index}`` of the simulated rig: its model, pose, streams and frames.

    Frame ``i`` is a pure function of ``(seed, index, i)``: noise comes from
    ``SeedSequence(seed, spawn_key=(0x5ADA, index, i))``.
    """

    def __init__(self, index: int, seed: int, room_m: tuple[float, float], fps: float, noise_std: float) -> None:
        self.index = index
        self.seed = seed
        self.sensor_id = f"radar{index}"
        self.model = default_radar_model(fps)
        self.world_from_sensor = radar_world_from_sensor(index, room_m)
        self.noise_std = noise_std
        self.clutter = scatterers_in_sensor(static_clutter(room_m, seed), self.world_from_sensor)

    def calibration(self) -> SensorCalibration:
        return SensorCalibration(radar=self.model, world_from_sensor=self.world_from_sensor)

    def streams(self, *, adc: bool, points: bool) -> list[StreamSpec]:
        m = self.model
        rate = 1000.0 / m.frame_period_ms
        out: list[StreamSpec] = []
        if adc:
            shape = (m.chirps_per_frame, len(m.tx_positions), len(m.rx_positions), m.adc_samples)
            out.append(
                StreamSpec(
                    name=f"{self.sensor_id}/adc",
                    kind=FrameKind.RADAR_ADC_CUBE,
                    fields={"adc": FieldSpec(dtype="complex64", shape=shape)},
                    rate_hz=rate,
                    queue_size=8,
                    attrs={"layout": "chirps,tx,rx,samples", "simulated": True},
                )
            )
        if points:
            fields = {k: FieldSpec(dtype="float32") for k in ("x", "y", "z", "velocity", "snr")}
            fields["person_id"] = FieldSpec(dtype="int64")
            out.append(
                StreamSpec(
                    name=f"{self.sensor_id}/points",
                    kind=FrameKind.POINT_CLOUD,
                    fields=fields,
                    ragged=True,
                    rate_hz=rate,
                    attrs={
                        "frame": self.sensor_id,
                        "units": {"x": "m", "y": "m", "z": "m", "velocity": "m/s", "snr": "dB"},
                        "person_id": "ground truth (-1: clutter)",
                        "simulated": True,
                    },
                )
            )
        return out

    def scatterers(self, people: PeopleSim, t_s: float) -> RadarScatterers:
        """People (world) and clutter, in the radar frame, at time ``t_s``."""
        dt = _VELOCITY_DT_S
        body = people_scatterers(
            people.joints_at(t_s), people.joints_at(t_s - dt), people.joints_at(t_s + dt), dt, people.heights_m
        )
        return scatterers_in_sensor(body, self.world_from_sensor).concat(self.clutter)

    def frames(
        self, people: PeopleSim, index: int, t_ns: int, t_host_ns: int, *, adc: bool, points: bool
    ) -> list[Frame]:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0x5ADA, self.index, index)))
        scat = self.scatterers(people, t_ns * 1e-9)
        out: list[Frame] = []
        if adc:
            cube = fmcw_adc_cube(self.model, scat, noise_std=self.noise_std, rng=rng, t0_s=t_ns * 1e-9)
            out.append(Frame(f"{self.sensor_id}/adc", t_ns, t_host_ns, index, {"adc": cube}))
        if points:
            moving = RadarScatterers(scat.position_m, scat.velocity_m_per_s, scat.rcs, scat.person_id)
            out.append(
                Frame(
                    f"{self.sensor_id}/points", t_ns, t_host_ns, index, simulated_point_cloud(self.model, moving, rng)
                )
            )
        return out
