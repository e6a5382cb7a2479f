"""The ``onnx`` plugin: registers ``onnx.keypoints``.

onnxruntime is imported only when the estimator is built, so the plugin registers without
it; building ``onnx.keypoints`` then raises ``MissingDependencyError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator
from sensorfusion.hookspecs import hookimpl

from ._estimator import OnnxKeypoints

__all__ = ["sensorfusion_add_estimators"]


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [OnnxKeypoints]
