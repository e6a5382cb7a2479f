"""The ``mediapipe`` plugin: registers ``mediapipe.pose`` and the ``eval.trc`` sink.

MediaPipe itself is imported only when a component is built, so the plugin registers
without it; building ``mediapipe.pose`` then raises ``MissingDependencyError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator, Sink
from sensorfusion.hookspecs import hookimpl

from ._eval import TrcEvalSink
from ._pose import MediaPipePose

__all__ = ["sensorfusion_add_estimators", "sensorfusion_add_sinks"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [MediaPipePose]


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [TrcEvalSink]
