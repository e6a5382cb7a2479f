"""Where a ceiling camera is: its height, position, yaw and tilt from floor points seen in its image.

Given the lens calibration (any model) and N >= 4 image points whose positions on the floor
plan are known (tape marks, tile corners, a floor checkerboard), :func:`fit_ceiling_mount`
solves the perspective-n-point problem through the fisheye model:

1. every pixel is unprojected to its ray; rays less than 80° from the optical axis become ideal
   pinhole points ``(x/z, y/z)``, and OpenCV's SQPnP gives a first pose (any model, any tilt);
   with too few such rays the camera is first assumed to look straight down from the rays'
   own geometry;
2. Levenberg–Marquardt (``scipy.optimize.least_squares``, robust ``soft_l1`` loss scaled to
   ``loss_scale_px``) refines the six pose parameters on the reprojection error in pixels,
   through the lens model itself (so rays beyond 90° count too);
3. the standard deviations of height, tilt and position come from the Jacobian at the
   solution (``σ² (JᵀJ)⁻¹`` with σ the residuals' RMS).

``sensorfusion overhead-mount`` runs it from the command line on a CSV of ``u, v, x, y[, z]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from sensorfusion import ConfigError, RigCalibration, Transform
from sensorfusion.geometry import Camera, project, unproject
from sensorfusion.schema import CeilingMount

__all__ = ["MountFit", "configure_mount", "fit_ceiling_mount", "read_floor_points", "run_mount"]


@dataclass(frozen=True)
class MountFit:
    """The fitted pose of a ceiling camera.

    Attributes:
        mount: height, position, yaw, tilt.
        world_from_sensor: the same as a pose.
        rms_px: RMS reprojection error of the points.
        residuals_px: ``(N,)`` reprojection error of each point.
        sigma: standard deviations ``height_m``, ``x_m``, ``y_m``, ``tilt_rad`` (from the Jacobian).
    """

    mount: CeilingMount
    world_from_sensor: Transform
    rms_px: float
    residuals_px: np.ndarray
    sigma: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "mount": self.mount.model_dump(),
            "tilt_deg": math.degrees(self.mount.tilt_rad),
            "yaw_deg": math.degrees(self.mount.yaw_rad),
            "rms_px": self.rms_px,
            "max_px": float(np.max(self.residuals_px)) if len(self.residuals_px) else None,
            "sigma": self.sigma,
            "world_from_sensor": self.world_from_sensor.model_dump(),
        }


def _rotvec_to_matrix(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    out: np.ndarray = Rotation.from_rotvec(r).as_matrix()
    return out


def _initial_pose(camera: Camera, rays: np.ndarray, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rotvec, translation) of camera_from_world: SQPnP on the rays within 80° of the axis."""
    import cv2

    near = rays[:, 2] > math.cos(math.radians(80.0))
    if near.sum() >= 4:
        obj = world[near].astype(np.float64)
        img = (rays[near, :2] / rays[near, 2:3]).astype(np.float64)
        ok, rvec, tvec = cv2.solvePnP(obj, img, np.eye(3), None, flags=cv2.SOLVEPNP_SQPNP)
        if ok:
            return np.asarray(rvec, np.float64).ravel(), np.asarray(tvec, np.float64).ravel()
    # fallback: straight down above the points' centroid, at a height that matches the spread of angles
    centroid = world.mean(axis=0)
    ang = np.arccos(np.clip(rays[:, 2], -1.0, 1.0))
    spread = np.hypot(*(world[:, :2] - centroid[:2]).T)
    height = float(np.median(spread / np.maximum(np.tan(np.minimum(ang, 1.4)), 1e-3))) + float(centroid[2])
    wfs = (
        CeilingMount(height_m=max(height, 0.5), position_m=(float(centroid[0]), float(centroid[1])))
        .world_from_sensor()
        .matrix
    )
    cfw = np.linalg.inv(wfs)
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(cfw[:3, :3]).as_rotvec(), cfw[:3, 3]


