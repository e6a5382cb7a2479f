"""Geometry of a simulated headset: its fisheye camera model, where the cameras sit on the device,
where the device sits on the wearer's head, how the head moves, and how the reported pose drifts.

Device frame (OpenCV-like, fixed to the head): origin between the two cameras at the forehead,
``x`` to the wearer's right, ``y`` down, ``z`` forward (along the face). The cameras sit at
``x = ±baseline/2`` and look forward-down: their optical axis is the device ``z`` axis pitched
down by ``pitch_down_deg`` about the device ``x`` axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sensorfusion.geometry import pose_matrix, project, quaternion_to_matrix
from sensorfusion.schema import DoubleSphereCamera, KannalaBrandtCamera, OmnidirectionalCamera

__all__ = [
    "CAMERA_MODELS",
    "HeadMotion",
    "PoseNoise",
    "device_from_cameras",
    "headset_camera",
    "world_from_head",
]

CAMERA_MODELS = ("kannala_brandt", "double_sphere", "scaramuzza", "fisheye624")

# COCO-17 indices used here
_NOSE, _LEAR, _REAR, _LSH, _RSH = 0, 3, 4, 5, 6
_FACE = np.arange(5)


def headset_camera(model: str, width: int, height: int, fov_rad: float, distortion: tuple[float, ...] = ()) -> Any:
    """A fisheye camera whose image circle (radius ``min(width, height) / 2``, centred) spans
    ``fov_rad``, in the named model.

    ``kannala_brandt``/``fisheye624``: equidistant (``r = f θ``) plus the ``distortion`` terms
    (``k1..k4`` / ``k0..k5, p0, p1, s0..s3``), with ``f`` chosen so the circle's edge is at
    ``fov/2`` including them. ``double_sphere``: ξ = -0.2, α = 0.6 (a typical 190° lens) scaled to
    the circle. ``scaramuzza``: OCamCalib polynomials fitted to an equidistant lens (as UnrealEgo's
    cameras are stored).
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    radius = min(width, height) / 2.0
    half = fov_rad / 2.0
    if model == "kannala_brandt":
        k = (tuple(distortion) + (0.0,) * 4)[:4]
        if len(distortion) > 4:
            raise ValueError(f"kannala_brandt takes up to 4 distortion terms (k1..k4), got {len(distortion)}")
        scale = half * (1 + k[0] * half**2 + k[1] * half**4 + k[2] * half**6 + k[3] * half**8)
        f = radius / scale
        return KannalaBrandtCamera(
            width=width, height=height, fx=f, fy=f, cx=cx, cy=cy, k1=k[0], k2=k[1], k3=k[2], k4=k[3]
        )
    if model == "fisheye624":
        from sensorfusion import schema

        cls = getattr(schema, "Fisheye624Camera", None)
        if cls is None:  # pragma: no cover - the core gains the model with the kernels work
            raise ValueError("this sensorfusion core has no fisheye624 camera model")
        terms = (tuple(distortion) + (0.0,) * 12)[:12]
        if len(distortion) > 12:
            raise ValueError(
                f"fisheye624 takes up to 12 distortion terms (k0..k5, p0, p1, s0..s3), got {len(distortion)}"
            )
        unit = cls.from_params([1.0, 0.0, 0.0, *terms], width=width, height=height)
        edge = project(unit, np.array([[math.sin(half), 0.0, math.cos(half)]]), tier="numpy")[0, 0]
        f = radius / float(edge)
        return cls.from_params([f, cx, cy, *terms], width=width, height=height)
    if model == "double_sphere":
        unit = DoubleSphereCamera(width=width, height=height, fx=1.0, fy=1.0, cx=0.0, cy=0.0, xi=-0.2, alpha=0.6)
        edge = float(project(unit, np.array([[math.sin(half), 0.0, math.cos(half)]]), tier="numpy")[0, 0])
        if not math.isfinite(edge):
            raise ValueError(f"double_sphere (xi=-0.2, alpha=0.6) cannot image {math.degrees(fov_rad):.0f} degrees")
        f = radius / edge
        return DoubleSphereCamera(width=width, height=height, fx=f, fy=f, cx=cx, cy=cy, xi=-0.2, alpha=0.6)
    if model == "scaramuzza":
        f = radius / half
        # world2cam: rho = f * (angle from the axis) = f * (theta_o + pi/2), theta_o = atan(z_o / norm)
        inv_poly = (f * math.pi / 2.0, f)
        # cam2world: z_o = P(rho) = -rho * cot(rho / f), fitted up to 110 % of the image circle
        rho = np.linspace(1e-3, 1.1 * radius, 400)
        target = -rho / np.tan(rho / f)
        coeffs = np.polynomial.polynomial.polyfit(rho, target, 8)
        return OmnidirectionalCamera(
            width=width, height=height, poly=tuple(float(c) for c in coeffs), inv_poly=inv_poly, cx=cx, cy=cy
        )
    raise ValueError(f"unknown headset camera model {model!r}; choices: {', '.join(CAMERA_MODELS)}")


