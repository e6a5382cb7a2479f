"""The ``selfsup`` plugin: registers nothing yet but the camera models' home."""

from __future__ import annotations

__all__: list[str] = []
