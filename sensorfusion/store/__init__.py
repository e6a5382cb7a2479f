"""The session store: Zarr v3 session writer and reader, inspection.

A session is written by :class:`SessionWriter` (buffered, crash-safe commits) and read
back by :class:`Session` (``Session.open(path)``); a recorded session is replayed through
the pipeline by the built-in ``replay`` driver.
"""

from ._inspect import format_inspect, inspect_session
from ._reader import Session, StreamInfo
from ._writer import SCHEMA_VERSION, SessionWriter

__all__ = [
    "SCHEMA_VERSION",
    "Session",
    "SessionWriter",
    "StreamInfo",
    "format_inspect",
    "inspect_session",
]
