"""The one exception hierarchy of sensorfusion.

::

    SensorfusionError
     ├── ConfigError            a rig file, a CLI argument or a parameter block is invalid
     │                          (carries ``field_path``, ``value`` and ``choices``)
     ├── PluginError            something raised inside a plugin (carries ``plugin``)
     │    └── PluginLoadError   a plugin failed to import or register
     ├── MissingDependencyError an optional dependency is absent (says what to ``pip install``)
     ├── SchemaError            data does not match the stream contract it was declared with
     ├── DriverError            a driver failed to open or read; the scheduler restarts it
     │    └── EndOfStream       a finite source (file, replay) has no more frames
     └── StoreError             a session cannot be opened, read or written
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "DriverError",
    "EndOfStream",
    "MissingDependencyError",
    "PluginError",
    "PluginLoadError",
    "SchemaError",
    "SensorfusionError",
    "StoreError",
]


class SensorfusionError(Exception):
    """Base class of every error raised by sensorfusion on purpose."""


class ConfigError(SensorfusionError):
    """Invalid configuration: names the field path, the bad value and the valid choices."""

    def __init__(
        self,
        message: str,
        *,
        field_path: str = "",
        value: Any = None,
        choices: Sequence[str] | None = None,
        source: str | None = None,
    ) -> None:
        self.field_path = field_path
        self.value = value
        self.choices = list(choices) if choices is not None else None
        self.source = source
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.source}: " if self.source else ""
        path = f"{self.field_path}: " if self.field_path else ""
        text = f"{where}{path}{self.reason}"
        if self.value is not None and repr(self.value) not in text:
            text += f" (got {self.value!r})"
        if self.choices:
            text += f"; valid choices: {', '.join(self.choices)}"
        return text


class PluginError(SensorfusionError):
    """An exception raised inside a plugin, with the plugin's name attached."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")


class PluginLoadError(PluginError):
    """A plugin could not be imported or registered; it is skipped and listed with this reason."""


class MissingDependencyError(SensorfusionError, ImportError):
    """An optional dependency is not installed; the message gives the exact command."""

    def __init__(self, what: str, *, install: str) -> None:
        self.install = install
        super().__init__(f"{what} needs an optional dependency that is not installed; run: {install}")


class SchemaError(SensorfusionError, ValueError):
    """Data does not match its declared stream contract (expected vs actual)."""


class DriverError(SensorfusionError):
    """A driver failed to open or read; the scheduler restarts it with backoff."""


class EndOfStream(DriverError):
    """A finite source has no more frames. Not a failure: the source is finished."""


class StoreError(SensorfusionError):
    """A session store cannot be opened, read or written."""
