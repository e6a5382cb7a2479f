"""``eval.trc``: score a 3D skeleton stream against a reference ``.trc`` and by its own consistency.

Three figures, all in the run's summary (and ``<out_dir>/<sink id>.json`` + a PNG plot when
the run records):

* **median reprojection error** (px): the median of the estimate's
  ``reprojection_error_px`` over every frame, person and joint that has one (the
  triangulation stage's per-joint mean over the views it used).
* **bone-length coefficient of variation**: for each bone (a pair of joints, by name),
  its length per frame, ``std / mean`` over the frames where both ends exist; the summary
  gives the median over bones and every bone's value. A rigid body gives 0.
* **MPJPE** (mm; ``mpjpe_mm`` mean, ``median_mm``, ``joint_coverage`` = estimated / reference
  joints, the keys of ``metrics.mpjpe``) against the ``.trc`` (Pose2Sim, OpenSim, motion capture) on the joints both
  skeletons name identically (shared joint vocabulary of ``sensorfusion.schema``; derived or
  approximate joints are *not* used), per frame the estimated person nearest to the
  reference. Frames are matched by index: frameset time ``t`` is video frame
  ``k = round(t * rate_hz)`` and ``.trc`` row ``Frame# = k + 1 + frame_offset``.

TRC axes: ``world_axes_from_trc`` says which ``.trc`` column (``X``, ``Y``, ``Z``, optionally
with ``-``) gives world x, y and z. Pose2Sim writes a Z-up world Y-up for OpenSim
(trc X, Y, Z = world Y, Z, X), so its inverse is ``["Z", "X", "Y"]`` (the default).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sensorfusion import ConfigError, FrameKind, FrameSet, Sink, StageContext

__all__ = ["TRC_MARKER_NAMES", "TrcEvalParams", "TrcEvalSink", "TrcData", "read_trc"]

# Pose2Sim / OpenPose marker names -> the shared joint vocabulary (exact anatomical matches only)
TRC_MARKER_NAMES = {
    "Nose": "nose",
    "Neck": "upper_neck",
    "Head": "head_top",
    **{
        f"{s}{m}": f"{side}_{j}"
        for s, side in (("R", "right"), ("L", "left"))
        for m, j in (
            ("Hip", "hip"),
            ("Knee", "knee"),
            ("Ankle", "ankle"),
            ("BigToe", "big_toe"),
            ("SmallToe", "small_toe"),
            ("Heel", "heel"),
            ("Shoulder", "shoulder"),
            ("Elbow", "elbow"),
            ("Wrist", "wrist"),
            ("Eye", "eye"),
            ("Ear", "ear"),
        )
    },
}

_DEFAULT_BONES = [
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
]


@dataclass(frozen=True)
class TrcData:
    """A ``.trc`` file: ``frames (T,)`` Frame# values, ``times_s (T,)``, ``markers`` names, ``xyz_m (T, M, 3)``."""

    rate_hz: float
    frames: np.ndarray
    times_s: np.ndarray
    markers: tuple[str, ...]
    xyz_m: np.ndarray


def read_trc(path: str | os.PathLike[str]) -> TrcData:
    """Read a ``.trc`` marker file (tab-separated; units ``m`` or ``mm``; empty cells are NaN)."""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    if len(lines) < 6 or not lines[0].startswith("PathFileType"):
        raise ValueError(f"{path}: not a .trc file (no PathFileType header)")
    keys, vals = lines[1].split("\t"), lines[2].split("\t")
    meta = {k.strip(): v.strip() for k, v in zip(keys, vals, strict=False)}
    rate = float(meta.get("DataRate", "nan"))
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(meta.get("Units", "m"), None)
    if scale is None:
        raise ValueError(f"{path}: unknown Units {meta.get('Units')!r}")
    names_row = lines[3].split("\t")
    markers = tuple(n.strip() for n in names_row[2:] if n.strip())
    rows: list[list[float]] = []
    for line in lines[5:]:
        if not line.strip():
            continue
        cells = line.split("\t")
        vals_f = [float(c) if c.strip() else np.nan for c in cells[: 2 + 3 * len(markers)]]
        vals_f += [np.nan] * (2 + 3 * len(markers) - len(vals_f))
        rows.append(vals_f)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 2 + 3 * len(markers))
    return TrcData(
        rate, arr[:, 0].astype(np.int64), arr[:, 1], markers, arr[:, 2:].reshape(len(arr), len(markers), 3) * scale
    )


class TrcEvalParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    estimate: str = Field(description="the 3D skeleton stream to score, e.g. fusion/skeleton3d")
    trc: str | None = Field(
        default=None,
        description="reference .trc file; relative paths are relative to the working directory; $VARS are expanded",
    )
    world_axes_from_trc: tuple[str, str, str] = Field(
        default=("Z", "X", "Y"), description="trc column giving world x, y, z (X/Y/Z, optionally -)"
    )
    rate_hz: float | None = Field(
        default=None,
        gt=0,
        description="frame rate mapping frameset time to the frame index (default: the trc's DataRate)",
    )
    frame_offset: int = Field(default=0, description="trc Frame# = video frame index + 1 + frame_offset")
    bones: list[tuple[str, str]] | None = Field(
        default=None,
        description="bones (joint name pairs) for the length CV; default: upper/lower arms and legs, shoulder and hip widths",
    )

    @field_validator("world_axes_from_trc")
    @classmethod
    def _axes(cls, v: tuple[str, str, str]) -> tuple[str, str, str]:
        axes = [a.lstrip("+-").upper() for a in v]
        if sorted(axes) != ["X", "Y", "Z"]:
            raise ValueError(f"must be a permutation of X, Y, Z with optional signs, got {list(v)}")
        return v


class TrcEvalSink(Sink):
    """Median reprojection error, bone-length CV and MPJPE against a ``.trc`` (see the module docstring)."""

    name = "eval.trc"
    Params = TrcEvalParams

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, TrcEvalParams)
        self.p = params
        specs = {s.name: s for s in context.inputs}
        spec = specs.get(params.estimate)
        if spec is None or spec.kind != FrameKind.SKELETON3D:
            raise ConfigError(
                "not a 3D skeleton stream among the sink's inputs",
                field_path=context.param_path("estimate"),
                value=params.estimate,
                choices=sorted(s.name for s in context.inputs if s.kind == FrameKind.SKELETON3D),
            )
        self.skeleton = context.skeletons.get(str(spec.skeleton))
        joints = self.skeleton.joints
        bones = (
            params.bones
            if params.bones is not None
            else [b for b in _DEFAULT_BONES if b[0] in joints and b[1] in joints]
        )
        for i, (a, b) in enumerate(bones):
            for j in (a, b):
                if j not in joints:
                    raise ConfigError(
                        f"bone joint {j!r} is not in skeleton {self.skeleton.name}",
                        field_path=context.param_path(f"bones[{i}]"),
                        value=j,
                    )
        self.bones = [(a, b) for a, b in bones]
        self.bone_idx = np.array([(joints.index(a), joints.index(b)) for a, b in self.bones], dtype=np.int64).reshape(
            -1, 2
        )
        self.trc: TrcData | None = None
        self.pairs: list[tuple[str, int, int]] = []
        if params.trc is not None:
            path = Path(os.path.expandvars(params.trc))
            if not path.is_file():
                raise ConfigError("reference .trc file not found (relative paths are relative to the working directory)",
                                  field_path=context.param_path("trc"), value=params.trc)  # fmt: skip
            try:
                self.trc = read_trc(path)
            except ValueError as exc:
                raise ConfigError(str(exc), field_path=context.param_path("trc"), value=params.trc) from None
            for m, marker in enumerate(self.trc.markers):
                joint = TRC_MARKER_NAMES.get(marker)
                if joint is not None and joint in joints:
                    self.pairs.append((joint, joints.index(joint), m))
            if not self.pairs:
                raise ConfigError(f"the .trc markers share no joint with skeleton {self.skeleton.name}", field_path=context.param_path("trc"),
                                  value=list(self.trc.markers))  # fmt: skip
            perm = np.zeros((3, 3))
            for w, a in enumerate(params.world_axes_from_trc):
                perm[w, "XYZ".index(a.lstrip("+-").upper())] = -1.0 if a.startswith("-") else 1.0
            self.world_from_trc = perm
            self.rate_hz = params.rate_hz or self.trc.rate_hz
            self.trc_row = {int(f): i for i, f in enumerate(self.trc.frames)}
        self.reproj: list[np.ndarray] = []
        self.bone_len: list[np.ndarray] = []  # per frame (B,), first person
        self.times_s: list[float] = []
        self.errors_m: list[np.ndarray] = []  # per scored frame (S,) NaN where missing
        self.error_times_s: list[float] = []
        self.frames = 0
        self.unmatched_frames = 0
        self.ref_joints = 0  # finite reference joints of scored frames
        self.est_joints = 0  # ... that have a finite estimate

    def write(self, frameset: FrameSet) -> None:
        f = frameset.get(self.p.estimate)
        if f is None:
            return
        self.frames += 1
        joints = np.asarray(f["joints"], dtype=np.float64)
        if "reprojection_error_px" in f.data:
            e = np.asarray(f["reprojection_error_px"], dtype=np.float64).ravel()
            self.reproj.append(e[np.isfinite(e)])
        if len(joints) == 0:
            return
        t_s = frameset.t_ref_ns / 1e9
        person = 0
        if self.trc is not None:
            k = round(t_s * self.rate_hz)
            row = self.trc_row.get(k + 1 + self.p.frame_offset)
            if row is None:
                self.unmatched_frames += 1
            else:
                ref = self.trc.xyz_m[row][[m for _, _, m in self.pairs]] @ self.world_from_trc.T
                est = joints[:, [j for _, j, _ in self.pairs]]
                err = np.linalg.norm(est - ref[None], axis=-1)  # (P, S)
                with np.errstate(invalid="ignore"):
                    mean = np.where(np.isfinite(err).any(axis=1), np.nanmean(np.where(np.isfinite(err), err, np.nan), axis=1), np.inf) \
                        if err.size else np.zeros(0)  # fmt: skip
                person = int(np.argmin(mean))
                if np.isfinite(mean[person]):
                    self.errors_m.append(err[person])
                    self.error_times_s.append(t_s)
                    self.ref_joints += int(np.isfinite(ref).all(axis=-1).sum())
                    self.est_joints += int(np.isfinite(err[person]).sum())
        if len(self.bone_idx):
            j = joints[person]
            self.bone_len.append(np.linalg.norm(j[self.bone_idx[:, 0]] - j[self.bone_idx[:, 1]], axis=-1))
            self.times_s.append(t_s)

    def _figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {"framesets": self.frames}
        rep = np.concatenate(self.reproj) if self.reproj else np.zeros(0)
        out["median_reprojection_error_px"] = round(float(np.median(rep)), 3) if rep.size else None
        if self.bone_len:
            L = np.stack(self.bone_len)
            cv: dict[str, float | None] = {}
            for b, (a, c) in enumerate(self.bones):
                x = L[:, b][np.isfinite(L[:, b])]
                cv[f"{a}-{c}"] = round(float(x.std() / x.mean()), 4) if len(x) > 1 and x.mean() > 0 else None
            vals = [v for v in cv.values() if v is not None]
            out["bone_length_cv_median"] = round(float(np.median(vals)), 4) if vals else None
            out["bone_length_cv"] = cv
        if self.trc is not None:
            E = np.stack(self.errors_m) if self.errors_m else np.zeros((0, len(self.pairs)))
            ok = np.isfinite(E)
            out["mpjpe_mm"] = round(float(E[ok].mean() * 1e3), 2) if ok.any() else None
            out["median_mm"] = round(float(np.median(E[ok]) * 1e3), 2) if ok.any() else None
            out["joint_coverage"] = round(self.est_joints / self.ref_joints, 4) if self.ref_joints else None
            out["mpjpe_per_joint_mm"] = {
                name: (round(float(np.nanmean(E[:, s]) * 1e3), 2) if ok[:, s].any() else None)
                for s, (name, _, _) in enumerate(self.pairs)
            }
            out["mpjpe_joints"] = [n for n, _, _ in self.pairs]
            out["mpjpe_frames"] = len(E)
            out["frames_without_reference"] = self.unmatched_frames
        return out

    def summary(self) -> dict[str, Any]:
        return self._figures()

    def close(self) -> None:
        out_dir = self.context.out_dir
        if out_dir is None:
            return
        figures = self._figures()
        base = Path(out_dir) / self.context.stage_id
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
        self._plot(base.with_suffix(".png"))

    def _plot(self, path: Path) -> None:
        if not self.bone_len and not self.errors_m:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
        if self.bone_len:
            L = np.stack(self.bone_len)
            for b, (a, c) in enumerate(self.bones):
                axes[0].plot(self.times_s, L[:, b] * 100, label=f"{a}-{c}", lw=1)
            axes[0].set_ylabel("bone length (cm)")
            axes[0].legend(fontsize=6, ncol=2)
        if self.errors_m:
            E = np.stack(self.errors_m) * 1e3
            axes[1].plot(self.error_times_s, np.nanmean(E, axis=1), color="k", lw=1.5, label="MPJPE")
            axes[1].set_ylabel("error vs .trc (mm)")
            axes[1].legend(fontsize=7)
        axes[1].set_xlabel("time (s)")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
