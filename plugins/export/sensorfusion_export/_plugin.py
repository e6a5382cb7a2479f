"""The ``export`` plugin: ``sensorfusion export`` and the TRC, C3D, BVH, JSON and CSV exporters.

A light module: each exporter's module (and ezc3d, the interop writers, OpenSim) loads when an
export runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Exporter, hookimpl, lazy

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_exporters"]

_MOD = "sensorfusion_export._exporters"


@hookimpl
def sensorfusion_add_exporters() -> Sequence[Exporter]:
    return [
        Exporter(
            "trc",
            "OpenSim TRC markers, one file per person (optional OpenSim scaling + IK)",
            ".trc",
            lazy(f"{_MOD}:export_trc"),
            requires=("sensorfusion_interop",),
            install="pip install sensorfusion-interop",
        ),
        Exporter(
            "c3d",
            "C3D (ezc3d): every person's joints as labelled points, mm or m",
            ".c3d",
            lazy(f"{_MOD}:export_c3d"),
            requires=("ezc3d",),
            install="pip install ezc3d",
        ),
        Exporter(
            "bvh",
            "BVH for animation: fixed bone lengths, solved joint rotations, per person",
            ".bvh",
            lazy(f"{_MOD}:export_bvh"),
        ),
        Exporter("json", "3D skeletons as one JSON document", ".json", lazy(f"{_MOD}:export_json")),
        Exporter(
            "csv", "3D skeletons as a CSV table, a row per frame, person and joint", ".csv", lazy(f"{_MOD}:export_csv")
        ),
    ]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "export",
            "export a session's 3D skeletons (TRC, C3D, BVH, JSON, CSV, and plugins' formats)",
            lazy("sensorfusion_export._cli:configure_export"),
            lazy("sensorfusion_export._cli:run_export"),
        )
    ]
