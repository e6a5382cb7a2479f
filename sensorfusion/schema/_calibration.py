"""Camera models, radar models, rigid transforms and the rig calibration.

Conventions: OpenCV camera axes (x right, y down, z forward), metres, radians,
transforms named ``a_from_b`` so ``p_in_a = a_from_b @ p_in_b``, time offsets in int64 ns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

__all__ = [
    "ROTATION_TOLERANCE",
    "CameraModel",
    "DeviceMount",
    "DoubleSphereCamera",
    "Fisheye624Camera",
    "KannalaBrandtCamera",
    "OmnidirectionalCamera",
    "PinholeCamera",
    "RadarModel",
    "RigCalibration",
    "SensorCalibration",
    "Transform",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ROTATION_TOLERANCE = 1e-5
"""Largest ``max |R R^T - I|`` a :class:`Transform` accepts. Published calibrations print rotation
matrices with 6 decimals, which are orthonormal to only ~1e-6; such a rotation is replaced by the
nearest rotation (SVD) and the transform keeps a :attr:`Transform.note` saying so."""

_EXACT_ROTATION = 1e-9  # below this a rotation is kept exactly as given (float round-off)


def _rotation_deviation(r: np.ndarray) -> float:
    return float(np.abs(r @ r.T - np.eye(3)).max())


def _nearest_rotation(r: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(r)
    out: np.ndarray = u @ vt
    return out


class Transform(_Model):
    """A rigid transform ``a_from_b``: rotation matrix (row-major 3x3) and translation in metres.

    A rotation that is orthonormal only to ``1e-9 < max |R R^T - I| <= ROTATION_TOLERANCE`` (e.g. one
    printed with 6 decimals) is re-orthonormalised (the nearest rotation, by SVD) and
    :attr:`note` says so; a larger deviation or a reflection is refused with the measured value.
    """

    rotation: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]] = (
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
    )
    translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    _note: str | None = PrivateAttr(default=None)

    @field_validator("rotation")
    @classmethod
    def _orthonormal(cls, v: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
        r = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(r)):
            raise ValueError("rotation has NaN/inf entries")
        err = _rotation_deviation(r)
        if err > ROTATION_TOLERANCE:
            raise ValueError(
                f"rotation must be orthonormal: max |R R^T - I| = {err:.3g} exceeds the tolerance "
                f"{ROTATION_TOLERANCE:g} (a rounded rotation is re-orthonormalised up to that)"
            )
        if np.linalg.det(r) < 0:
            raise ValueError("rotation must have determinant +1 (a reflection was given)")
        if err > _EXACT_ROTATION:
            return tuple(tuple(float(x) for x in row) for row in _nearest_rotation(r))
        return v

    @model_validator(mode="wrap")
    @classmethod
    def _note_reorthonormalised(cls, data: object, handler: object) -> Transform:
        err = None
        raw = data.get("rotation") if isinstance(data, dict) else None
        if raw is not None:
            try:
                r = np.asarray(raw, dtype=np.float64)
                err = _rotation_deviation(r) if r.shape == (3, 3) else None
            except (TypeError, ValueError):
                err = None
        out: Transform = handler(data)  # type: ignore[operator]
        if err is not None and _EXACT_ROTATION < err <= ROTATION_TOLERANCE:
            out._note = (
                f"rotation re-orthonormalised: it was orthonormal to max |R R^T - I| = {err:.3g} "
                f"(tolerance {ROTATION_TOLERANCE:g})"
            )
        return out

    @property
    def note(self) -> str | None:
        """Why the given rotation was changed (re-orthonormalised), or ``None``."""
        return self._note

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Transform:
        """From a 4x4 homogeneous matrix."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.shape != (4, 4):
            raise ValueError(f"expected a 4x4 matrix, got shape {m.shape}")
        rot = tuple(tuple(float(x) for x in row) for row in m[:3, :3])
        return cls(rotation=rot, translation_m=tuple(float(x) for x in m[:3, 3]))  # type: ignore[arg-type,unused-ignore]

    @classmethod
    def from_rotvec(cls, rotvec_rad: np.ndarray, translation_m: np.ndarray) -> Transform:
        """From an axis-angle vector (radians) and a translation (metres)."""
        from scipy.spatial.transform import Rotation

        m = np.eye(4)
        m[:3, :3] = Rotation.from_rotvec(np.asarray(rotvec_rad, dtype=np.float64)).as_matrix()
        m[:3, 3] = np.asarray(translation_m, dtype=np.float64)
        return cls.from_matrix(m)

    @property
    def matrix(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = np.asarray(self.rotation)
        m[:3, 3] = np.asarray(self.translation_m)
        return m

    def inverse(self) -> Transform:
        """``b_from_a``; keeps the :attr:`note`."""
        out = Transform.from_matrix(np.linalg.inv(self.matrix))
        out._note = self._note
        return out

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform ``(*, 3)`` points."""
        r = np.asarray(self.rotation)
        out: np.ndarray = np.asarray(points) @ r.T + np.asarray(self.translation_m)
        return out


class _CameraBase(_Model):
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class PinholeCamera(_CameraBase):
    """Pinhole with Brown–Conrady distortion (OpenCV's rational model: k1..k6, p1, p2)."""

    model: Literal["pinhole"] = "pinhole"
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0
    k5: float = 0.0
    k6: float = 0.0

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def dist_coeffs(self) -> np.ndarray:
        """OpenCV order: k1, k2, p1, p2, k3, k4, k5, k6."""
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3, self.k4, self.k5, self.k6])