def device_from_cameras(baseline_m: float, pitch_down_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """``(device_from_left, device_from_right)`` ``(4, 4)``: cameras at ``x = ∓baseline/2``,
    optical axes pitched down by ``pitch_down_rad`` about the device ``x`` axis."""
    c, s = math.cos(pitch_down_rad), math.sin(pitch_down_rad)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])  # columns: camera x, y, z in the device frame
    left = pose_matrix(rot, np.array([-baseline_m / 2.0, 0.0, 0.0]))
    right = pose_matrix(rot, np.array([baseline_m / 2.0, 0.0, 0.0]))
    return left, right


def world_from_head(joints_m: np.ndarray, *, forward_m: float, up_m: float) -> np.ndarray:
    """``(P, 4, 4)`` device poses on each person's head from their COCO-17 face joints: axes from
    the ears (x: left ear -> right ear) and the nose (z: forward), origin ``forward_m`` in front
    of and ``up_m`` above the ear midpoint."""
    j = np.asarray(joints_m, dtype=np.float64)
    centre = 0.5 * (j[:, _LEAR] + j[:, _REAR])
    x = j[:, _REAR] - j[:, _LEAR]
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    z = j[:, _NOSE] - centre
    z -= np.einsum("pi,pi->p", z, x)[:, None] * x
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    rot = np.stack([x, y, z], axis=-1)
    return pose_matrix(rot, centre + forward_m * z - up_m * y)


