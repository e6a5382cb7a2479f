"""Build a session report: analyse, draw, and write one HTML page or a folder of PNG figures."""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError, StoreError
from sensorfusion.store import Session

from ._analysis import ReportData, Skipped, analyse_session, pick_skeleton_stream

__all__ = ["FORMATS", "write_report"]

FORMATS = ("html", "png")


def _r(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def _pct(a: np.ndarray, q: float) -> float | None:
    return _r(float(np.percentile(a, q))) if a.size else None


def _sections_json(data: ReportData) -> dict[str, Any]:
    """The numbers behind each section (the ``--json`` output's ``sections``)."""
    s = data.summary
    out: dict[str, Any] = {
        "summary": {
            "rig_name": s.rig_name,
            "finished": s.finished,
            "interrupted": s.interrupted,
            "error": s.error,
            "duration_s": _r(s.duration_s, 3),
            "framesets": s.framesets,
            "partial_framesets": s.partial_framesets,
            "drops_total": s.drops_total,
            "errors_total": s.errors_total,
            "events": s.event_counts,
            "committed_frames": s.committed_frames,
        }
    }
    if isinstance(data.streams, Skipped):
        out["streams"] = {"note": data.streams.reason}
    else:
        out["streams"] = {
            st.key: {
                "count": st.count,
                "mean_rate_hz": _r(st.mean_rate_hz, 3),
                "min_rate_hz": _r(float(np.nanmin(st.rate_hz)), 3) if np.isfinite(st.rate_hz).any() else None,
                "frames_lost": int(st.missing_cum[-1]) if st.missing_cum.size else 0,
                "drops": st.drops,
            }
            for st in data.streams
        }
    if isinstance(data.reprojection, Skipped):
        out["reprojection"] = {"note": data.reprojection.reason}
    else:
        out["reprojection"] = {
            c.camera: {
                "keypoints": c.keypoints,
                "mean_px": _r(float(c.errors_px.mean())) if c.errors_px.size else None,
                "median_px": _pct(c.errors_px, 50),
                "p90_px": _pct(c.errors_px, 90),
                "joints": int(c.errors_px.size),
                "matched_person_frames": c.matched_person_frames,
                "unmatched_person_frames": c.unmatched_person_frames,
            }
            for c in data.reprojection
        }
    if isinstance(data.trajectories, Skipped):
        out["trajectories"] = {"note": data.trajectories.reason}
    else:
        t = data.trajectories
        out["trajectories"] = {
            "source": t.source,
            "floor_axes": t.floor_axes,
            "capture_volume": t.volume.get("shape") if t.volume else None,
            "people": {
                str(p.person_id): {"frames": len(p.t_s), "path_length_m": _r(p.path_length_m, 3)} for p in t.people
            },
        }
    if isinstance(data.bones, Skipped):
        out["bones"] = {"note": data.bones.reason}
    else:
        b = data.bones
        people = {}
        for p in b.people:
            with warnings.catch_warnings():  # a bone never seen: NaN, not a warning
                warnings.simplefilter("ignore", RuntimeWarning)
                std_mm = np.nanstd(p.lengths_m, axis=0) * 1e3
                median_mm = np.nanmedian(p.lengths_m, axis=0) * 1e3
            worst = int(np.nanargmax(std_mm)) if np.isfinite(std_mm).any() else None
            people[str(p.person_id)] = {
                "frames": p.frames,
                "median_std_mm": _r(float(np.nanmedian(std_mm)), 2) if np.isfinite(std_mm).any() else None,
                "worst_bone": b.bones[worst] if worst is not None else None,
                "worst_std_mm": _r(float(std_mm[worst]), 2) if worst is not None else None,
                "median_length_mm": {n: _r(float(v), 1) for n, v in zip(b.bones, median_mm, strict=True)},
            }
            if p.truth_m is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    bias = np.nanmedian(np.abs(median_mm - p.truth_m * 1e3))
                people[str(p.person_id)]["ground_truth_id"] = p.truth_id
                people[str(p.person_id)]["median_abs_bias_mm"] = _r(float(bias), 2)
        out["bones"] = {"skeleton": b.skeleton, "people": people}
    if isinstance(data.mpjpe, Skipped):
        out["mpjpe"] = {"note": data.mpjpe.reason}
    else:
        m = data.mpjpe
        out["mpjpe"] = {
            "estimate": m.estimate,
            "ground_truth": m.ground_truth,
            "mpjpe_mm": _r(float(m.errors_mm.mean())),
            "median_mm": _pct(m.errors_mm, 50),
            "p90_mm": _pct(m.errors_mm, 90),
            "matched_person_frames": m.matched_person_frames,
            "missed_person_frames": m.missed_person_frames,
            "extra_person_frames": m.extra_person_frames,
        }
    return out


def _tables(data: ReportData, sections: dict[str, Any], t0_ns: int) -> dict[str, Any]:
    tables: dict[str, Any] = {"t0_ns": t0_ns}
    if not isinstance(data.streams, Skipped):
        rows = []
        for st in data.streams:
            drops = ", ".join(f"{r} {n}" for r, n in sorted(st.drops.items())) or "–"
            rows.append(
                (
                    st.key,
                    st.kind,
                    st.count,
                    f"{st.mean_rate_hz:.2f}" if st.mean_rate_hz is not None else "–",
                    f"{st.nominal_hz:.2f}" if st.nominal_hz else "–",
                    int(st.missing_cum[-1]) if st.missing_cum.size else 0,
                    drops,
                )
            )
        tables["streams"] = (
            ("stream", "kind", "frames", "mean rate (Hz)", "declared (Hz)", "lost (seq gaps)", "dropped (scheduler)"),
            rows,
        )
        if not any(st.missing_cum.size and st.missing_cum[-1] for st in data.streams):
            tables["streams_notes"] = ["No frame was lost in any stream (no gap in any seq)."]
    if not isinstance(data.reprojection, Skipped):
        tables["reprojection"] = (
            (
                "camera",
                "2D stream",
                "median (px)",
                "mean (px)",
                "p90 (px)",
                "joints",
                "person-frames matched",
                "unmatched",
            ),
            [
                (
                    cam,
                    v["keypoints"],
                    v["median_px"],
                    v["mean_px"],
                    v["p90_px"],
                    v["joints"],
                    v["matched_person_frames"],
                    v["unmatched_person_frames"],
                )
                for cam, v in sections["reprojection"].items()
            ],
        )
        tables["reprojection_notes"] = [
            f"The 3D stream {data.skeleton_stream} projected through the session's calibration into each camera, "
            "each projected person paired with the nearest 2D detection (Hungarian, median joint distance)."
        ]
    if not isinstance(data.trajectories, Skipped):
        tables["trajectories"] = (
            ("person", "frames", "path length (m)"),
            [(pid, v["frames"], v["path_length_m"]) for pid, v in sections["trajectories"]["people"].items()],
        )
        tables["trajectories_notes"] = [
            f"Paths of {data.trajectories.source}: each person's reference point (per-axis median of the joints; "
            f"a floor track's position) on the {data.trajectories.floor_axes} floor; {data.trajectories.volume_note}."
        ]
    if not isinstance(data.bones, Skipped):
        tables["bones"] = (
            (
                "person",
                "frames",
                "median bone std (mm)",
                "least stable bone",
                "its std (mm)",
                "median |bias| vs truth (mm)",
            ),
            [
                (
                    pid,
                    v["frames"],
                    v["median_std_mm"],
                    v["worst_bone"],
                    v["worst_std_mm"],
                    v.get("median_abs_bias_mm", "–"),
                )
                for pid, v in sections["bones"]["people"].items()
            ],
        )
        tables["bones_notes"] = [
            f"Bones of the {data.bones.skeleton} skeleton; a rigid body keeps every length: the spread is the "
            "estimate's noise (box: quartiles, whiskers: 5–95 %); ◆ the paired ground-truth person's length when "
            "the session has ground truth."
        ]
    if not isinstance(data.mpjpe, Skipped):
        v = sections["mpjpe"]
        tables["mpjpe"] = (
            ("MPJPE (mm)", "median (mm)", "p90 (mm)", "matched", "missed", "extra"),
            [
                (
                    v["mpjpe_mm"],
                    v["median_mm"],
                    v["p90_mm"],
                    v["matched_person_frames"],
                    v["missed_person_frames"],
                    v["extra_person_frames"],
                )
            ],
        )
    return tables


def _figures(data: ReportData, t0_ns: int) -> dict[str, tuple[Any, str]]:
    """section id -> (matplotlib Figure, caption); only for the sections that apply."""
    from . import _figures as f

    figs: dict[str, tuple[Any, str]] = {}
    if not isinstance(data.streams, Skipped):
        figs["streams"] = (f.rates_figure(data.streams, data.summary.events, t0_ns), "")
    if not isinstance(data.reprojection, Skipped):
        figs["reprojection"] = (f.reprojection_figure(data.reprojection), "")
    if not isinstance(data.trajectories, Skipped):
        figs["trajectories"] = (f.trajectories_figure(data.trajectories), "")
    if not isinstance(data.bones, Skipped):
        figs["bones"] = (f.bones_figure(data.bones), "")
    if not isinstance(data.mpjpe, Skipped):
        figs["mpjpe"] = (f.mpjpe_figure(data.mpjpe), "")
    return figs


def _t0(session: Session) -> int:
    firsts = [i.t_first_ns for i in {**session.streams(), **session.estimates()}.values() if i.t_first_ns is not None]
    return int(min(firsts)) if firsts else 0


def write_report(
    session_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fmt: str = "html",
    skeleton: str | None = None,
    min_confidence: float = 0.3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the report of a session; returns what the ``--json`` option prints.

    ``fmt="html"``: ``out`` is the page (one file, figures inline as SVG). ``fmt="png"``: ``out``
    is a folder (created) that gets one ``<section>.png`` per section that applies. Raises
    :class:`~sensorfusion.StoreError` when ``session_path`` is not a session and
    :class:`~sensorfusion.ConfigError` for a bad option (``field_path`` names it).
    """
    if fmt not in FORMATS:
        raise ConfigError("unknown report format", field_path="--format", value=fmt, choices=list(FORMATS))
    out_path = Path(out)
    if fmt == "html" and out_path.is_dir():
        raise ConfigError(
            "--out is a folder; give the page's file name (report.html)", field_path="--out", value=str(out)
        )
    if fmt == "png" and out_path.exists() and not out_path.is_dir():
        raise ConfigError("with --format png, --out is a folder", field_path="--out", value=str(out))
    if not (0.0 <= min_confidence <= 1.0):
        raise ConfigError("must be between 0 and 1", field_path="--min-confidence", value=min_confidence)
    step = progress or (lambda _msg: None)
    path = Path(session_path)
    if not path.exists():
        raise StoreError(f"{path}: no such session (the path does not exist)")
    session = Session.open(path)
    pick_skeleton_stream(session, skeleton)  # a bad --skeleton is refused before any work
    data = analyse_session(
        session, skeleton=skeleton, min_confidence=min_confidence, progress=lambda msg: step(f"analysing: {msg}")
    )
    t0 = _t0(session)
    sections = _sections_json(data)
    step("drawing the figures")
    figs = _figures(data, t0)
    files: list[str] = []
    from ._figures import render

    if fmt == "html":
        from sensorfusion_report import __version__

        from ._html import render_html

        rendered = {sid: (render(fig, "svg"), "svg", cap) for sid, (fig, cap) in figs.items()}
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        page = render_html(
            data, rendered, _tables(data, sections, t0), generator=f"sensorfusion-report {__version__} · {stamp}"
        )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(page, encoding="utf-8")
        files.append(str(out_path))
    else:
        out_path.mkdir(parents=True, exist_ok=True)
        for sid, (fig, _cap) in figs.items():
            target = out_path / f"{sid}.png"
            target.write_bytes(render(fig, "png", dpi=120))
            files.append(str(target))
    step("written")
    return {
        "session": str(path),
        "finished": data.summary.finished,
        "out": str(out_path),
        "format": fmt,
        "files": files,
        "skeleton_stream": data.skeleton_stream,
        "sections": sections,
    }
