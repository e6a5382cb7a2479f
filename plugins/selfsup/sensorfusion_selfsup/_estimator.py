"""``selfsup.fusion``: a trained checkpoint inside a rig, live or on replay.

Drop-in for the built-in ``multiperson`` stage: the same inputs (2D keypoint streams of
calibrated cameras), the same output ``<stage>/skeleton3d`` (``joints``, ``person_id`` = track
id, ``reprojection_error_px``, ``views``, ``status``). Per frameset:

1. people are associated across views and tracked (the SDK's ``PersonFusion``; or the inputs'
   own ids with ``identities: true``) and each detection is assigned to its track
   (:mod:`._tracks`);
2. every track keeps its last ``radius + refiner_radius + 5`` frames of 2D; the SDK's robust
   triangulation of the new frame is added to the track's evidence (``tier``);
3. the model runs **causally** over each track's history (no future frames exist live) and
   the newest frame is reported.

Offline, ``sensorfusion selfsup fuse`` uses both temporal directions and is more accurate.
The up direction of the world is estimated from the tracks' torsos as they come.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.fusion import CaptureVolume, skeleton3d_spec
from sensorfusion.schema import CaptureVolumeConfig

__all__ = ["SelfSupFusion", "SelfSupFusionParams"]


class SelfSupFusionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="checkpoint written by `sensorfusion selfsup train`")
    identities: bool = Field(default=False, description="the inputs' person_id agree across views (else associate)")
    min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="association: keypoints at or below this are left out"
    )
    tier: Literal["auto", "numpy", "cpu", "cuda"] = Field(
        default="auto", description="kernel tier of the robust triangulation"
    )
    device: str = Field(default="cpu", description="torch device of the model")
    max_missing_frames: int = Field(
        default=30, ge=0, description="forget a track's history after this many frames unseen"
    )


class SelfSupFusion(Estimator):
    """A self-supervised fusion model (``sensorfusion selfsup train``) in a rig; outputs as ``multiperson``."""

    name = "selfsup.fusion"
    Params = SelfSupFusionParams
    input_kinds = (FrameKind.KEYPOINTS2D,)
    requires_camera_calibration = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, SelfSupFusionParams)
        self.p = params
        import torch

        from ._checkpoint import load_checkpoint
        from ._data import prepare_recording, skeleton_info
        from ._features import FeatureSettings
        from ._recording import Recording
        from ._tracks import TrackBuilder
        from ._views import view_geometries

        self._torch = torch
        try:
            self.ckpt = load_checkpoint(params.model, device=params.device)
        except ConfigError as e:
            raise ConfigError(str(e), field_path=context.param_path("model"), value=params.model) from e
        skeletons = {s.skeleton for s in context.inputs}
        if len(skeletons) != 1 or None in skeletons:
            raise ConfigError(
                "all inputs must declare the same skeleton",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=sorted(map(str, skeletons)),
            )
        self.skeleton = context.skeletons.get(str(next(iter(skeletons))))
        by_sensor = {s.sensor: s.name for s in context.inputs}
        for s in context.inputs:
            cal = context.calibration.sensors.get(s.sensor)
            if cal is not None and getattr(cal, "mount", None) is not None:
                raise ConfigError(
                    f"camera {s.sensor} is mounted on a moving device; selfsup.fusion needs cameras fixed in the world",
                    field_path=f"{context.config_path or context.stage_id}.inputs",
                    value=s.name,
                )
        if set(self.ckpt.views) <= set(by_sensor) and len(by_sensor) == self.ckpt.num_views:
            sensors = list(self.ckpt.views)
            self.renamed = False
        else:
            sensors = sorted(by_sensor)
            self.renamed = True
        try:
            self.ckpt.check_compatible(skeleton=self.skeleton, views=sensors, where=f"stage {context.stage_id}")
        except ConfigError as e:
            raise ConfigError(str(e), field_path=context.param_path("model"), value=params.model) from e
        if self.renamed:
            context.event(
                "camera_names",
                f"the model was trained on cameras {list(self.ckpt.views)}; using {sensors} in that order",
            )
        self.views = [by_sensor[s] for s in sensors]
        self.sensors = sensors
        self.info = skeleton_info(self.skeleton)
        geoms = view_geometries(context.calibration, sensors)
        self.settings = FeatureSettings(
            min_confidence=self.ckpt.features.min_confidence,
            threshold_px=self.ckpt.features.threshold_px,
            refine_iters=self.ckpt.features.refine_iters,
            tier=params.tier,
        )
        empty = Recording(
            name=context.stage_id,
            views=tuple(sensors),
            calibration=context.calibration,
            skeleton=self.skeleton,
            t_ns=np.zeros(0, dtype=np.int64),
            tracks=(),
        )
        self.ctx, _ = prepare_recording(empty, 0, self.info, self.settings)
        self.builder = TrackBuilder(
            geoms, self.skeleton.parents, identities=params.identities, min_confidence=params.min_confidence,
            tier="numpy" if params.tier == "auto" else params.tier,
        )  # fmt: skip
        c = self.ckpt.model.config
        self.history = c.radius + c.refiner_radius + 5
        # people outside the rig's capture volume are flagged (or dropped) as multiperson does
        self.volume = CaptureVolume.from_calibration(
            context.capture_volume if context.capture_volume is not None else CaptureVolumeConfig(),
            context.calibration,
            sensors,
        )
        self.outside = 0
        self._tracks: dict[int, dict[str, Any]] = {}
        self._torso: deque[np.ndarray] = deque(maxlen=600)
        self.out_name = f"{context.stage_id}/skeleton3d"
        self.frames = 0
        self.person_frames = 0
        self._err_sum = 0.0
        self._err_n = 0

    def outputs(self) -> list[StreamSpec]:
        # the fusion stages' one contract, so selfsup.fusion replaces multiperson in any rig
        return [skeleton3d_spec(self.out_name, self.skeleton, status=True)]

    def _up(self) -> np.ndarray:
        if len(self._torso) >= 5:
            t = np.stack(self._torso)
            m = np.median(t / np.linalg.norm(t, axis=-1, keepdims=True), axis=0)  # finite by construction
            if np.isfinite(m).all() and np.linalg.norm(m) > 0.3:
                return np.asarray(m / np.linalg.norm(m))
        return np.asarray(self.ctx.up.numpy(), dtype=np.float64)

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        from ._data import Batch
        from ._features import compute_features
        from ._infer import estimate_outputs, run_model
        from ._tracks import Detections

        J = self.skeleton.num_joints
        V = len(self.views)
        dets: list[Detections | None] = []
        for name in self.views:
            f = frameset.get(name)
            if f is None:
                dets.append(None)
                continue
            kp = np.asarray(f["keypoints"], dtype=np.float64)
            pid = np.asarray(f.data.get("person_id", np.full(len(kp), -1)), dtype=np.int64)
            dets.append(Detections(kp, pid))
        seen = self.builder.step(frameset.t_ref_ns * 1e-9, dets)
        self.frames += 1
        H = self.history
        for tid in seen:
            tr = self._tracks.setdefault(tid, {"kp": deque(maxlen=H), "cons": deque(maxlen=H), "inl": deque(maxlen=H)})
            tr["last"] = self.frames
        # every live track gets this frame (NaN where unseen), so histories stay aligned in time
        for tid in list(self._tracks):
            tr = self._tracks[tid]
            if self.frames - tr["last"] > self.p.max_missing_frames:
                del self._tracks[tid]
                continue
            blank = np.full((V, J, 3), np.nan)
            blank[..., 2] = 0.0
            tr["kp"].append(seen.get(tid, blank))
            tr["cons"].append(np.full((J, 3), np.nan))
            tr["inl"].append(np.zeros((V, J), dtype=bool))
        active = sorted(seen)
        if not active:
            return {self.out_name: _empty_output(J)}
        L = max(len(self._tracks[t]["kp"]) for t in active)
        N = len(active)
        kp = np.full((N, L, V, J, 3), np.nan)
        kp[..., 2] = 0.0
        cons = np.full((N, L, J, 3), np.nan)
        inl = np.zeros((N, L, V, J), dtype=bool)
        for n, tid in enumerate(active):
            tr = self._tracks[tid]
            h = len(tr["kp"])
            kp[n, L - h :] = np.stack(tr["kp"])
            cons[n, L - h :] = np.stack(tr["cons"])
            inl[n, L - h :] = np.stack(tr["inl"])
        recompute = np.zeros((N, L, J), dtype=bool)
        recompute[:, -1] = True
        feats = compute_features(kp, self.ctx.geometries, self.settings, consensus=cons, inlier=inl,
                                 recompute=recompute, causal=True)  # fmt: skip
        for n, tid in enumerate(active):
            tr = self._tracks[tid]
            tr["cons"][-1] = feats.consensus[n, -1]
            tr["inl"][-1] = feats.inlier[n, -1]
            X = feats.consensus[n, -1]
            torso = 0.5 * (X[self.info.left_shoulder] + X[self.info.right_shoulder]) - 0.5 * (
                X[self.info.left_hip] + X[self.info.right_hip]
            )
            if np.isfinite(torso).all() and np.linalg.norm(torso) > 0.05:
                self._torso.append(torso)
        self.ctx.up = self._torch.as_tensor(self._up(), dtype=self.ctx.up.dtype)
        batch = Batch(
            recording=np.zeros(N, dtype=np.int64),
            keypoints=kp,
            target=kp,
            features=feats,
            bone_ref_m=np.full((N, len(self.info.bones)), np.nan),
            causal=np.ones(N, dtype=bool),
            valid_frame=np.ones((N, L), dtype=bool),
        )
        X_all, _, w_all = run_model(self.ckpt.model, batch, [self.ctx], device=self.p.device)
        joints = X_all[:, -1]
        views, err, status = estimate_outputs(joints, w_all[:, -1], kp[:, -1], self.ctx)
        finite = np.isfinite(err)
        self._err_sum += float(err[finite].sum())
        self._err_n += int(finite.sum())
        self.person_frames += N
        inside = self.volume.people_inside(joints)
        self.outside += int((~inside).sum())
        keep = inside if self.volume.outside == "drop" else np.ones(N, dtype=bool)
        return {
            self.out_name: {
                "joints": joints[keep].astype(np.float32),
                "person_id": np.asarray(active, dtype=np.int64)[keep],
                "reprojection_error_px": err[keep].astype(np.float32),
                "views": np.minimum(views[keep], 127).astype(np.int8),
                "status": status[keep].astype(np.int8),
                "in_volume": inside[keep].astype(bool),
            }
        }

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "framesets": self.frames,
            "person_frames": self.person_frames,
            "mean_reprojection_error_px": round(self._err_sum / self._err_n, 3) if self._err_n else None,
            "outside_volume_person_frames": self.outside,
            "model": self.p.model,
            "model_views": list(self.ckpt.views),
            "views": self.sensors,
            "unassigned_detections": self.builder.unassigned,
        }
        if self.builder.fusion is not None:
            tr = self.builder.fusion.tracker
            out.update(tracks_born=tr.births, tracks_died=tr.deaths, reidentified=tr.reidentified)
        return out


def _empty_output(J: int) -> dict[str, np.ndarray]:
    return {
        "joints": np.zeros((0, J, 3), np.float32),
        "person_id": np.zeros(0, np.int64),
        "reprojection_error_px": np.zeros((0, J), np.float32),
        "views": np.zeros((0, J), np.int8),
        "status": np.zeros((0, J), np.int8),
        "in_volume": np.zeros(0, bool),
    }
