"""sensorfusion-radar: FMCW MIMO radar processing and person estimation.

Cube → point cloud chain (clutter removal, range/Doppler FFT, CA/OS-CFAR, peak grouping,
TDM-MIMO angle estimation), the 4D radar tensor, person clustering, Kalman tracking, a
learned radar → skeleton model and radar–camera fusion. Estimators: ``radar.process``,
``radar.cluster``, ``radar.track``, ``radar.pose``, ``radar.fuse``.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._angle import AngleGrid, angle_grid, angle_spectrum, tdm_doppler_compensation, virtual_positions
    from ._cfar import cfar_detect, cfar_noise
    from ._chain import POINT_FIELDS, ChainConfig, RadarChain, cartesian_grid, group_peaks, radar_tensor_4d
    from ._cluster import Clusters, cluster_people
    from ._estimators import RadarCluster, RadarFuse, RadarPose, RadarProcess, RadarTrack
    from ._fuse import RadarCameraFuser
    from ._spectrum import range_doppler, range_doppler_power, range_doppler_with_power, range_profile, window
    from ._track import KalmanTracker, Track

__version__ = "0.1.0"

__all__ = [
    "POINT_FIELDS",
    "AngleGrid",
    "ChainConfig",
    "Clusters",
    "KalmanTracker",
    "RadarCameraFuser",
    "RadarChain",
    "RadarCluster",
    "RadarFuse",
    "RadarPose",
    "RadarProcess",
    "RadarTrack",
    "Track",
    "__version__",
    "angle_grid",
    "angle_spectrum",
    "cartesian_grid",
    "cfar_detect",
    "cfar_noise",
    "cluster_people",
    "group_peaks",
    "radar_tensor_4d",
    "range_doppler",
    "range_doppler_power",
    "range_doppler_with_power",
    "range_profile",
    "tdm_doppler_compensation",
    "virtual_positions",
    "window",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
