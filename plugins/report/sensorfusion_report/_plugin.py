"""The ``report`` plugin: ``sensorfusion report SESSION --out report.html``.

A light module: matplotlib and the analyses load only when the command runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, hookimpl, lazy

__all__ = ["sensorfusion_add_commands"]


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "report",
            "a session report: rates, drops, reprojection, trajectories, bone lengths, MPJPE (HTML or PNG)",
            lazy("sensorfusion_report._cli:configure_report"),
            lazy("sensorfusion_report._cli:run_report"),
        )
    ]
