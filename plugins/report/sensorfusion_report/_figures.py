"""The report's figures, drawn with matplotlib's object API (no pyplot, no global backend
state: the Agg / SVG canvases render straight to bytes)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._analysis import BoneStability, CameraReprojection, Mpjpe, StreamRate, Trajectories

__all__ = [
    "bones_figure",
    "mpjpe_figure",
    "rates_figure",
    "render",
    "reprojection_figure",
    "trajectories_figure",
]

_PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
]


def _colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


_MAX_POINTS = 1500  # a line of a long recording is drawn from this many bins (the page stays small)


def _thin(t: np.ndarray, y: np.ndarray, *, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """At most :data:`_MAX_POINTS` points: consecutive samples binned (mean, or max for counts)."""
    if len(t) <= _MAX_POINTS:
        return t, y
    edges = np.linspace(0, len(t), _MAX_POINTS + 1).astype(np.int64)
    tb = np.add.reduceat(t, edges[:-1]) / np.diff(edges)
    if how == "max":
        return tb, np.maximum.reduceat(y, edges[:-1])
    finite = np.isfinite(y)
    sums = np.add.reduceat(np.where(finite, y, 0.0), edges[:-1])
    counts = np.add.reduceat(finite.astype(np.int64), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return tb, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _stride(points: np.ndarray) -> np.ndarray:
    """Every k-th row (first and last kept) so at most about :data:`_MAX_POINTS` remain."""
    if len(points) <= _MAX_POINTS:
        return points
    k = int(np.ceil(len(points) / _MAX_POINTS))
    return np.vstack([points[::k], points[-1:]])


def _style(ax: Any) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def render(fig: Figure, fmt: str, *, dpi: int = 110) -> bytes:
    """The figure as ``svg`` or ``png`` bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def rates_figure(streams: list[StreamRate], events: list[dict[str, Any]], t0_ns: int) -> Figure:
    """Frame rate over sensor time per stream; lost frames (seq gaps) when any, events as lines."""
    lost = any(s.missing_cum.size and s.missing_cum[-1] > 0 for s in streams)
    timed = [e for e in events if isinstance(e.get("t_ns"), int) and e.get("t_ns")]
    rows = 2 if lost else 1
    fig = Figure(figsize=(10, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    ax = axes[0]
    for i, s in enumerate(streams):
        style = "-" if s.stage is None else "--"
        # each value is the rate over the interval that ends at its frame: drawn as steps over it
        ax.step(*_thin(s.t_s, s.rate_hz), style, where="pre", color=_colour(i), linewidth=1.4, label=s.key)
    ax.set_ylabel("frames per second")
    ax.set_title("frame rate over sensor time (sliding window; dashed: stage outputs)", loc="left", fontsize=11)
    top = max((float(np.nanmax(s.rate_hz)) for s in streams if np.isfinite(s.rate_hz).any()), default=1.0)
    ax.set_ylim(0, top * 1.15)
    _style(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if lost:
        ax2 = axes[1]
        for i, s in enumerate(streams):
            if s.missing_cum.size and s.missing_cum[-1] > 0:
                ax2.step(*_thin(s.t_s, s.missing_cum, how="max"), where="post", color=_colour(i), label=s.key)
        ax2.set_ylabel("frames lost (cumulative)")
        ax2.set_title("frames lost before reaching the host (gaps in seq)", loc="left", fontsize=11)
        _style(ax2)
        ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    axes[-1].set_xlabel("sensor time since the first frame (s)")
    for ev in timed:
        x = (int(ev["t_ns"]) - t0_ns) / 1e9
        for a in axes:
            a.axvline(x, color="#b00020", linewidth=0.8, alpha=0.6)
        axes[0].annotate(
            str(ev.get("kind")),
            (x, 0.97),
            xycoords=("data", "axes fraction"),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=7,
            color="#b00020",
            rotation=90,
            va="top",
        )
    return fig


def reprojection_figure(cameras: list[CameraReprojection]) -> Figure:
    """Per camera: the distribution of joint reprojection errors, and the per-frame median over time."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.6])
    data = [c.errors_px for c in cameras]
    labels = [c.camera for c in cameras]
    parts = left.boxplot(data, tick_labels=labels, whis=(5, 95), showfliers=False, patch_artist=True, widths=0.55)
    for i, box in enumerate(parts["boxes"]):
        box.set_facecolor(_colour(i))
        box.set_alpha(0.55)
    for med in parts["medians"]:
        med.set_color("black")
    left.set_ylabel("reprojection error (px)")
    left.set_title("per camera (box: quartiles, whiskers: 5–95 %)", loc="left", fontsize=11)
    _style(left)
    for i, c in enumerate(cameras):
        if c.frame_t_s.size:
            right.plot(*_thin(c.frame_t_s, c.frame_median_px), color=_colour(i), linewidth=1.3, label=c.camera)
    right.set_xlabel("sensor time (s)")
    right.set_ylabel("median error per frame (px)")
    right.set_title("over time", loc="left", fontsize=11)
    right.set_ylim(bottom=0)
    _style(right)
    right.legend(fontsize=8, frameon=False, ncols=min(4, len(cameras)))
    return fig


def trajectories_figure(traj: Trajectories) -> Figure:
    """Top view: each person's path (start o, end x), ground truth dotted, cameras, the capture volume."""
    fig = Figure(figsize=(8, 7.2), layout="constrained")
    ax = fig.subplots()
    vol = traj.volume
    if vol is not None and "polygon" in vol:
        poly = np.vstack([vol["polygon"], vol["polygon"][:1]])
        ax.fill(poly[:, 0], poly[:, 1], color="#4caf50", alpha=0.12, label="capture volume")
        ax.plot(poly[:, 0], poly[:, 1], color="#2e7d32", linewidth=1.2)
    elif vol is not None and vol.get("shape") == "cameras":
        ax.contourf(
            vol["grid_a"], vol["grid_b"], vol["inside"].astype(float), levels=[0.5, 1.5], colors=["#4caf50"], alpha=0.15
        )
        ax.contour(
            vol["grid_a"], vol["grid_b"], vol["inside"].astype(float), levels=[0.5], colors=["#2e7d32"], linewidths=1.0
        )
        ax.fill([], [], color="#4caf50", alpha=0.15, label="capture volume")
    for g in traj.ground_truth:
        g_xy = _stride(g.floor_m)
        ax.plot(g_xy[:, 0], g_xy[:, 1], ":", color="#555555", linewidth=1.0)
    if traj.ground_truth:
        ax.plot([], [], ":", color="#555555", label="ground truth")
    for i, p in enumerate(traj.people):
        c = _colour(i)
        xy = _stride(p.floor_m)
        ax.plot(xy[:, 0], xy[:, 1], "-", color=c, linewidth=1.8, label=f"person {p.person_id}")
        ax.plot(*p.floor_m[0], "o", color=c, markersize=7)
        ax.plot(*p.floor_m[-1], "X", color=c, markersize=8)
    for sid, (pos, look) in sorted(traj.cameras.items()):
        ax.plot(*pos, "s", color="#222222", markersize=7)
        n = float(np.hypot(*look))
        away = (-look / n * 14) if n > 1e-6 else np.array([6.0, 6.0])  # the label behind the camera
        if n > 1e-6:
            d = look / n * 0.45
            ax.annotate("", xy=(pos[0] + d[0], pos[1] + d[1]), xytext=tuple(pos), arrowprops={"arrowstyle": "->"})
        ax.annotate(
            sid, tuple(pos), textcoords="offset points", xytext=tuple(away), fontsize=9, ha="center", va="center"
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"{traj.floor_axes[0]} (m)")
    ax.set_ylabel(f"{traj.floor_axes[1]} (m)")
    ax.set_title("top view: paths (o start, x end), cameras (■ with viewing direction)", loc="left", fontsize=11)
    _style(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return fig


def bones_figure(bones: BoneStability) -> Figure:
    """Per person: the distribution of each bone's length over the recording."""
    n = len(bones.people)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    height = max(3.0, 0.24 * len(bones.bones) + 1.2)
    fig = Figure(figsize=(4.2 * cols + 1.5, height * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharey=True)).ravel()
    y = np.arange(len(bones.bones))
    for k, person in enumerate(bones.people):
        ax = axes[k]
        data = []
        for e in range(len(bones.bones)):
            col = person.lengths_m[:, e] * 100
            data.append(col[np.isfinite(col)])
        filled = [d if d.size else np.array([np.nan]) for d in data]
        parts = ax.boxplot(
            filled, positions=y, orientation="horizontal", whis=(5, 95), showfliers=False, patch_artist=True, widths=0.6
        )
        for box in parts["boxes"]:
            box.set_facecolor(_colour(k))
            box.set_alpha(0.5)
        for med in parts["medians"]:
            med.set_color("black")
        if person.truth_m is not None:
            ax.plot(person.truth_m * 100, y, "D", color="black", markersize=4)
        if k % cols:
            ax.tick_params(labelleft=False)
        ax.set_xlabel("bone length (cm)")
        truth = f"; ◆ ground truth, person {person.truth_id}" if person.truth_m is not None else ""
        ax.set_title(f"person {person.person_id} ({person.frames} frames{truth})", loc="left", fontsize=10)
        _style(ax)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].set_yticks(y, bones.bones, fontsize=8)  # shared: every panel shows the same bones
    axes[0].invert_yaxis()
    return fig


def mpjpe_figure(m: Mpjpe) -> Figure:
    """MPJPE over time (all matched people, and per person) and per joint."""
    fig = Figure(figsize=(11, 6.8), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[1.2, 1])
    for i, (pid, t) in enumerate(sorted(m.person_t_s.items())):
        top.plot(*_thin(t, m.person_mm[pid]), color=_colour(i), linewidth=0.9, alpha=0.7, label=f"person {pid}")
    top.plot(*_thin(m.t_s, m.frame_mm), color="black", linewidth=1.8, label="all people")
    top.set_xlabel("sensor time (s)")
    top.set_ylabel("MPJPE (mm)")
    top.set_title(f"{m.estimate} against {m.ground_truth}", loc="left", fontsize=11)
    top.set_ylim(bottom=0)
    _style(top)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    x = np.arange(len(m.joint_names))
    bottom.bar(x, np.nan_to_num(m.joint_mm), color="#5c6bc0")
    bottom.set_xticks(x, m.joint_names, rotation=60, ha="right", fontsize=8)
    bottom.set_ylabel("mean error (mm)")
    bottom.set_title("per joint", loc="left", fontsize=11)
    _style(bottom)
    return fig
