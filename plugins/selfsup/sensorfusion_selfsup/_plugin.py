"""The ``selfsup`` plugin: the ``selfsup.fusion`` estimator and ``sensorfusion selfsup``.

A light module: the estimator and the command's implementation (torch) are lazy references,
imported the first time a rig or the command uses them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Command, Estimator, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_commands", "sensorfusion_add_estimators"]

_P = "sensorfusion_selfsup"


@hookimpl
def sensorfusion_add_commands() -> Sequence[Command]:
    return [
        Command(
            "selfsup",
            "self-supervised multi-view fusion: train on your own 2D recordings, evaluate, fuse",
            lazy(f"{_P}._cli:configure_selfsup"),
            lazy(f"{_P}._cli:run_selfsup"),
        )
    ]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [lazy(f"{_P}._estimator:SelfSupFusion", name="selfsup.fusion", summary="a trained self-supervised fusion")]
