"""Every hook of sensorfusion, in one place.

Plugins implement these with ``@sensorfusion.hookimpl`` and are found through the
``sensorfusion`` entry-point group. Hooks are always called with keyword arguments, and an
implementation may accept fewer arguments than the spec, so specs can grow without
breaking plugins. None of these hooks is ``firstresult``: every plugin's answer is used.

Set ``SENSORFUSION_TRACE_HOOKS=1`` to log every hook call with its arguments and results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._calibration_format import CalibrationFormat
    from ._components import Command, Driver, Estimator, Sink
    from ._exporter import Exporter
    from .scheduler._runinfo import RunInfo
    from .schema._skeletons import SkeletonSpec

__all__ = ["hookimpl", "hookspec", "PROJECT"]

PROJECT = "sensorfusion"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------
# Registration: what a plugin contributes
# ---------------------------------------------------------------------------------------


@hookspec
def sensorfusion_add_drivers() -> Sequence[type[Driver]]:
    """Return the driver classes this plugin provides.

    Each class has a unique ``name`` (the ``driver:`` value in ``rig.yaml``), a pydantic
    ``Params`` model validated against the sensor's ``params:`` block, and implements
    :class:`sensorfusion.Driver`. Not ``firstresult``: all plugins' lists are merged; two
    plugins registering the same name is an error that names both.
    """


@hookspec
def sensorfusion_add_estimators() -> Sequence[type[Estimator]]:
    """Return the estimator classes this plugin provides.

    Each class has a unique ``name`` (the ``estimator:`` value of a stage), a ``Params``
    model, and implements :class:`sensorfusion.Estimator`. Not ``firstresult``.
    """


@hookspec
def sensorfusion_add_sinks() -> Sequence[type[Sink]]:
    """Return the sink classes this plugin provides.

    Each class has a unique ``name`` (the ``sink:`` value in ``rig.yaml``), a ``Params``
    model, and implements :class:`sensorfusion.Sink`. Not ``firstresult``.
    """


@hookspec
def sensorfusion_add_skeletons() -> Sequence[SkeletonSpec]:
    """Return skeleton specs (joint names, parents, edges) to register.

    Names must be unique; joint names should use the shared vocabulary
    (``left_shoulder``...) so mappings to other specs follow. Not ``firstresult``.
    """


@hookspec
def sensorfusion_add_commands() -> Sequence[Command]:
    """Return :class:`sensorfusion.Command` objects: subcommands of the ``sensorfusion`` CLI.

    A subcommand name already taken by the core or another plugin is an error that names
    both plugins. Not ``firstresult``.
    """


@hookspec
def sensorfusion_add_calibration_formats() -> Sequence[CalibrationFormat]:
    """Return the :class:`sensorfusion.CalibrationFormat` objects (name, sniff, load, save)
    of the calibration files this plugin reads and writes.

    :func:`sensorfusion.load_calibration` sniffs a file across every installed format (a
    file two formats claim is refused as ambiguous) and an unknown format's error lists them
    all. A name or alias another plugin already registered is an error that names both
    plugins. Not ``firstresult``.
    """


@hookspec
def sensorfusion_add_exporters() -> Sequence[Exporter]:
    """Return the :class:`sensorfusion.Exporter` objects (name, summary, suffix, export) of
    the file formats this plugin exports recorded sessions to.

    :func:`sensorfusion.export_session` and ``sensorfusion export --to NAME`` pick one by
    name or alias, or by the output file's ``suffix``; an unknown name's error lists them
    all. ``export`` is called as ``export(session, out, options)`` (a
    :class:`sensorfusion.store.Session`, a :class:`pathlib.Path` whose folder is writable,
    :class:`sensorfusion.ExportOptions`) and returns a :class:`sensorfusion.ExportResult`;
    make it a :func:`sensorfusion.lazy` reference to keep the plugin light. A name or alias
    another plugin already registered is an error that names both plugins. Not
    ``firstresult``.
    """


# ---------------------------------------------------------------------------------------
# Observation: what happens during a run
# ---------------------------------------------------------------------------------------


@hookspec
def sensorfusion_session_started(run: RunInfo) -> None:
    """Called once the rig is built and every source thread has started.

    Args:
        run: the run's identity: rig name, output path, streams, stages, start time.
    """


@hookspec
def sensorfusion_frame_dropped(run: RunInfo, stream: str, reason: str, count: int) -> None:
    """Called when frames are dropped, at most a few times a second per stream and reason
    (drops are aggregated between calls).

    Args:
        run: the run.
        stream: the stream, or ``stage:<id>`` for framesets dropped in front of a stage.
        reason: ``queue_full``, ``late``, ``unmatched``, ``stage_queue_full``, ``invalid``.
        count: frames dropped since the previous call for this stream and reason.
    """


@hookspec
def sensorfusion_driver_failed(run: RunInfo, sensor_id: str, error: BaseException, restart_in_s: float) -> None:
    """Called when a driver raises (other than end of stream); it is restarted after
    ``restart_in_s`` seconds while the other sources go on.

    Args:
        run: the run.
        sensor_id: the failing sensor.
        error: what it raised.
        restart_in_s: the backoff before the next ``open()``.
    """


@hookspec
def sensorfusion_session_finished(run: RunInfo, summary: dict[str, Any]) -> None:
    """Called once at the end of a run, after everything is flushed.

    Args:
        run: the run.
        summary: the end-of-run summary (stream and stage statistics, estimator and sink
            summaries, events), the same object ``--json`` prints and the session stores.
    """
