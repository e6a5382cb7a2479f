"""The ``mediapipe`` plugin: registers ``mediapipe.pose`` and the ``eval.trc`` sink.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator, Sink, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_estimators", "sensorfusion_add_sinks"]

_P = "sensorfusion_mediapipe"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(
            f"{_P}._pose:MediaPipePose",
            name="mediapipe.pose",
            summary="BlazePose 2D keypoints",
            requires=("mediapipe",),
        ),
    ]


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [
        lazy(f"{_P}._eval:TrcEvalSink", name="eval.trc", summary="error against a reference TRC"),
    ]