def fit_ceiling_mount(
    camera: Camera,
    pixels: np.ndarray,
    world_points: np.ndarray,
    *,
    loss_scale_px: float = 2.0,
) -> MountFit:
    """The pose of ``camera`` from ``pixels`` ``(N, 2)`` of world points ``(N, 2)`` (on the floor) or ``(N, 3)``.

    Raises ``ValueError`` for fewer than 4 usable points, collinear floor points, or a solution
    that does not put the camera above the floor looking down.
    """
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    w = np.asarray(world_points, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] not in (2, 3) or len(w) != len(px):
        raise ValueError(f"expected world points (N, 2) or (N, 3) for {len(px)} pixels, got shape {w.shape}")
    if w.shape[1] == 2:
        w = np.column_stack([w, np.zeros(len(w))])
    rays = unproject(camera, px, tier="numpy")
    ok = np.all(np.isfinite(rays), axis=1) & np.all(np.isfinite(w), axis=1)
    px, w, rays = px[ok], w[ok], rays[ok]
    if len(px) < 4:
        raise ValueError(f"a ceiling camera's pose needs at least 4 points the lens images, got {len(px)}")
    centred = w[:, :2] - w[:, :2].mean(axis=0)
    if (
        np.linalg.svd(centred, compute_uv=False)[-1] < 1e-3 * max(1.0, float(np.abs(centred).max()))
        and np.ptp(w[:, 2]) < 1e-6
    ):
        raise ValueError("the floor points are collinear: the tilt about their line is undetermined")
    rvec, tvec = _initial_pose(camera, rays, w)

    def residual(x: np.ndarray) -> np.ndarray:
        r = _rotvec_to_matrix(x[:3])
        pc = w @ r.T + x[3:]
        uv = project(camera, pc, tier="numpy")
        res = (uv - px).ravel()
        return np.where(np.isfinite(res), res, 1e3)

    sol = least_squares(residual, np.concatenate([rvec, tvec]), loss="soft_l1", f_scale=loss_scale_px, x_scale="jac")
    r = _rotvec_to_matrix(sol.x[:3])
    cfw = np.eye(4)
    cfw[:3, :3] = r
    cfw[:3, 3] = sol.x[3:]
    wfs = np.linalg.inv(cfw)
    try:
        mount = CeilingMount.from_pose(wfs)
    except ValueError as exc:
        raise ValueError(f"the fitted pose is not a ceiling camera's: {exc}") from None
    err = np.hypot(*(project(camera, w @ r.T + sol.x[3:], tier="numpy") - px).T)
    rms = float(np.sqrt(np.mean(err**2)))
    sigma = _pose_sigma(camera, px, w, wfs, rms)
    return MountFit(mount, Transform.from_matrix(wfs), rms, err, sigma)


def _pose_sigma(camera: Camera, px: np.ndarray, w: np.ndarray, wfs: np.ndarray, rms: float) -> dict[str, float]:
    """Standard deviations of the mount's height, position and tilt (numerical Jacobian in mount space)."""
    m = CeilingMount.from_pose(wfs)
    base = np.array([m.height_m, m.position_m[0], m.position_m[1], m.yaw_rad, m.tilt_rad, m.tilt_azimuth_rad])
    tilt_small = m.tilt_rad < 1e-3

    def reproj(q: np.ndarray) -> np.ndarray:
        mm = CeilingMount(
            height_m=q[0], position_m=(q[1], q[2]), yaw_rad=q[3], tilt_rad=abs(q[4]), tilt_azimuth_rad=q[5]
        )
        pose = np.linalg.inv(mm.world_from_sensor().matrix)
        uv = project(camera, w @ pose[:3, :3].T + pose[:3, 3], tier="numpy")
        out: np.ndarray = (uv - px).ravel()
        return out

    if tilt_small:  # the tilt azimuth is undefined at zero tilt: parameterise the tilt as a 2-vector instead
        base[4] = 1e-3
    J = np.empty((2 * len(px), 6))
    for k in range(6):
        h = 1e-6 * max(1.0, abs(base[k]))
        up, dn = base.copy(), base.copy()
        up[k] += h
        dn[k] -= h
        J[:, k] = (reproj(up) - reproj(dn)) / (2 * h)
    keep = [0, 1, 2, 3, 4] + ([] if tilt_small else [5])
    J = J[:, keep]
    dof = max(2 * len(px) - len(keep), 1)
    s2 = max(rms**2 * 2 * len(px) / dof, 1e-12)
    try:
        cov = np.linalg.inv(J.T @ J) * s2
    except np.linalg.LinAlgError:
        return {}
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return {
        "height_m": float(sd[0]),
        "x_m": float(sd[1]),
        "y_m": float(sd[2]),
        "yaw_rad": float(sd[3]),
        "tilt_rad": float(sd[4]),
    }