class KannalaBrandtCamera(_CameraBase):
    """Kannala–Brandt equidistant fisheye (OpenCV ``cv2.fisheye``: k1..k4)."""

    model: Literal["kannala_brandt"] = "kannala_brandt"
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0


class OmnidirectionalCamera(_CameraBase):
    """Scaramuzza / OCamCalib omnidirectional model.

    ``poly`` are the cam2world polynomial coefficients a0, a1, ... (ascending), ``inv_poly``
    the world2cam ones; ``(cx, cy)`` the centre in pixels (OpenCV x/y order) and
    ``c, d, e`` the affine terms.
    """

    model: Literal["scaramuzza"] = "scaramuzza"
    poly: tuple[float, ...]
    inv_poly: tuple[float, ...] = ()
    cx: float
    cy: float
    c: float = 1.0
    d: float = 0.0
    e: float = 0.0


class DoubleSphereCamera(_CameraBase):
    """Double sphere model (Usenko et al. 2018): fx, fy, cx, cy, xi, alpha."""

    model: Literal["double_sphere"] = "double_sphere"
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    xi: float
    alpha: float = Field(ge=0.0, le=1.0)


class Fisheye624Camera(_CameraBase):
    """Project Aria's Fisheye624 ("FisheyeRadTanThinPrism"): 15 parameters
    ``[f, cu, cv, k0..k5, p0, p1, s0..s3]``.

    With ``a = x/z, b = y/z, r = √(a² + b²), θ = atan r``:
    ``θd = θ (1 + k0 θ² + k1 θ⁴ + … + k5 θ¹²)``, ``(xr, yr) = (θd / r)(a, b)``, ``rd² = xr² + yr²``,
    ``u′ = xr + (2 xr² + rd²) p0 + 2 xr yr p1 + s0 rd² + s1 rd⁴``,
    ``v′ = yr + (2 yr² + rd²) p1 + 2 xr yr p0 + s2 rd² + s3 rd⁴``, ``u = f u′ + cu``, ``v = f v′ + cv``.
    ``fx``/``fy``/``cx``/``cy`` are read-only aliases of ``f``/``f``/``cu``/``cv``.
    """

    model: Literal["fisheye624"] = "fisheye624"
    f: float = Field(gt=0)
    cu: float
    cv: float
    k0: float = 0.0
    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0
    k5: float = 0.0
    p0: float = 0.0
    p1: float = 0.0
    s0: float = 0.0
    s1: float = 0.0
    s2: float = 0.0
    s3: float = 0.0

    PARAM_NAMES: ClassVar[tuple[str, ...]] = (
        "f", "cu", "cv", "k0", "k1", "k2", "k3", "k4", "k5", "p0", "p1", "s0", "s1", "s2", "s3",
    )  # fmt: skip

    @classmethod
    def from_params(cls, params: Sequence[float], *, width: int, height: int) -> Fisheye624Camera:
        """From the 15 parameters in Aria's order (``Projection.Params`` of a calibration file)."""
        values = [float(v) for v in params]
        if len(values) != 15:
            raise ValueError(f"Fisheye624 takes 15 parameters [f, cu, cv, k0..k5, p0, p1, s0..s3], got {len(values)}")
        return cls(width=width, height=height, **dict(zip(cls.PARAM_NAMES, values, strict=True)))

    @property
    def params(self) -> tuple[float, ...]:
        """The 15 parameters in Aria's order."""
        return tuple(float(getattr(self, n)) for n in self.PARAM_NAMES)

    @property
    def fx(self) -> float:
        return self.f

    @property
    def fy(self) -> float:
        return self.f

    @property
    def cx(self) -> float:
        return self.cu

    @property
    def cy(self) -> float:
        return self.cv


CameraModel = Annotated[
    PinholeCamera | KannalaBrandtCamera | OmnidirectionalCamera | DoubleSphereCamera | Fisheye624Camera,
    Field(discriminator="model"),
]


