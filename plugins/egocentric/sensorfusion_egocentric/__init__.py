"""sensorfusion-egocentric: the wearer of a head-mounted stereo fisheye headset, in the world.

Estimators (all register through the ``egocentric`` entry point):

* ``egocentric.stereo`` — geometric baseline: stereo triangulation through the fisheye models in
  the device frame, then the device pose into the world (:class:`StereoTriangulation`);
* ``egocentric.learned`` — an EgoPoseFormer-style stereo model in torch (:class:`LearnedStereo`,
  :mod:`._model`), trained with ``sensorfusion egocentric train``;
* ``egocentric.mean_pose`` — the trivial baseline (:class:`MeanPose`);
* ``egocentric.fuse`` — wearers fused with the room's cameras, identity from the headset
  (:class:`EgoRoomFusion`);
* ``egocentric.reframe`` — a skeleton between the world and a device frame (:class:`SkeletonReframe`).
"""

from ._base import EgoParams, EgoStage, Headset
from ._common import DevicePoses, ego_skeleton_spec
from ._data import EgoSamples, concat_samples, samples_from_session
from ._fusion import EgoRoomFusion, FuseParams
from ._geometric import StereoParams, StereoTriangulation
from ._headset import HeadsetGeometry, headset_geometry
from ._learned import LearnedParams, LearnedStereo, MeanPose, MeanPoseParams, default_model
from ._model import FORMAT, EgoPoseModel, ModelConfig, export_onnx, load_model
from ._posetrack import PoseTrack
from ._reframe import ReframeParams, SkeletonReframe
from ._simulate import simulate_sessions, simulation_rig
from ._stereo import StereoResult, triangulate_stereo
from ._train import TrainConfig, TrainResult, mpjpe_mm, train_model

__version__ = "0.1.0"

__all__ = [
    "FORMAT",
    "DevicePoses",
    "EgoParams",
    "EgoPoseModel",
    "EgoRoomFusion",
    "EgoSamples",
    "EgoStage",
    "FuseParams",
    "Headset",
    "HeadsetGeometry",
    "LearnedParams",
    "LearnedStereo",
    "MeanPose",
    "MeanPoseParams",
    "ModelConfig",
    "PoseTrack",
    "ReframeParams",
    "SkeletonReframe",
    "StereoParams",
    "StereoResult",
    "StereoTriangulation",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "concat_samples",
    "default_model",
    "ego_skeleton_spec",
    "export_onnx",
    "headset_geometry",
    "load_model",
    "mpjpe_mm",
    "samples_from_session",
    "simulate_sessions",
    "simulation_rig",
    "train_model",
    "triangulate_stereo",
]
