"""The ``metrics.mpjpe`` sink: mean per-joint position error of 3D estimates against ground truth."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import linear_sum_assignment

from .._components import Sink, StageContext
from .._errors import ConfigError
from ..schema._streams import FrameKind, FrameSet

__all__ = ["MpjpeSink"]


class MpjpeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    estimate: str = Field(description="the 3D skeleton stream to score, e.g. fusion/skeleton3d")
    ground_truth: str = Field(default="gt/skeleton3d", description="the ground-truth 3D skeleton stream")
    match: str = Field(
        default="nearest",
        pattern="^(nearest|id)$",
        description="pair people by nearest mean joint (Hungarian) or by person_id",
    )
    max_match_distance_m: float = Field(default=0.5, gt=0, description="pairs farther apart than this are not matched")
    joints: list[str] | None = Field(
        default=None, description="score only these joints (names both skeletons share); default: all shared"
    )


class MpjpeSink(Sink):
    """MPJPE (mm) over the joints the two skeletons share by name (or the `joints` listed), people paired per frameset.

    Summary: ``mpjpe_mm`` (mean), ``median_mm``, ``p90_mm``, ``joint_coverage`` (estimated
    / ground-truth joints of matched people), ``matched_person_frames``,
    ``missed_person_frames`` (ground truth with no estimate) and ``extra_person_frames``.
    """

    name = "metrics.mpjpe"
    Params = MpjpeParams

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, MpjpeParams)
        self.p = params
        specs = {s.name: s for s in context.inputs}
        for field_name, stream in (("estimate", params.estimate), ("ground_truth", params.ground_truth)):
            spec = specs.get(stream)
            if spec is None or spec.kind != FrameKind.SKELETON3D:
                raise ConfigError(
                    "not a 3D skeleton stream among the sink's inputs",
                    field_path=context.param_path(field_name),
                    value=stream,
                    choices=sorted(s.name for s in context.inputs if s.kind == FrameKind.SKELETON3D),
                )
        est = context.skeletons.get(str(specs[params.estimate].skeleton))
        gt = context.skeletons.get(str(specs[params.ground_truth].skeleton))
        pairs = [(est.joints.index(j), gt.joints.index(j)) for j in est.joints if j in gt.joints]
        if params.joints is not None:
            shared = {est.joints[a] for a, _ in pairs}
            unknown = [j for j in params.joints if j not in shared]
            if unknown:
                raise ConfigError(
                    "not a joint both skeletons share",
                    field_path=context.param_path("joints"),
                    value=unknown[0],
                    choices=sorted(shared),
                )
            pairs = [(a, b) for a, b in pairs if est.joints[a] in params.joints]
        if not pairs:
            raise ConfigError(
                "the estimate and ground-truth skeletons share no joint", field_path=context.param_path("estimate")
            )
        self.ei = np.array([a for a, _ in pairs])
        self.gi = np.array([b for _, b in pairs])
        self.errors_m: list[np.ndarray] = []
        self.matched = self.missed = self.extra = 0
        self.est_joints = self.gt_joints = 0

    def write(self, frameset: FrameSet) -> None:
        e, g = frameset.get(self.p.estimate), frameset.get(self.p.ground_truth)
        if g is None:
            return
        gj = g["joints"][:, self.gi].astype(np.float64)
        if e is None:
            self.missed += len(gj)
            return
        ej = e["joints"][:, self.ei].astype(np.float64)
        if self.p.match == "id":
            gid = {int(x): i for i, x in enumerate(g["person_id"])}
            rows, cols = [], []
            for i, x in enumerate(e["person_id"]):
                if int(x) in gid:
                    rows.append(i)
                    cols.append(gid[int(x)])
        else:
            dist = np.linalg.norm(ej[:, None] - gj[None], axis=-1)  # (E, G, J)
            ok = np.isfinite(dist)
            n_ok = ok.sum(axis=-1)
            d = np.where(n_ok > 0, np.where(ok, dist, 0.0).sum(axis=-1) / np.maximum(n_ok, 1), 1e9)
            r, c = linear_sum_assignment(d) if d.size else (np.array([], int), np.array([], int))
            keep = d[r, c] <= self.p.max_match_distance_m
            rows, cols = list(r[keep]), list(c[keep])
        for i, j in zip(rows, cols, strict=True):
            err = np.linalg.norm(ej[i] - gj[j], axis=-1)
            ok = np.isfinite(err)
            self.errors_m.append(err[ok])
            self.est_joints += int(ok.sum())
            self.gt_joints += int(np.isfinite(gj[j]).all(-1).sum())
        self.matched += len(rows)
        self.missed += len(gj) - len(cols)
        self.extra += len(ej) - len(rows)

    def summary(self) -> dict[str, Any]:
        errs = np.concatenate(self.errors_m) if self.errors_m else np.zeros(0)
        mm = errs * 1e3
        return {
            "mpjpe_mm": round(float(mm.mean()), 2) if mm.size else None,
            "median_mm": round(float(np.median(mm)), 2) if mm.size else None,
            "p90_mm": round(float(np.percentile(mm, 90)), 2) if mm.size else None,
            "joint_coverage": round(self.est_joints / self.gt_joints, 4) if self.gt_joints else None,
            "matched_person_frames": self.matched,
            "missed_person_frames": self.missed,
            "extra_person_frames": self.extra,
        }
