"""Versioned checkpoints: tensors and plain metadata only, so they load with ``weights_only=True``.

A checkpoint is a ``dict``: ``format`` (``"sensorfusion-selfsup/1"``), ``state_dict`` (tensors),
``model`` (the :class:`ModelConfig` as plain data), ``features`` (the consensus settings),
``skeleton`` (name and joint names), ``views`` (sensor ids), ``cameras`` (model and image size
per view), ``train`` (sessions, epochs, steps, seconds, losses per epoch) and ``software``.
:func:`load_checkpoint` refuses other formats, and :meth:`Checkpoint.check_compatible` refuses a
recording of another skeleton or camera count, each with a message that says what differs.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sensorfusion import ConfigError, SkeletonSpec

from ._features import FeatureSettings
from ._model import ModelConfig, SelfSupFusionModel

__all__ = ["FORMAT", "Checkpoint", "load_checkpoint"]

FORMAT = "sensorfusion-selfsup/1"


@dataclass
class Checkpoint:
    """A trained model and what it was trained for."""

    model: SelfSupFusionModel
    skeleton: str
    joints: tuple[str, ...]
    views: tuple[str, ...]
    cameras: tuple[dict[str, Any], ...]
    features: FeatureSettings
    train: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)

    @property
    def num_views(self) -> int:
        return len(self.views)

    def save(self, path: str | Path) -> Path:
        import sensorfusion

        from . import __version__

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": FORMAT,
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "model": self.model.config.as_dict(),
            "features": {
                "min_confidence": self.features.min_confidence,
                "threshold_px": self.features.threshold_px,
                "refine_iters": self.features.refine_iters,
            },
            "skeleton": {"name": self.skeleton, "joints": list(self.joints)},
            "views": list(self.views),
            "cameras": [dict(c) for c in self.cameras],
            "train": self.train,
            "software": {
                "sensorfusion": sensorfusion.__version__,
                "sensorfusion-selfsup": __version__,
                "torch": str(torch.__version__),
                "saved": _dt.datetime.now(_dt.UTC).isoformat(),
            },
        }
        torch.save(doc, str(p))
        return p

    def check_compatible(self, *, skeleton: SkeletonSpec, views: Sequence[str], where: str) -> None:
        """A :class:`ConfigError` unless ``skeleton`` and the number of ``views`` are the model's."""
        if skeleton.name != self.skeleton or tuple(skeleton.joints) != self.joints:
            raise ConfigError(
                f"the model was trained on skeleton {self.skeleton} ({len(self.joints)} joints); {where} has "
                f"{skeleton.name} ({skeleton.num_joints} joints). Train a model on {skeleton.name} keypoints",
                field_path="--model",
                value=skeleton.name,
                choices=[self.skeleton],
            )
        if len(views) != self.num_views:
            raise ConfigError(
                f"the model was trained for {self.num_views} cameras ({', '.join(self.views)}); {where} has "
                f"{len(views)} ({', '.join(views)}). Train a model for this camera set, or pick {self.num_views} "
                "cameras with --views",
                field_path="--model",
                value=str(len(views)),
                choices=[str(self.num_views)],
            )


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint (``weights_only=True``); a :class:`ConfigError` names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("no such model file", field_path="--model", value=str(p))
    try:
        doc = torch.load(str(p), map_location=device, weights_only=True)
    except Exception as e:
        raise ConfigError(f"{p} is not a loadable selfsup checkpoint: {e}", field_path="--model", value=str(p)) from e
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt != FORMAT:
        raise ConfigError(
            f"{p} is not a selfsup model (format {fmt!r}; this version reads {FORMAT!r})",
            field_path="--model",
            value=str(p),
        )
    try:
        config = ModelConfig(**doc["model"])
        model = SelfSupFusionModel(config)
        model.load_state_dict(doc["state_dict"])
        feats = FeatureSettings(**doc["features"])
        skel = doc["skeleton"]
        return Checkpoint(
            model=model.to(device).eval(),
            skeleton=str(skel["name"]),
            joints=tuple(str(j) for j in skel["joints"]),
            views=tuple(str(v) for v in doc["views"]),
            cameras=tuple(dict(c) for c in doc["cameras"]),
            features=feats,
            train=dict(doc.get("train", {})),
            software=dict(doc.get("software", {})),
        )
    except (KeyError, TypeError, RuntimeError) as e:
        raise ConfigError(f"{p}: damaged selfsup checkpoint ({e})", field_path="--model", value=str(p)) from e
