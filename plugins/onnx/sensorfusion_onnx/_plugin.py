"""The ``onnx`` plugin: registers ``onnx.keypoints``.

A light module: each component is a lazy reference, imported (with its libraries) the
first time a rig uses it, so listing plugins and ``sensorfusion --help`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Estimator, lazy
from sensorfusion.hookspecs import hookimpl

__all__ = ["sensorfusion_add_estimators"]

_P = "sensorfusion_onnx"


@hookimpl
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    return [
        lazy(
            f"{_P}._estimator:OnnxKeypoints",
            name="onnx.keypoints",
            summary="2D keypoints from an ONNX model",
            requires=("onnxruntime",),
        ),
    ]
