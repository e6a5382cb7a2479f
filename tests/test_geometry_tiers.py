"""Every camera-model kernel through the tier contract: numpy, cpu and cuda (simulator and PTX)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from sensorfusion import geometry as g
from sensorfusion.geometry import camera_params
from sensorfusion.testing import KernelCase, KernelTierContract

_spec = importlib.util.spec_from_file_location("_geometry_cases", Path(__file__).with_name("test_geometry_cases.py"))
assert _spec and _spec.loader
cases = sys.modules.get("_geometry_cases") or importlib.util.module_from_spec(_spec)
if "_geometry_cases" not in sys.modules:
    sys.modules["_geometry_cases"] = cases
    _spec.loader.exec_module(cases)

MODELS = ("pinhole", "kannala_brandt", "double_sphere", "scaramuzza", "fisheye624")
OPS = ("project", "project_jacobian", "unproject", "undistort_points")
# one camera per model; the Scaramuzza one with an inv_poly (world2cam) and one without (Newton)
CAMS = {
    "pinhole": [cases.PINHOLE, cases.PINHOLE_RATIONAL],
    "kannala_brandt": [cases.KB],
    "double_sphere": [cases.DS],
    "scaramuzza": [
        cases.OMNI_NO_INV,
        cases.OMNI_NO_INV.model_copy(update={"inv_poly": (300.0, 210.0, 18.0, 16.0, 12.0, 3.0)}),
    ],
    "fisheye624": [cases.F624],
}


class TestGeometryKernels(KernelTierContract):
    kernels = tuple(f"geometry.{m}.{op}" for m in MODELS for op in OPS)

    def cases(self) -> list[KernelCase]:
        out = []
        for model in MODELS:
            for n, cam in enumerate(CAMS[model]):
                params = camera_params(cam)
                big = cases.points_in_view(300, cases.MAX_ANGLE.get(model, 1.4), seed=n)
                small = np.concatenate([big[:6], cases.awkward_points()])
                px_big = np.concatenate([g.project(cam, big, tier="numpy"), [[-1e9, 1e9], [1e3, -50.0]]])
                px_small = np.concatenate(
                    [px_big[:6], [[np.nan, 0.0], [np.inf, 1.0], [-np.inf, np.nan], [cam.cx, cam.cy]]]
                )
                for op in OPS:
                    name = f"geometry.{model}.{op}"
                    pix = op in ("unproject", "undistort_points")
                    out.append(KernelCase(name, (params, px_small if pix else small), f"camera {n}"))
                    out.append(KernelCase(name, (params, px_big if pix else big), f"camera {n}, 300", simulate=False))
                    out.append(KernelCase(name, (params, np.zeros((0, 2 if pix else 3))), "empty"))
        return out

    def bad_calls(self) -> list[tuple[object, type[BaseException], str]]:
        import sensorfusion

        return [
            (lambda: g.project(cases.KB, np.zeros((4, 2))), sensorfusion.SchemaError, r"expected shape \(\*, N, 3\), got \(4, 2\)"),
            (lambda: g.unproject(cases.F624, np.zeros(3)), sensorfusion.SchemaError, r"expected shape \(\*, N, 2\), got \(3,\)"),
            (lambda: g.project(cases.DS, np.zeros((1, 3)), tier="gpu"), sensorfusion.ConfigError, "valid choices: auto, numpy, cpu, cuda"),
        ]  # fmt: skip