def _rotation(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """Rodrigues: ``(P, 3, 3)`` rotations by ``angle_rad (P,)`` about unit ``axis (P, 3)``."""
    k = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    c, s = np.cos(angle_rad)[:, None, None], np.sin(angle_rad)[:, None, None]
    kx = np.zeros((len(k), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    out: np.ndarray = np.eye(3) + s * kx + (1 - c) * (kx @ kx)
    return out


class HeadMotion:
    """Where a wearer looks: head yaw and pitch as smooth functions of time (sums of three
    sinusoids with frequencies 0.05–0.5 Hz and random phases from the seed), applied to the five
    COCO face joints by rotating them about the top of the neck.

    Args:
        seed, key: randomness (``SeedSequence(seed, spawn_key=(0x4EAD, key))``).
        yaw_deg: peak yaw (left/right) amplitude.
        pitch_deg: peak pitch amplitude around ``pitch_bias_deg`` (negative: looking down).
    """

    def __init__(self, seed: int, key: int, *, yaw_deg: float, pitch_deg: float, pitch_bias_deg: float) -> None:
        rng = np.random.default_rng(np.random.SeedSequence(int(seed) & 0xFFFF_FFFF, spawn_key=(0x4EAD, key)))
        self.freq_hz = rng.uniform(0.05, 0.5, size=(2, 3))
        self.phase = rng.uniform(0.0, 2.0 * math.pi, size=(2, 3))
        w = rng.uniform(0.5, 1.0, size=(2, 3))
        self.weights = w / w.sum(axis=1, keepdims=True)
        self.yaw_rad = math.radians(yaw_deg)
        self.pitch_rad = math.radians(pitch_deg)
        self.bias_rad = math.radians(pitch_bias_deg)

    def angles(self, t_s: float) -> tuple[float, float]:
        """``(yaw, pitch)`` in radians at ``t_s`` (pitch positive: looking up)."""
        s = np.sin(2.0 * math.pi * self.freq_hz * t_s + self.phase)
        yaw, pitch = (self.weights * s).sum(axis=1)
        return float(self.yaw_rad * yaw), float(self.bias_rad + self.pitch_rad * pitch)

    def apply(self, joints_m: np.ndarray, t_s: float) -> np.ndarray:
        """One person's ``(17, 3)`` joints with the face turned by the head angles at ``t_s``."""
        j = np.array(joints_m, dtype=np.float64)
        yaw, pitch = self.angles(t_s)
        neck = 0.5 * (j[_LSH] + j[_RSH])
        head = 0.5 * (j[_LEAR] + j[_REAR])
        up = head - neck
        pivot = neck + 0.6 * up
        right = j[_REAR] - j[_LEAR]
        r_yaw = _rotation(up[None], np.array([yaw]))[0]
        r_pitch = _rotation((r_yaw @ right)[None], np.array([pitch]))[0]  # about the right axis: + looks up
        rot = r_pitch @ r_yaw
        j[_FACE] = (j[_FACE] - pivot) @ rot.T + pivot
        return j


class PoseNoise:
    """What a headset's own tracking reports instead of its true pose: a slow drift of the map
    frame (translation and yaw growing linearly at ``drift_m_per_min`` / ``drift_deg_per_min``
    with a slow wobble) and per-frame jitter (``jitter_m``, ``jitter_deg``, Gaussian).

    ``reported = drift(t) @ true @ jitter(frame)``; deterministic from ``(seed, key, frame)``.
    """

    def __init__(
        self,
        seed: int,
        key: int,
        *,
        drift_m_per_min: float,
        drift_deg_per_min: float,
        jitter_m: float,
        jitter_deg: float,
    ) -> None:
        self.seed = int(seed) & 0xFFFF_FFFF
        self.key = int(key)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0xD21F7, key)))
        direction = rng.normal(size=3)
        direction[2] *= 0.3  # tracking drifts less in height (gravity is observed)
        self.direction = direction / np.linalg.norm(direction)
        self.rate_m_per_s = drift_m_per_min / 60.0
        self.yaw_rate_rad_per_s = math.radians(drift_deg_per_min) / 60.0 * float(rng.choice([-1.0, 1.0]))
        self.wobble_hz = rng.uniform(0.01, 0.05, size=3)
        self.wobble_phase = rng.uniform(0.0, 2.0 * math.pi, size=3)
        self.jitter_m = jitter_m
        self.jitter_rad = math.radians(jitter_deg)

    def drift(self, t_s: float) -> np.ndarray:
        """``(4, 4)`` map-frame drift at ``t_s`` (identity at t = 0)."""
        wobble = 0.2 * self.rate_m_per_s * 60.0 * np.sin(2.0 * math.pi * self.wobble_hz * t_s + self.wobble_phase)
        wobble -= 0.2 * self.rate_m_per_s * 60.0 * np.sin(self.wobble_phase)
        trans = self.direction * self.rate_m_per_s * t_s + wobble
        yaw = self.yaw_rate_rad_per_s * t_s
        c, s = math.cos(yaw), math.sin(yaw)
        return pose_matrix(np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]), trans)

    def jitter(self, frame: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0x717E4, self.key, int(frame))))
        rv = rng.normal(size=3) * self.jitter_rad
        angle = float(np.linalg.norm(rv))
        q = (
            np.array([0.0, 0.0, 0.0, 1.0])
            if angle < 1e-12
            else np.r_[rv / angle * math.sin(angle / 2), math.cos(angle / 2)]
        )
        return pose_matrix(quaternion_to_matrix(q), rng.normal(size=3) * self.jitter_m)

    def report(self, world_from_device: np.ndarray, t_s: float, frame: int) -> np.ndarray:
        out: np.ndarray = self.drift(t_s) @ world_from_device @ self.jitter(frame)
        return out
