"""The public surface is exactly what is intended; private modules declare __all__."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import sensorfusion

EXPECTED = {
    "Command",
    "ConfigError",
    "Driver",
    "DriverContext",
    "DriverError",
    "EndOfStream",
    "Estimator",
    "FieldSpec",
    "Frame",
    "FrameKind",
    "FrameSet",
    "MissingDependencyError",
    "NoParams",
    "PluginError",
    "PluginLoadError",
    "RigCalibration",
    "RigConfig",
    "SchemaError",
    "SensorCalibration",
    "SensorfusionError",
    "SessionDamagedError",
    "Sink",
    "SkeletonSpec",
    "StageContext",
    "StoreError",
    "StreamSpec",
    "Transform",
    "__version__",
    "hookimpl",
    # calibration files through the installed formats, lazy references for light plugins
    "CalibrationFormat",
    "calibration_formats",
    "detect_calibration_format",
    "lazy",
    "lazy_exports",
    "load_calibration",
    "save_calibration",
    # session exporters (the sensorfusion_add_exporters hook) and exporting through them
    "ExportOptions",
    "ExportResult",
    "Exporter",
    "export_session",
    "exporters",
    # the warning every deprecation (sensorfusion._deprecations) raises
    "SensorfusionDeprecationWarning",
}


def test_exports_are_exactly_the_intended_ones():
    assert set(sensorfusion.__all__) == EXPECTED
    for name in sensorfusion.__all__:
        assert hasattr(sensorfusion, name)


def test_one_exception_hierarchy():
    for name in (
        "ConfigError",
        "DriverError",
        "EndOfStream",
        "MissingDependencyError",
        "PluginError",
        "PluginLoadError",
        "SchemaError",
        "StoreError",
        "SessionDamagedError",
    ):
        assert issubclass(getattr(sensorfusion, name), sensorfusion.SensorfusionError)


def test_every_module_declares_all():
    missing = []
    for mod in pkgutil.walk_packages(sensorfusion.__path__, "sensorfusion."):
        if mod.name.endswith("__main__"):
            continue
        m = importlib.import_module(mod.name)
        if not hasattr(m, "__all__"):
            missing.append(mod.name)
    assert not missing, f"modules without __all__: {missing}"


def test_package_is_typed():
    assert (Path(sensorfusion.__file__).parent / "py.typed").exists()


def test_missing_dependency_error_says_what_to_install():
    err = sensorfusion.MissingDependencyError("the RealSense driver", install="pip install sensorfusion-realsense")
    assert "pip install sensorfusion-realsense" in str(err)
    assert isinstance(err, ImportError)
