"""Every peer's camera calibration file as a :class:`~sensorfusion.schema.RigCalibration`.

These formats are registered with the SDK through the ``sensorfusion_add_calibration_formats``
hook (see ``_plugin.py``), so :func:`sensorfusion.load_calibration` reads them all - the rig
file's ``calibration.file``, driver params, ``sensorfusion calibrate convert`` and
``sensorfusion triangulate`` go through it. This package only describes them.

==================  =============================================  ==========================
format (aliases)    file                                           module (units, axes)
==================  =============================================  ==========================
``sensorfusion``    the SDK's own JSON/YAML (the core registers it)  metres, ``world_from_sensor``
``pose2sim``        Pose2Sim ``Calib.toml``                          :mod:`._toml` (m)
``aniposelib``      aniposelib / anipose ``calibration.toml``        :mod:`._toml` (mm)
 (``anipose``)
``freemocap``       FreeMoCap ``*_camera_calibration.toml``          :mod:`._freemocap` (mm)
``caliscope``       caliscope ``config.toml`` / ``camera_array.toml``  :mod:`._caliscope` (m)
 (``pyxy3d``)
``qualisys``        Qualisys ``.qca.txt`` (XML)                      :mod:`._qualisys` (mm)
 (``qca``)
``opencv``          OpenCV FileStorage ``.yml``/``.yaml``/``.xml``   :mod:`._opencv` (m)
``easymocap``       EasyMocap ``intri.yml`` + ``extri.yml``          :mod:`._opencv` (m)
``panoptic``        CMU Panoptic ``calibration_*.json``              :mod:`._panoptic` (cm)
 (``cmu_panoptic``)
``voxelpose``       VoxelPose / mmpose Shelf, Campus JSON            :mod:`._voxelpose` (mm,
 (``mmpose``,                                                        ``T`` = camera centre)
 ``shelf``,
 ``campus``)
``kalibr``          Kalibr ``camchain.yaml``                         :mod:`._kalibr` (m, cam0)
==================  =============================================  ==========================

Format-specific options pass through ``load_calibration(path, format, **options)``:
``distortion=`` for Qualisys, ``length_unit_m=`` for the TOMLs and VoxelPose, ``types=`` for
Panoptic, ``world_from_cam0=`` for Kalibr, ``image_size=`` for VoxelPose, ``include_ignored=``
and (writing) ``layout=`` for caliscope. Which file is which is decided in :mod:`._sniff`,
without importing OpenCV.
"""

from __future__ import annotations

from sensorfusion import (
    CalibrationFormat,
    detect_calibration_format,
    lazy,
    load_calibration,
    save_calibration,
)

from ._qualisys import QCA_DISTORTION_MODES

__all__ = [
    "CALIBRATION_FORMATS",
    "FORMATS",
    "QCA_DISTORTION_MODES",
    "detect_format",
    "load_calibration",
    "save_calibration",
]

_P = "sensorfusion_calibration.formats"


def _fmt(
    name: str,
    module: str,
    load: str,
    save: str,
    *,
    patterns: tuple[str, ...],
    description: str,
    aliases: tuple[str, ...] = (),
    folder: bool = False,
) -> CalibrationFormat:
    return CalibrationFormat(
        name=name,
        load=lazy(f"{_P}.{module}:{load}"),
        save=lazy(f"{_P}.{module}:{save}"),
        sniff=lazy(f"{_P}._sniff:sniff_{name}"),
        aliases=aliases,
        patterns=patterns,
        folder=folder,
        description=description,
    )


#: The formats this distribution registers, in the order they are tried and listed.
CALIBRATION_FORMATS: tuple[CalibrationFormat, ...] = (
    _fmt("pose2sim", "_toml", "load_pose2sim", "save_pose2sim", patterns=("*.toml",),
         description="Pose2Sim Calib.toml (metres)"),
    _fmt("aniposelib", "_toml", "load_aniposelib", "save_aniposelib", aliases=("anipose",),
         patterns=("calibration.toml",), description="aniposelib / anipose calibration.toml (millimetres)"),
    _fmt("freemocap", "_freemocap", "load_freemocap", "save_freemocap", patterns=("*camera_calibration.toml",),
         description="FreeMoCap camera calibration TOML (millimetres, world_position/orientation)"),
    _fmt("caliscope", "_caliscope", "load_caliscope", "save_caliscope", aliases=("pyxy3d",),
         patterns=("config.toml", "camera_array.toml"), description="caliscope config.toml / camera_array.toml (metres)"),
    _fmt("qualisys", "_qualisys", "load_qca", "save_qca", aliases=("qca",), patterns=("*.qca.txt",),
         description="Qualisys Track Manager .qca.txt export (millimetres)"),
    _fmt("opencv", "_opencv", "load_opencv", "save_opencv", patterns=("*.yml", "*.yaml", "*.xml"),
         description="OpenCV FileStorage YAML/XML (metres)"),
    _fmt("easymocap", "_opencv", "load_easymocap", "save_easymocap", patterns=("intri.yml", "extri.yml"), folder=True,
         description="EasyMocap intri.yml + extri.yml (a folder, or either file)"),
    _fmt("panoptic", "_panoptic", "load_panoptic", "save_panoptic", aliases=("cmu_panoptic",),
         patterns=("calibration_*.json",), description="CMU Panoptic calibration JSON (centimetres)"),
    _fmt("voxelpose", "_voxelpose", "load_voxelpose", "save_voxelpose", aliases=("mmpose", "shelf", "campus"),
         patterns=("calibration_shelf.json", "calibration_campus.json"),
         description="VoxelPose / mmpose Shelf-Campus JSON (camera centre T in millimetres)"),
    _fmt("kalibr", "_kalibr", "load_kalibr", "save_kalibr", patterns=("camchain*.yaml",),
         description="Kalibr camchain YAML (relative to cam0)"),
)  # fmt: skip

#: The names of the formats above, after the core's own ``sensorfusion`` (kept for callers of
#: earlier versions; :func:`sensorfusion.calibration_formats` lists what is installed).
FORMATS: tuple[str, ...] = ("sensorfusion", *(f.name for f in CALIBRATION_FORMATS))

#: Earlier name of :func:`sensorfusion.detect_calibration_format`.
detect_format = detect_calibration_format
