"""Synthetic corruption of 2D inputs: what detectors do under occlusion, done on purpose.

Training feeds the model corrupted 2D and scores it against the *recorded* 2D, so it learns
to recover what a corruption hid from everything else (the other views, the neighbouring
frames, the rest of the body). Corruptions, per chunk of ``L`` frames (``(L, V, J, 3)``):

* **occlusion runs**: a limb (or one joint) in one view — sometimes in two views at the same
  time, which makes the joint "hard" — for 3 to ``L`` frames is either missed (NaN,
  confidence 0) or hallucinated: moved by a slowly drifting offset with a believable
  confidence of 0.3–0.8;
* **left/right swaps** of a whole person in one view for 1–8 frames;
* **dropped views**: a camera missing for the whole chunk;
* **outliers**: single keypoints thrown far;
* confidence jitter (× 0.8–1.2).

Pixel sizes are given at a 1000 px focal length and scaled to each camera's (offsets 15–80
px, outliers 20–100 px). Returns the corrupted keypoints and the mask of changed observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["AugmentSettings", "corrupt"]


@dataclass(frozen=True)
class AugmentSettings:
    occlusion_runs_per_view: float = 1.5
    two_view_fraction: float = 0.35
    hallucinate_fraction: float = 0.6
    swap_prob: float = 0.08
    drop_view_prob: float = 0.12
    outlier_prob: float = 0.01
    confidence_jitter: float = 0.2


def _limbs(mirror: Sequence[int], bones: Sequence[tuple[int, int]], J: int) -> list[np.ndarray]:
    """Joint groups an occluder hides together: each bone's two ends, each single joint."""
    groups = [np.array([j]) for j in range(J)]
    groups += [np.array(sorted(b)) for b in bones]
    return groups


def corrupt(
    kp: np.ndarray,
    rng: np.random.Generator,
    *,
    focal_scale: np.ndarray,
    mirror: Sequence[int],
    bones: Sequence[tuple[int, int]],
    settings: AugmentSettings = AugmentSettings(),
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt one chunk ``kp (L, V, J, 3)``; ``focal_scale (V,)`` = focal_px / 1000."""
    s = settings
    out = np.array(kp, dtype=np.float64, copy=True)
    L, V, J, _ = out.shape
    changed = np.zeros((L, V, J), dtype=bool)
    groups = _limbs(mirror, bones, J)

    def px(v: int, lo: float, hi: float, n: int = 1) -> np.ndarray:
        return np.asarray(rng.uniform(lo, hi, n) * max(float(focal_scale[v]), 0.2))

    # occlusion runs
    for v in range(V):
        for _ in range(rng.poisson(s.occlusion_runs_per_view)):
            g = groups[rng.integers(len(groups))]
            n = int(rng.integers(3, L + 1))
            t0 = int(rng.integers(0, L - n + 1))
            vs = [v]
            if V > 1 and rng.random() < s.two_view_fraction:
                vs.append(int((v + 1 + rng.integers(V - 1)) % V))
            for vv in vs:
                sl = (slice(t0, t0 + n), vv)
                if rng.random() < s.hallucinate_fraction:
                    ang = rng.uniform(0, 2 * np.pi)
                    mag = px(vv, 15.0, 80.0)[0]
                    drift = np.cumsum(rng.normal(0, 0.1 * mag / max(n, 1) ** 0.5, (n, 2)), axis=0)
                    off = mag * np.array([np.cos(ang), np.sin(ang)]) + drift
                    for j in g:
                        out[sl][:, j, :2] += off
                        seen = np.isfinite(out[sl][:, j, 0])
                        out[sl][:, j, 2] = np.where(seen, rng.uniform(0.3, 0.8), 0.0)
                else:
                    out[sl][:, g, :2] = np.nan
                    out[sl][:, g, 2] = 0.0
                changed[t0 : t0 + n, vv, g] = True
    # left/right swaps
    for v in range(V):
        if rng.random() < s.swap_prob:
            n = int(rng.integers(1, min(8, L) + 1))
            t0 = int(rng.integers(0, L - n + 1))
            out[t0 : t0 + n, v] = out[t0 : t0 + n, v][:, list(mirror)]
            changed[t0 : t0 + n, v] |= np.asarray(mirror) != np.arange(J)
    # single outliers
    hit = rng.random((L, V, J)) < s.outlier_prob
    if hit.any():
        ht, hv, hj = np.nonzero(hit)
        angles = rng.uniform(0, 2 * np.pi, len(ht))
        mags = np.array([px(int(vv), 20.0, 100.0)[0] for vv in hv])
        out[ht, hv, hj, 0] += mags * np.cos(angles)
        out[ht, hv, hj, 1] += mags * np.sin(angles)
        out[ht, hv, hj, 2] = np.where(np.isfinite(out[ht, hv, hj, 0]), rng.uniform(0.4, 0.7, len(ht)), 0.0)
        changed |= hit
    # a camera missing for the whole chunk (never the last one left)
    if V > 1 and rng.random() < s.drop_view_prob:
        v = int(rng.integers(V))
        out[:, v, :, :2] = np.nan
        out[:, v, :, 2] = 0.0
        changed[:, v] = True
    # confidence jitter
    if s.confidence_jitter > 0:
        out[..., 2] = np.clip(
            out[..., 2] * rng.uniform(1 - s.confidence_jitter, 1 + s.confidence_jitter, (L, V, J)), 0, 1
        )
    miss = ~np.isfinite(out[..., :2]).all(-1)
    out[miss, :2] = np.nan
    out[miss, 2] = 0.0
    return out, changed
