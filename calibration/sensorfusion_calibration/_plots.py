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
    path: Path,
    detections: Sequence[BoardDetection],
    image_size: tuple[int, int],
    *,
    title: str = "",
    min_coverage: float | None = None,
) -> float:
    """Write the heatmap of where board corners were seen, each view's board outline, and the
    coverage (area and cells, :func:`._quality.board_coverage`) in the title — in red below
    ``min_coverage``. Returns the covered fraction of the image area."""
    import matplotlib

    matplotlib.use("Agg")
    import cv2
    import matplotlib.pyplot as plt

    from ._quality import board_coverage

    grid = coverage_grid(detections, image_size)
    cov = board_coverage(detections, image_size)
    w, h = image_size
    fig, ax = plt.subplots(figsize=(6, 6 * h / w + 0.8))
    im = ax.imshow(grid, extent=(0, w, h, 0), cmap="viridis", interpolation="nearest")
    for d in detections:
        ax.plot(d.corners_px[:, 0], d.corners_px[:, 1], ".", ms=1, color="white", alpha=0.5)
        if d.count >= 3:
            hull = cv2.convexHull(np.asarray(d.corners_px, np.float32)).reshape(-1, 2)
            hull = np.vstack([hull, hull[:1]])
            ax.plot(hull[:, 0], hull[:, 1], "-", lw=0.8, color="orange", alpha=0.8)
    low = min_coverage is not None and cov.area < min_coverage
    ax.set_title(
        f"{title} board coverage: {cov.area:.0%} of the area, {cov.cells:.0%} of cells, {len(detections)} images"
        + (f"\nbelow {min_coverage:.0%}: cover the corners and edges" if low else ""),
        color="red" if low else "black",
        fontsize=9,
    )
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=ax, label="corners per cell")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return cov.area


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
