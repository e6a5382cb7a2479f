"""Exporting sessions through the installed exporters (the ``sensorfusion_add_exporters`` hook)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._exporter import Exporter, ExportOptions, ExportResult

if TYPE_CHECKING:
    from .plugins import PluginHost
    from .store import Session

__all__ = ["export_session", "exporters"]


def export_session(
    session: Session | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    options: ExportOptions | None = None,
    host: PluginHost | None = None,
) -> ExportResult:
    """Export a recorded session through an installed exporter.

    Args:
        session: a :class:`sensorfusion.store.Session` or the path of one.
        out: the file to write; ``None``: next to the session, named after it with the
            format's suffix. Its folder is created; it is checked writable before the work.
        format: an exporter name or alias (``"c3d"``); ``None``: from ``out``'s suffix.
        options: streams, people, time range and format-specific ``extra`` options.
        host: the plugin host whose exporters to use (default: the process-wide one).

    Raises:
        ConfigError: unknown format (the message lists the installed ones), a suffix no
            format writes, an unwritable ``out``, or what the exporter refuses (an unknown
            stream or person...).
        MissingDependencyError: the exporter's optional library is not installed.
        StoreError: ``session`` is not a session.
        PluginError: the exporter failed.
    """
    if host is None:
        from .plugins import get_plugin_host

        host = get_plugin_host()
    return host.exporters.export(session, out, format=format, options=options)


def exporters(*, host: PluginHost | None = None) -> list[Exporter]:
    """Every installed :class:`Exporter`, in registration order."""
    if host is None:
        from .plugins import get_plugin_host

        host = get_plugin_host()
    return list(host.exporters)
