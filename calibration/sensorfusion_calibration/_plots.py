"""PNG figures (matplotlib, Agg): board coverage per camera and reprojection residuals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ._boards import BoardDetection

__all__ = ["coverage_grid", "save_coverage_heatmap", "save_residual_plot"]


def coverage_grid(
    detections: Sequence[BoardDetection], image_size: tuple[int, int], bins: tuple[int, int] = (16, 12)
) -> np.ndarray:
    """Corner counts on a ``bins`` (x, y) grid over the image; shape ``(bins_y, bins_x)``."""
    w, h = image_size
    pts = np.concatenate([d.corners_px for d in detections]) if detections else np.zeros((0, 2))
    grid, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=(bins[1], bins[0]), range=((0, h), (0, w)))
    return grid


def save_coverage_heatmap(
    path: Path, detections: Sequence[BoardDetection], image_size: tuple[int, int], *, title: str = ""
) -> float:
    """Write the heatmap of where board corners were seen; returns the covered fraction of cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = coverage_grid(detections, image_size)
    w, h = image_size
    fig, ax = plt.subplots(figsize=(6, 6 * h / w + 0.6))
    im = ax.imshow(grid, extent=(0, w, h, 0), cmap="viridis", interpolation="nearest")
    for d in detections:
        ax.plot(d.corners_px[:, 0], d.corners_px[:, 1], ".", ms=1, color="white", alpha=0.5)
    covered = float((grid > 0).mean())
    ax.set_title(f"{title} board coverage: {covered:.0%} of cells, {len(detections)} images")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=ax, label="corners per cell")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return covered


def save_residual_plot(path: Path, residuals_px: Mapping[str, np.ndarray]) -> None:
    """Scatter of reprojection residuals (px) per camera, with each camera's RMS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(residuals_px), 1)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    lim = max((float(np.percentile(np.abs(r), 99)) for r in residuals_px.values() if r.size), default=1.0)
    for ax, (sid, r) in zip(axes.ravel(), residuals_px.items(), strict=False):
        rms = float(np.sqrt(np.mean(np.sum(r**2, axis=1)))) if r.size else float("nan")
        ax.plot(r[:, 0], r[:, 1], ".", ms=1.5, alpha=0.4)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{sid}: RMS {rms:.3f} px")
        ax.set_xlabel("du (px)")
        ax.set_ylabel("dv (px)")
    for ax in axes.ravel()[len(residuals_px) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
