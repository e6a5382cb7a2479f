"""The ``rerun`` plugin: the ``rerun`` sink and the ``rrd`` / ``mcap`` session exporters.

A light module: each component is a lazy reference, imported (with rerun-sdk, mcap and the
Foxglove schemas) the first time a rig or an export uses it, so ``sensorfusion --help`` and
``sensorfusion plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorfusion import Exporter, Sink, hookimpl, lazy

__all__ = ["sensorfusion_add_exporters", "sensorfusion_add_sinks"]

_P = "sensorfusion_rerun"
_INSTALL = "pip install sensorfusion-rerun"


@hookimpl
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    return [
        lazy(
            f"{_P}._sink:RerunSink",
            name="rerun",
            summary="the running rig in Rerun's viewer (spawn / connect) or an .rrd file",
            requires=("rerun",),
            install=_INSTALL,
        )
    ]


@hookimpl
def sensorfusion_add_exporters() -> Sequence[Exporter]:
    return [
        Exporter(
            "rrd",
            "Rerun recording: camera frusta, images, 2D/3D skeletons, radar, device poses",
            ".rrd",
            lazy(f"{_P}._export_rrd:export_rrd"),
            aliases=("rerun",),
            requires=("rerun",),
            install=_INSTALL,
        ),
        Exporter(
            "mcap",
            "MCAP with Foxglove schemas: SceneUpdate skeletons, images, camera calibration, transforms",
            ".mcap",
            lazy(f"{_P}._export_mcap:export_mcap"),
            aliases=("foxglove",),
            requires=("mcap", "mcap_protobuf", "foxglove_schemas_protobuf"),
            install=_INSTALL,
        ),
    ]
