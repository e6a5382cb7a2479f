"""The ``interop`` plugin: ``sensorfusion triangulate`` (OpenPose JSON in; TRC, JSON or a session out).

A light module: the command's module (and the fusion under it) loads when the command runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, hookimpl, lazy

__all__ = ["sensorfusion_add_commands"]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "triangulate",
            "3D keypoints from OpenPose JSON folders and a calibration (TRC, JSON or session)",
            lazy("sensorfusion_interop._cli:configure_triangulate"),
            lazy("sensorfusion_interop._cli:run_triangulate"),
        )
    ]