def read_floor_points(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A CSV of ``u, v, x, y[, z]`` (a header row with those names, or none): pixels and world points."""
    rows: list[list[float]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for k, row in enumerate(csv.reader(fh)):
            cells = [c.strip() for c in row if c.strip()]
            if not cells or cells[0].startswith("#"):
                continue
            try:
                rows.append([float(c) for c in cells])
            except ValueError:
                if k == 0 and [c.lower() for c in cells[:4]] == ["u", "v", "x", "y"]:
                    continue
                raise ValueError(f"{path}: row {k + 1} is not numbers: {row}") from None
    if not rows:
        raise ValueError(f"{path}: no points")
    width = {len(r) for r in rows}
    if width - {4, 5} or len(width) != 1:
        raise ValueError(f"{path}: every row must be u, v, x, y or u, v, x, y, z; got rows of {sorted(width)} values")
    a = np.asarray(rows, dtype=np.float64)
    return a[:, :2], a[:, 2:]


# --- the command ------------------------------------------------------------------------------


def configure_mount(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration", required=True, help="calibration file with the camera's lens model (any format the SDK reads)"
    )
    p.add_argument("--camera", required=True, help="the camera's id in the calibration")
    p.add_argument(
        "--points", required=True, help="CSV of u, v, x, y[, z]: pixels and their floor-plan positions (metres)"
    )
    p.add_argument("--out", help="write the calibration with this camera's fitted pose (SDK JSON)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run_mount(args: argparse.Namespace) -> int:
    import sys

    from sensorfusion import load_calibration

    try:
        cal = load_calibration(Path(args.calibration))
        camera = cal.camera(args.camera)
        if camera.model not in CeilingMount.lens_models and camera.model != "pinhole":
            raise ConfigError("not a camera model this fit knows", field_path="--camera", value=camera.model)
        px, world = read_floor_points(args.points)
        fit = fit_ceiling_mount(camera, px, world)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"sensorfusion overhead-mount: {exc}", file=sys.stderr)
        return 2
    if args.out:
        entry = cal.sensors[args.camera].model_copy(update={"world_from_sensor": fit.world_from_sensor})
        out = RigCalibration(sensors={**cal.sensors, args.camera: entry})
        Path(args.out).write_text(out.model_dump_json(indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps({"camera": args.camera, "points": len(px), **fit.as_json(), "out": args.out}))
        return 0
    m, s = fit.mount, fit.sigma
    print(
        f"camera {args.camera}: {len(px)} points, RMS {fit.rms_px:.2f} px (max {float(np.max(fit.residuals_px)):.2f} px)"
    )
    print(f"  height   {m.height_m:.3f} m" + (f"  ± {s['height_m']:.3f}" if "height_m" in s else ""))
    print(
        f"  position ({m.position_m[0]:.3f}, {m.position_m[1]:.3f}) m"
        + (f"  ± ({s['x_m']:.3f}, {s['y_m']:.3f})" if "x_m" in s else "")
    )
    print(f"  tilt     {math.degrees(m.tilt_rad):.2f}° toward azimuth {math.degrees(m.tilt_azimuth_rad):.1f}°"
          + (f"  ± {math.degrees(s['tilt_rad']):.2f}°" if "tilt_rad" in s else ""))  # fmt: skip
    print(f"  yaw      {math.degrees(m.yaw_rad):.2f}°")
    if args.out:
        print(f"  written: {args.out}")
    return 0
