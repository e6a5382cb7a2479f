"""Built-in plugin ``fusion``: the fusion stages ``triangulate.dlt``, ``triangulate`` and ``multiperson``.

A light module: the stages (and the triangulation kernels, SciPy, Numba under them) are
imported when a rig uses one.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._components import Estimator
from .._lazy import lazy
from ..hookspecs import hookimpl

__all__ = ["sensorfusion_add_estimators"]

_MOD = "sensorfusion._builtin.fusion"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(f"{_MOD}:DltTriangulator", name="triangulate.dlt", summary="plain confidence-weighted DLT"),
        lazy(f"{_MOD}:SinglePersonFusion", name="triangulate", summary="one person, robust triangulation"),
        lazy(f"{_MOD}:MultiPersonFusion", name="multiperson", summary="association, triangulation, tracking"),
    ]