class RadarModel(_Model):
    """An FMCW MIMO radar: antenna layout and chirp profile, with derived resolutions.

    Antenna positions are in units of half a wavelength, ``(x, z)`` per antenna
    (x along azimuth, z along elevation), as in TI's virtual-array diagrams.
    """

    model: Literal["fmcw"] = "fmcw"
    start_freq_ghz: float = Field(gt=0)
    freq_slope_mhz_per_us: float = Field(gt=0)
    adc_samples: int = Field(gt=0)
    sample_rate_ksps: float = Field(gt=0)
    idle_time_us: float = Field(ge=0)
    ramp_end_time_us: float = Field(gt=0)
    chirps_per_frame: int = Field(gt=0, description="chirp loops per frame (per TX)")
    frame_period_ms: float = Field(gt=0)
    tx_positions: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    rx_positions: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))

    @model_validator(mode="after")
    def _sampling_fits_ramp(self) -> RadarModel:
        sampling_us = self.adc_samples / self.sample_rate_ksps * 1e3
        if sampling_us > self.ramp_end_time_us:
            raise ValueError(
                f"adc_samples / sample_rate ({sampling_us:.1f} us) exceeds ramp_end_time_us ({self.ramp_end_time_us})"
            )
        return self

    @property
    def wavelength_m(self) -> float:
        return 299_792_458.0 / (self.start_freq_ghz * 1e9)

    @property
    def bandwidth_hz(self) -> float:
        """Bandwidth actually sampled."""
        return self.freq_slope_mhz_per_us * 1e12 * self.adc_samples / (self.sample_rate_ksps * 1e3)

    @property
    def range_resolution_m(self) -> float:
        return 299_792_458.0 / (2.0 * self.bandwidth_hz)

    @property
    def max_range_m(self) -> float:
        """For complex (IQ) sampling: fs * c / (2 * slope)."""
        return self.sample_rate_ksps * 1e3 * 299_792_458.0 / (2.0 * self.freq_slope_mhz_per_us * 1e12)

    @property
    def chirp_period_s(self) -> float:
        """Time between two chirps of the same TX (TDM-MIMO)."""
        return len(self.tx_positions) * (self.idle_time_us + self.ramp_end_time_us) * 1e-6

    @property
    def max_velocity_m_per_s(self) -> float:
        return self.wavelength_m / (4.0 * self.chirp_period_s)

    @property
    def velocity_resolution_m_per_s(self) -> float:
        return self.wavelength_m / (2.0 * self.chirps_per_frame * self.chirp_period_s)

    @property
    def num_virtual_antennas(self) -> int:
        return len(self.tx_positions) * len(self.rx_positions)

    @property
    def azimuth_resolution_rad(self) -> float:
        """Boresight azimuth resolution of the virtual array's horizontal aperture."""
        xs = {tx[0] + rx[0] for tx in self.tx_positions for rx in self.rx_positions}
        n = max(len(xs), 1)
        return 2.0 / n if n > 1 else math.pi


class DeviceMount(_Model):
    """A sensor rigidly mounted on a moving device (a headset, a phone, a robot).

    The device's pose is a ``device_pose`` stream (``world_from_device`` per frame, see
    :func:`sensorfusion.schema.device_pose_spec`) produced under the sensor id ``device``; the
    sensor's place on the device is the fixed ``device_from_sensor``. The sensor's pose in the
    world at time ``t`` is then ``world_from_device(t) @ device_from_sensor``, and the sensor's
    ``world_from_sensor`` is not used.
    """

    device: str = Field(
        pattern=r"^[A-Za-z0-9_.\-]+$", description="sensor id of the device whose device_pose stream places it"
    )
    device_from_sensor: Transform = Field(default_factory=Transform)


class SensorCalibration(_Model):
    """Where a sensor is and how it maps the world: ``world_from_sensor``, a model, a time offset.

    ``time_offset_ns`` is added to the sensor's timestamps to put them on the rig's reference clock.
    A sensor on a moving device has a ``mount`` instead of a fixed place in the world.
    """

    camera: CameraModel | None = None
    radar: RadarModel | None = None
    world_from_sensor: Transform = Field(default_factory=Transform)
    time_offset_ns: int = 0
    mount: DeviceMount | None = None


class RigCalibration(_Model):
    """Calibration of every sensor of a rig, by sensor id."""

    sensors: dict[str, SensorCalibration] = Field(default_factory=dict)

    def merged(self, other: RigCalibration) -> RigCalibration:
        """``other``'s sensors, overridden by this calibration's (explicit beats provided)."""
        return RigCalibration(sensors={**other.sensors, **self.sensors})

    def notes(self) -> list[str]:
        """What was changed while reading this calibration (re-orthonormalised rotations), per sensor."""
        return [
            f"sensors.{sid}.world_from_sensor: {s.world_from_sensor.note}"
            for sid, s in self.sensors.items()
            if s.world_from_sensor.note
        ]

    def camera(
        self, sensor_id: str
    ) -> PinholeCamera | KannalaBrandtCamera | OmnidirectionalCamera | DoubleSphereCamera | Fisheye624Camera:
        cal = self.sensors.get(sensor_id)
        if cal is None or cal.camera is None:
            from .._errors import ConfigError

            raise ConfigError(
                "no camera calibration for this sensor",
                field_path=f"calibration.sensors.{sensor_id}.camera",
                choices=sorted(k for k, v in self.sensors.items() if v.camera is not None),
            )
        return cal.camera
