"""sensorfusion-rgbd: RGB-D lifting of 2D keypoints to 3D (``rgbd.lift``) and depth point clouds (``rgbd.pointcloud``)."""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._lift import LiftParams, RgbdLift, depth_in_metres, fuse_joint_estimates
    from ._pointcloud import PointCloudEstimator, PointCloudParams, depth_to_points, show_point_cloud, voxel_downsample
    from ._sample import sample_depth_cpu, sample_depth_cuda, sample_depth_numpy

__version__ = "0.1.0"

__all__ = [
    "LiftParams",
    "PointCloudEstimator",
    "PointCloudParams",
    "RgbdLift",
    "__version__",
    "depth_in_metres",
    "depth_to_points",
    "fuse_joint_estimates",
    "sample_depth_cpu",
    "sample_depth_cuda",
    "sample_depth_numpy",
    "show_point_cloud",
    "voxel_downsample",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
