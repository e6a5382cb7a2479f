"""sensorfusion-report: a recorded session as pictures a person would rather look at than tables.

* :func:`write_report` — one self-contained HTML page (figures inline as SVG, no script, no
  network) or a folder of PNG figures: the run summary, per-stream rates and lost frames over
  time, per-camera reprojection errors, trajectories on the floor plan, bone-length stability,
  MPJPE over time when the session holds ground truth.
* :func:`analyse_session` — the numbers behind it (:class:`ReportData`; a section that does not
  apply is a :class:`Skipped` with its reason).
* The ``sensorfusion report`` command (registered by the ``report`` plugin).

Exports load on first use, so the plugin stays light.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._analysis import ReportData, Skipped, analyse_session
    from ._html import SECTIONS
    from ._report import FORMATS, write_report

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "SECTIONS",
    "ReportData",
    "Skipped",
    "__version__",
    "analyse_session",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(__name__)
