"""``egocentric.learned`` (the EgoPoseFormer-style model) and ``egocentric.mean_pose`` (the trivial
baseline: the training set's mean pose hung from the device pose)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from sensorfusion import ConfigError, StageContext

from ._base import EgoParams, EgoStage
from ._data import concat_samples, samples_from_session
from ._model import EgoPoseModel, load_model
from ._train import TrainConfig, train_model

__all__ = ["LearnedParams", "LearnedStereo", "MeanPose", "MeanPoseParams", "default_model"]

log = logging.getLogger("sensorfusion.egocentric")


class LearnedParams(EgoParams):
    model: str = Field(description="checkpoint written by `sensorfusion egocentric train`")
    train_if_missing: bool = Field(
        default=False,
        description="when `model` does not exist, train one on simulated sessions first (needs sensorfusion-sim; minutes)",
    )
    train_sessions: int = Field(default=16, ge=2, description="simulated sessions for train_if_missing")
    train_seconds: float = Field(default=20.0, gt=0, description="length of each of them")
    sigma_floor_m: float = Field(default=0.01, gt=0, description="confidence = sigma_floor / max(sigma, sigma_floor)")


def default_model(
    path: str | Path, *, sessions: int = 16, seconds: float = 20.0, seed: int = 0, train: TrainConfig | None = None
) -> EgoPoseModel:
    """Train (and save at ``path``) a model on simulated sessions of a default headset."""
    from ._simulate import simulate_sessions

    with tempfile.TemporaryDirectory(prefix="ego_sim_") as tmp:
        log.warning("egocentric: training a model on %d simulated sessions into %s (a few minutes)", sessions, path)
        paths = simulate_sessions(tmp, [1000 * (seed + 1) + k for k in range(sessions)], seconds=seconds)
        samples = concat_samples([s for p in paths for s in samples_from_session(p)])
        from sensorfusion.schema import builtin_skeletons

        joints = next(s for s in builtin_skeletons() if s.name == samples.skeleton).joints
        result = train_model(samples, train=train or TrainConfig(seed=seed), joints=joints)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    result.model.save(path)
    return result.model


class LearnedStereo(EgoStage):
    """The learned stereo model (:mod:`._model`): the wearer's joints in the device frame from
    both views' keypoints, placed in the world with the device pose. Every joint is estimated
    (also the face and joints out of view, from the body's shape); ``sigma_m`` is the model's own
    per-joint uncertainty and ``confidence = sigma_floor_m / max(sigma_m, sigma_floor_m)``.
    The checkpoint must be for the keypoints' skeleton (else a ``ConfigError``); it projects
    through the rig's calibration of each headset, which is reported when it differs from the
    training headset."""

    name = "egocentric.learned"
    Params = LearnedParams
    output_attrs = {"method": "learned"}

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, LearnedParams)
        self.p = params
        path = Path(params.model)
        if not path.exists() and params.train_if_missing:
            default_model(path, sessions=params.train_sessions, seconds=params.train_seconds, seed=context.seed)
        model = load_model(
            path, skeleton=self.skeleton.name, joints=self.skeleton.joints, field_path=context.param_path("model")
        )
        self.models: list[EgoPoseModel] = []
        self.geometry_differs: list[str] = []
        for h in self.headsets:
            same = all(
                a.model_dump() == b.model_dump() for a, b in zip(h.geometry.models, model.geometry.models, strict=True)
            ) and bool(np.abs(h.geometry.device_from_camera - model.geometry.device_from_camera).max() < 1e-6)
            if not same:
                self.geometry_differs.append(h.device)
                log.warning("egocentric.learned: headset %s differs from the model's training headset", h.device)
            self.models.append(model if same else model.rebind(h.geometry))
        self.training = model.meta

    def estimate_device(
        self, index: int, keypoints: np.ndarray, t_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        joints, sigma = self.models[index].predict(keypoints[None])
        conf = self.p.sigma_floor_m / np.maximum(sigma[0], self.p.sigma_floor_m)
        return joints[0], conf, sigma[0]

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            "model_trained_on": self.training.get("train_samples"),
            "geometry_differs": self.geometry_differs,
        }


class MeanPoseParams(EgoParams):
    model: str = Field(description="a checkpoint of `sensorfusion egocentric train` (its training mean pose is used)")


class MeanPose(EgoStage):
    """The trivial baseline: the training set's mean pose in the device frame, placed in the world
    with the device pose whenever the wearer is detected (the head's pose is known; the body just
    hangs below it in its average posture). Confidence 0.5, ``sigma_m`` the training spread."""

    name = "egocentric.mean_pose"
    Params = MeanPoseParams
    output_attrs = {"method": "trivial"}

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, MeanPoseParams)
        model = load_model(
            params.model,
            skeleton=self.skeleton.name,
            joints=self.skeleton.joints,
            field_path=context.param_path("model"),
        )
        self.mean_pose = model.mean_pose
        spread = model.meta.get("mean_pose_spread_m")
        self.sigma = np.asarray(spread, dtype=np.float64) if spread else np.full(len(self.mean_pose), np.nan)
        if self.mean_pose.shape != (self.skeleton.num_joints, 3):
            raise ConfigError("the model's mean pose does not fit the skeleton", field_path=context.param_path("model"))

    def estimate_device(
        self, index: int, keypoints: np.ndarray, t_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.mean_pose.copy(), np.full(len(self.mean_pose), 0.5), self.sigma.copy()
