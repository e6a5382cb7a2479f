"""The learned stereo model: an EgoPoseFormer-style network (re-implemented from the paper's
description, arXiv 2403.18080), small enough to train on two CPU cores.

**Input.** The wearer's 2D keypoints in both fisheye views, ``(B, 2, J, 3)`` (x_px, y_px,
confidence; NaN where not detected), rendered inside the network as one Gaussian heatmap per
joint and view (``heatmap`` x ``heatmap`` cells, amplitude = confidence). EgoPoseFormer encodes
the raw fisheye images with a ResNet-18 that was first trained as a 2D heatmap network; here the
heatmaps come from the 2D detector stage instead, because (1) a pixel network cannot be trained
on two CPU cores in minutes, (2) the simulator's flat-shaded capsules would teach it nothing
that transfers to real images, and (3) the 2D detector is the stage that deals with appearance
in this SDK (a real fisheye keypoint model plugs in there). The structure after the encoder is
EgoPoseFormer's:

1. **Encoder**: a small CNN per view (shared weights, two 3x3 convolutions) over the joint
   heatmaps → feature maps at half the heatmap resolution (EgoPoseFormer: stride 4 of the image).
2. **Pose proposal**: the pooled features of both views (4x4 average pool), with the keypoint
   coordinates, through an MLP → ``J x 3`` joints in the device frame (as an offset from the
   training set's mean pose).
3. **Refinement layers** (``layers``, default 3): every joint query projects its current 3D
   estimate into each view through the camera model (torch; anchors without gradient), samples
   the view's features at ``points`` learned offsets around the anchor with learned weights
   (deformable attention: bilinear ``grid_sample``), fuses the views, runs joint self-attention
   and an FFN, and adds a 3D offset to the estimate. Besides the sampled features each layer sees
   the reprojection residual of its estimate (detected keypoint minus anchor, with confidence) —
   the keypoint input makes that free, and it is what lets the layers correct the depth.
4. A per-joint ``log σ`` head (Laplace uncertainty) on the last query, used as confidence and by
   the fusion with the room.

Losses (see :mod:`._train`): MPJPE of every stage (proposal and each layer) and a Laplace
negative log-likelihood for ``σ``.

**Checkpoints** (``FORMAT``) hold tensors and plain JSON metadata only and load with
``torch.load(weights_only=True)``: the skeleton and its joint names (a model for another
skeleton is refused), the network size, the headset geometry it was trained with, the mean pose
and the training record.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError, MissingDependencyError

from ._headset import HeadsetGeometry
from ._torch_camera import camera_param_tensor, projection_for

__all__ = ["FORMAT", "EgoPoseModel", "ModelConfig", "build_net", "export_onnx", "load_model"]

FORMAT = "sensorfusion-egocentric-stereo-1"


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise MissingDependencyError("the learned egocentric model", install="pip install torch") from exc
    return torch


@dataclass(frozen=True)
class ModelConfig:
    """Network size (stored in checkpoints)."""

    heatmap: int = 32
    sigma_cells: float = 1.0
    channels: int = 16
    features: int = 32
    dim: int = 64
    layers: int = 3
    points: int = 4
    heads: int = 4
    proposal_hidden: int = 256


def build_net(num_joints: int, cfg: ModelConfig, geometry: HeadsetGeometry, mean_pose: np.ndarray) -> Any:
    """The torch module (see the module docstring)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional
    J, D, S, K, V, Fd = num_joints, cfg.dim, cfg.heatmap, cfg.points, 2, cfg.features
    if S % 8:
        raise ConfigError("the heatmap size must be a multiple of 8", field_path="config.heatmap", value=S)
    models = tuple(m.model for m in geometry.models)
    projections = [projection_for(m) for m in models]

    class Refine(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.offsets = nn.Linear(D, V * K * 2)
            self.weights = nn.Linear(D, V * K)
            self.value = nn.Linear(Fd, D)
            self.reproj = nn.Linear(V * 3, D)
            self.fuse = nn.Linear(V * D + D, D)
            self.norm1 = nn.LayerNorm(D)
            self.attn = nn.MultiheadAttention(D, cfg.heads, batch_first=True)
            self.norm2 = nn.LayerNorm(D)
            self.ffn = nn.Sequential(nn.Linear(D, 2 * D), nn.ReLU(), nn.Linear(2 * D, D))
            self.norm3 = nn.LayerNorm(D)
            self.delta = nn.Linear(D, 3)
            with torch.no_grad():
                self.offsets.weight.zero_()
                ang = torch.arange(K, dtype=torch.float32) * (2 * math.pi / K)
                ring = torch.stack([torch.cos(ang), torch.sin(ang)], -1) * (2.0 / S)  # one cell around the anchor
                self.offsets.bias.copy_(ring.repeat(V, 1).reshape(-1))
                self.delta.weight.mul_(0.1)
                self.delta.bias.zero_()

        def forward(self, q: Any, x: Any, feats: Any, kp_norm: Any, anchors: Any, valid: Any) -> tuple[Any, Any]:
            B = q.shape[0]
            off = self.offsets(q).view(B, J, V, K, 2).permute(0, 2, 1, 3, 4)  # (B, V, J, K, 2)
            w = torch.softmax(self.weights(q).view(B, J, V, K), dim=-1).permute(0, 2, 1, 3)  # (B, V, J, K)
            grid = anchors[:, :, :, None, :] + off
            h, wd = feats.shape[-2:]
            sampled = F.grid_sample(
                feats.reshape(B * V, Fd, h, wd), grid.reshape(B * V, J, K, 2), align_corners=False, padding_mode="zeros"
            ).view(B, V, Fd, J, K)
            pooled = (sampled * w[:, :, None]).sum(-1).permute(0, 1, 3, 2)  # (B, V, J, D)
            pooled = self.value(pooled) * valid[..., None]
            conf = kp_norm[..., 2] * valid
            resid = (kp_norm[..., :2] - anchors) * (conf > 0)[..., None]
            r = torch.cat([resid, conf[..., None]], -1).permute(0, 2, 1, 3).reshape(B, J, V * 3)
            z = torch.cat([pooled.permute(0, 2, 1, 3).reshape(B, J, V * D), self.reproj(r)], -1)
            q = self.norm1(q + self.fuse(z))
            q = self.norm2(q + self.attn(q, q, q, need_weights=False)[0])
            q = self.norm3(q + self.ffn(q))
            return q, x + 0.1 * self.delta(q)

    class Net(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.num_joints = J
            self.cfg = cfg
            self.camera_models = models
            self.register_buffer("params0", camera_param_tensor(geometry.models[0]))
            self.register_buffer("params1", camera_param_tensor(geometry.models[1]))
            cfd = np.linalg.inv(geometry.device_from_camera)
            self.register_buffer("cam_from_device", torch.as_tensor(cfd, dtype=torch.float32))
            wh = [[float(m.width), float(m.height)] for m in geometry.models]
            self.register_buffer("wh", torch.as_tensor(wh, dtype=torch.float32))
            self.register_buffer("mean_pose", torch.as_tensor(np.asarray(mean_pose), dtype=torch.float32))
            cells = (torch.arange(S, dtype=torch.float32) + 0.5) / S * 2 - 1
            self.register_buffer("cells", cells)
            C = cfg.channels
            self.encoder = nn.Sequential(
                nn.Conv2d(J, C, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(C, Fd, 3, padding=1), nn.ReLU(),
            )  # fmt: skip
            self.view_embed = nn.Parameter(torch.zeros(V, Fd, 1, 1))
            self.proposal = nn.Sequential(
                nn.Linear(V * Fd * 16 + V * J * 3, cfg.proposal_hidden), nn.ReLU(),
                nn.Linear(cfg.proposal_hidden, cfg.proposal_hidden), nn.ReLU(),
                nn.Linear(cfg.proposal_hidden, J * 3),
            )  # fmt: skip
            with torch.no_grad():
                self.proposal[-1].weight.mul_(0.1)
                self.proposal[-1].bias.zero_()
            self.joint_embed = nn.Parameter(torch.randn(J, D) * 0.1)
            self.coord_embed = nn.Linear(3, D)
            self.layers = nn.ModuleList([Refine() for _ in range(cfg.layers)])
            self.sigma_head = nn.Linear(D, 1)
            with torch.no_grad():
                self.sigma_head.bias.fill_(math.log(0.05))

        def normalized(self, keypoints: Any) -> Any:
            """``(B, V, J, 3)`` pixels -> grid coordinates in [-1, 1] and confidence (0 where missing)."""
            xy = keypoints[..., :2]
            ok = torch.isfinite(xy).all(-1) & torch.isfinite(keypoints[..., 2])
            conf = torch.where(ok, keypoints[..., 2], torch.zeros_like(keypoints[..., 2])).clamp(0, 1)
            xy = torch.where(ok[..., None], xy, torch.zeros_like(xy))
            g = (xy + 0.5) / self.wh[None, :, None, :] * 2 - 1
            g = torch.where(ok[..., None], g, torch.zeros_like(g))
            return torch.cat([g, conf[..., None]], -1)

        def project(self, x: Any) -> tuple[Any, Any]:
            """Device-frame points ``(B, J, 3)`` -> grid anchors ``(B, V, J, 2)`` and valid ``(B, V, J)``."""
            out, val = [], []
            for v, (fn, params) in enumerate(zip(projections, (self.params0, self.params1), strict=True)):
                m = self.cam_from_device[v]
                pc = x @ m[:3, :3].T + m[:3, 3]
                uv, ok = fn(params, pc)
                g = (uv + 0.5) / self.wh[v] * 2 - 1
                ok = ok & (g.abs() <= 1.5).all(-1)
                out.append(torch.where(ok[..., None], g, torch.zeros_like(g)))
                val.append(ok.to(x.dtype))
            return torch.stack(out, 1), torch.stack(val, 1)

        def forward(self, keypoints: Any) -> tuple[Any, Any]:
            """``keypoints (B, 2, J, 3)`` -> ``(stages (L + 1, B, J, 3), log_sigma (B, J))``, device frame."""
            B = keypoints.shape[0]
            kp = self.normalized(keypoints)
            s2 = (cfg.sigma_cells * 2.0 / S) ** 2
            gx = torch.exp(-((self.cells - kp[..., 0, None]) ** 2) / (2 * s2)) * kp[..., 2, None]  # (B, V, J, S)
            gy = torch.exp(-((self.cells - kp[..., 1, None]) ** 2) / (2 * s2))
            heat = gy[..., :, None] * gx[..., None, :]  # separable Gaussian (B, V, J, S, S)
            feats = self.encoder(heat.reshape(B * V, J, S, S))
            feats = feats.view(B, V, Fd, feats.shape[-2], feats.shape[-1]) + self.view_embed[None]
            pooled = F.avg_pool2d(feats.reshape(B * V, Fd, S // 2, S // 2), S // 8).reshape(B, -1)  # 4 x 4 cells
            x = self.mean_pose[None] + self.proposal(torch.cat([pooled, kp.reshape(B, -1)], -1)).view(B, J, 3)
            stages = [x]
            q = self.joint_embed[None] + self.coord_embed(x)
            for layer in self.layers:
                anchors, valid = self.project(x.detach())
                q, x = layer(q, x, feats, kp, anchors, valid)
                stages.append(x)
            return torch.stack(stages, 0), self.sigma_head(q)[..., 0]

    return Net()


@dataclass
class EgoPoseModel:
    """A trained model with its metadata; ``predict`` works on numpy arrays."""

    net: Any
    skeleton: str
    joints: tuple[str, ...]
    config: ModelConfig
    geometry: HeadsetGeometry
    mean_pose: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, keypoints: np.ndarray, *, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """``keypoints (N, 2, J, 3)`` -> joints ``(N, J, 3)`` in the device frame and ``sigma_m (N, J)``."""
        torch = _torch()
        kp = np.asarray(keypoints, dtype=np.float32)
        outs, sig = [], []
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(kp), batch):
                stages, log_sigma = self.net(torch.from_numpy(kp[i : i + batch]))
                outs.append(stages[-1].numpy())
                sig.append(torch.exp(log_sigma).numpy())
        J = len(self.joints)
        if not outs:
            return np.zeros((0, J, 3)), np.zeros((0, J))
        return np.concatenate(outs).astype(np.float64), np.concatenate(sig).astype(np.float64)

    def rebind(self, geometry: HeadsetGeometry) -> EgoPoseModel:
        """The same weights projecting through another headset's cameras (a rig's own calibration)."""
        net = build_net(len(self.joints), self.config, geometry, self.mean_pose)
        net.load_state_dict(
            {k: v for k, v in self.net.state_dict().items() if k not in _GEOMETRY_BUFFERS}, strict=False
        )
        return EgoPoseModel(net, self.skeleton, self.joints, self.config, geometry, self.mean_pose, dict(self.meta))

    def save(self, path: str | os.PathLike[str]) -> None:
        torch = _torch()
        meta = {
            "skeleton": self.skeleton,
            "joints": list(self.joints),
            "config": asdict(self.config),
            "geometry": self.geometry.to_json(),
            "mean_pose": np.asarray(self.mean_pose).tolist(),
            "training": self.meta,
        }
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        torch.save({"format": FORMAT, "state_dict": state, "meta": json.dumps(meta)}, str(path))


_GEOMETRY_BUFFERS = ("params0", "params1", "cam_from_device", "wh")


def load_model(
    path: str | os.PathLike[str],
    *,
    skeleton: str | None = None,
    joints: tuple[str, ...] | None = None,
    field_path: str = "model",
) -> EgoPoseModel:
    """Load a checkpoint written by :meth:`EgoPoseModel.save` (``torch.load(weights_only=True)``:
    tensors and plain metadata, no pickled objects). A missing file, another format, or a model
    trained for another skeleton than ``skeleton`` / ``joints`` is a :class:`~sensorfusion.ConfigError`
    naming ``field_path``."""
    torch = _torch()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            "egocentric model not found (train one with `sensorfusion egocentric train SESSIONS --out MODEL`)",
            field_path=field_path,
            value=str(path),
        )
    try:
        ck = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(
            f"not a loadable egocentric model checkpoint: {type(exc).__name__}: {exc}",
            field_path=field_path,
            value=str(path),
        ) from None
    fmt = ck.get("format") if isinstance(ck, dict) else None
    if fmt != FORMAT:
        raise ConfigError(
            f"not an egocentric model checkpoint (format {fmt!r}; this version reads {FORMAT!r})",
            field_path=field_path,
            value=str(path),
        )
    meta = json.loads(ck["meta"])
    names = tuple(meta["joints"])
    if skeleton is not None and meta["skeleton"] == skeleton and joints is not None and names != tuple(joints):
        raise ConfigError(
            f"the model's joints for skeleton {skeleton!r} are not the registered ones ({list(names)[:3]}... vs "
            f"{list(joints)[:3]}...)",
            field_path=field_path,
            value=str(path),
        )
    if skeleton is not None and meta["skeleton"] != skeleton:
        raise ConfigError(
            f"the model was trained for skeleton {meta['skeleton']!r} ({len(names)} joints), the inputs are "
            f"{skeleton!r}" + (f" ({len(joints)} joints)" if joints is not None else ""),
            field_path=field_path,
            value=str(path),
        )
    cfg = ModelConfig(**meta["config"])
    geometry = HeadsetGeometry.from_json(meta["geometry"])
    mean_pose = np.asarray(meta["mean_pose"], dtype=np.float64)
    net = build_net(len(names), cfg, geometry, mean_pose)
    try:
        net.load_state_dict(ck["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(
            f"checkpoint weights do not fit the network it describes: {exc}", field_path=field_path, value=str(path)
        ) from None
    net.eval()
    return EgoPoseModel(net, str(meta["skeleton"]), names, cfg, geometry, mean_pose, dict(meta.get("training", {})))


def export_onnx(model: EgoPoseModel, path: str | os.PathLike[str]) -> None:
    """Export the network to ONNX: input ``keypoints (B, 2, J, 3)`` float32, outputs ``joints
    (B, J, 3)`` (device frame) and ``log_sigma (B, J)``; the batch size is dynamic."""
    torch = _torch()

    class Final(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, keypoints: Any) -> tuple[Any, Any]:
            stages, log_sigma = self.net(keypoints)
            return stages[-1], log_sigma

    J = len(model.joints)
    example = torch.zeros(2, 2, J, 3)
    model.net.eval()
    # the TorchScript exporter needs no onnxscript; its deprecation and tracer notes are expected
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            Final(model.net), (example,), str(path), input_names=["keypoints"], output_names=["joints", "log_sigma"],
            dynamic_axes={"keypoints": {0: "batch"}, "joints": {0: "batch"}, "log_sigma": {0: "batch"}},
            opset_version=17, dynamo=False,
        )  # fmt: skip
