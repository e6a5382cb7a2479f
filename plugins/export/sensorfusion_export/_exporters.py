"""The exporters this distribution registers: ``export(session, out, options) -> ExportResult``
for TRC, C3D, BVH, JSON and CSV (see each writer's module for its layout)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sensorfusion import ConfigError, ExportOptions, ExportResult, SkeletonSpec
from sensorfusion.store import Session

from ._motion import Motion, load_motion, pick_streams, skeleton_streams

__all__ = ["export_bvh", "export_c3d", "export_csv", "export_json", "export_trc", "motions_for"]


def _skeleton(session: Session, key: str) -> SkeletonSpec:
    from sensorfusion.plugins import get_plugin_host

    name = skeleton_streams(session)[key].spec.skeleton
    if not name:
        raise ConfigError(
            "the stream names no skeleton, so its joints cannot be labelled", field_path="--stream", value=key
        )
    return get_plugin_host().skeletons.get(name, field_path="--stream")


def motions_for(session: Session, options: ExportOptions, *, fmt: str, many: bool) -> list[Motion]:
    """The streams ``options`` asks for (or the default one), loaded on their frame grids."""
    keys = pick_streams(session, options, many=many, fmt=fmt)
    motions = [load_motion(session, key, options, _skeleton(session, key)) for key in keys]
    if not many and not motions[0].present().any():
        raise ConfigError(
            f"nobody to export: {keys[0]} holds no person"
            + (" in that time range" if options.start_ns or options.stop_ns else ""),
            field_path="--stream",
            value=keys[0],
        )
    return motions


def _extra(options: ExportOptions, fmt: str, known: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """``options.extra`` checked against ``known`` (key -> parser raising ``ValueError``)."""
    out: dict[str, Any] = {}
    for key, raw in options.extra.items():
        if key not in known:
            raise ConfigError(
                f"the {fmt} format has no option {key!r}",
                field_path="--option",
                value=f"{key}={raw}",
                choices=sorted(known) or ["(none)"],
            )
        try:
            out[key] = known[key](raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad value for {key}: {exc}", field_path="--option", value=f"{key}={raw}") from None
    return out


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if str(v) not in allowed:
            raise ValueError(f"one of {', '.join(allowed)}")
        return str(v)

    return parse


def _flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def _summary(motions: list[Motion]) -> dict[str, Any]:
    m = motions[0]
    return {"rate_hz": round(m.rate_hz, 6), "skeleton": m.skeleton.name, "first_t_ns": int(m.t_ns[0])}


def export_c3d(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """C3D (ezc3d): every person in one file, ``P<id>:<joint>`` labels. Options: ``units``
    (``mm``, default, or ``m``)."""
    from ._c3d import write_c3d

    opts = _extra(options, "c3d", {"units": _choice("mm", "m")})
    (m,) = motions_for(session, options, fmt="c3d", many=False)
    labels = write_c3d(out, m, units=opts.get("units", "mm"))
    details = {**_summary([m]), "units": opts.get("units", "mm"), "points": len(labels)}
    return ExportResult("c3d", (out,), m.frames, (m.stream,), tuple(m.person_ids.tolist()), details)


def export_bvh(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """BVH: one file per person (``<stem>_P<id>.bvh`` when several). Options: ``units``
    (``cm``, default, ``m`` or ``mm``), ``rigid_tolerance_deg`` (default 1), ``root`` (the
    joint to hang the hierarchy from, e.g. ``left_hip``; default the skeleton's root)."""
    from ._bvh import export_people_bvh

    opts = _extra(options, "bvh", {"units": _choice("cm", "m", "mm"), "rigid_tolerance_deg": float, "root": str})
    (m,) = motions_for(session, options, fmt="bvh", many=False)
    units = opts.get("units", "cm")
    root = opts.get("root")
    if root is not None and root not in m.skeleton.joints:
        raise ConfigError(
            f"no joint {root!r} in the {m.skeleton.name} skeleton",
            field_path="--option",
            value=f"root={root}",
            choices=list(m.skeleton.joints),
        )
    people = export_people_bvh(m, out, units=units, rigid_tolerance_deg=opts.get("rigid_tolerance_deg", 1.0), root=root)
    details = {**_summary([m]), "units": units, "axes": "Y up (BVH x, y, z = world y, z, x)", "euler_order": "ZXY"}
    details["people"] = [p for p in people if p["path"] is not None]
    skipped = {str(p["person_id"]): p["skipped"] for p in people if p["path"] is None}
    if skipped:
        details["skipped"] = skipped
    written = [p for p in people if p["path"] is not None]
    if not written:
        raise ConfigError(
            "no person can be written as BVH: " + "; ".join(f"person {k}: {v}" for k, v in skipped.items()),
            field_path="--person",
            value=", ".join(skipped),
        )
    paths = tuple(Path(str(p["path"])) for p in written)
    ids = tuple(int(str(p["person_id"])) for p in written)
    return ExportResult("bvh", paths, m.frames, (m.stream,), ids, details)


def export_trc(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """OpenSim TRC (the interop distribution's writer: Pose2Sim's Y-up axes; Pose2Sim's marker
    names, see :mod:`._markers`):
    one file per person (``<stem>_P<id>.trc`` when several). Options: ``opensim`` (true:
    scale an OpenSim model and run inverse kinematics on each file, see :mod:`._opensim`),
    ``opensim_model``, ``opensim_scaling_setup``, ``opensim_ik_setup`` (files; default:
    Pose2Sim's for the skeleton), ``mass_kg`` (default 70), ``height_m`` (informational only)."""
    import numpy as np
    from sensorfusion_interop import write_trc

    from ._markers import opensim_markers

    opts = _extra(
        options,
        "trc",
        {
            "opensim": _flag,
            "opensim_model": str,
            "opensim_scaling_setup": str,
            "opensim_ik_setup": str,
            "mass_kg": float,
            "height_m": float,
        },
    )
    run_opensim = opts.pop("opensim", False)
    if opts and not run_opensim:
        raise ConfigError("OpenSim options need opensim=true", field_path="--option", value=", ".join(sorted(opts)))
    if run_opensim:
        from ._opensim import check_opensim

        check_opensim()  # before writing anything
    (m,) = motions_for(session, options, fmt="trc", many=False)
    markers, columns = opensim_markers(m.skeleton, m.joints_m.reshape(-1, *m.joints_m.shape[2:]))
    columns = columns.reshape(m.frames, len(m.person_ids), -1, 3)
    present = m.present()
    paths: list[Path] = []
    ids: list[int] = []
    for k, pid in enumerate(m.person_ids.tolist()):
        seen = np.flatnonzero(present[:, k])
        if not len(seen):
            continue
        span = range(int(seen[0]), int(seen[-1]) + 1)
        path = out if len(m.person_ids) == 1 else out.with_name(f"{out.stem}_P{pid}{out.suffix}")
        write_trc(path, columns[span.start : span.stop, k], list(span), m.rate_hz, markers)
        paths.append(path)
        ids.append(int(pid))
    details: dict[str, Any] = {
        **_summary([m]),
        "units": "m",
        "axes": "Y up (TRC X, Y, Z = world Y, Z, X)",
        "markers": [name for name, _ in markers],
    }
    if run_opensim:
        from ._opensim import scale_and_ik

        details["opensim"] = [
            scale_and_ik(p, m.skeleton, m.joints_m[:, k], **opts) for k, p in zip(range(len(paths)), paths, strict=True)
        ]
        paths += [Path(r[key]) for r in details["opensim"] for key in ("model", "motion")]
    return ExportResult("trc", tuple(paths), m.frames, (m.stream,), tuple(ids), details)


def export_json(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """JSON: every stream asked for (default: one) in one document, see :mod:`._tables`."""
    from ._tables import write_json

    _extra(options, "json", {})
    ms = motions_for(session, options, fmt="json", many=True)
    frames = write_json(out, ms, str(session.path))
    ids = sorted({int(p) for m in ms for p in m.person_ids.tolist()})
    return ExportResult("json", (out,), frames, tuple(m.stream for m in ms), tuple(ids), _summary(ms))


def export_csv(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """CSV: one row per frame, person and joint, every stream asked for, see :mod:`._tables`."""
    from ._tables import CSV_COLUMNS, write_csv

    _extra(options, "csv", {})
    ms = motions_for(session, options, fmt="csv", many=True)
    rows = write_csv(out, ms)
    ids = sorted({int(p) for m in ms for p in m.person_ids.tolist()})
    details = {**_summary(ms), "rows": rows, "columns": list(CSV_COLUMNS)}
    frames = sum(int(m.recorded.sum()) for m in ms)
    return ExportResult("csv", (out,), frames, tuple(m.stream for m in ms), tuple(ids), details)
