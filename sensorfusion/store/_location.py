"""Where a session lives: a local folder or a URL of any fsspec file system.

A plain path (or a ``file://`` URL) is a folder on this machine and is opened through Zarr's
``LocalStore`` (every file written to a temporary name and renamed into place: crash-safe).
Anything else with a ``protocol://`` prefix (``s3://``, ``gs://``, ``az://``, ``memory://``...)
goes through ``zarr.storage.FsspecStore``; on an object store each chunk and each
``zarr.json`` is one PUT, so a reader sees either the old or the new object, and the
writer's commit order (data first, ``count`` last) keeps the same guarantee as on disk.

Options of a file system come from fsspec's configuration: environment variables
``FSSPEC_<PROTOCOL>_<OPTION>`` (``FSSPEC_S3_ENDPOINT_URL=http://127.0.0.1:9000``) or
``~/.config/fsspec/*.json``; for S3 also botocore's own (``AWS_ENDPOINT_URL_S3``,
``AWS_PROFILE``...). Child processes (the writer process, Ray workers on this machine)
inherit them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .._errors import ConfigError, StoreError

__all__ = [
    "Location",
    "check_reachable",
    "is_url",
    "join",
    "location",
    "location_exists",
    "protocol_of",
    "same_location",
    "session_finished",
    "zarr_store",
]

Location = Path | str
"""A session's place: a :class:`~pathlib.Path` on this machine, or a URL (``str``)."""

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_COMMON = ("s3", "gs", "az", "abfs", "memory", "http", "https", "ftp", "sftp", "hdfs", "file")
_BUCKETS = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
_PROBE_TIMEOUT_S = 5.0  # connect timeout of the reachability probe (a closed port fails at once)


def protocol_of(value: str | os.PathLike[str]) -> str | None:
    """``"s3"`` for ``s3://bucket/x``; ``None`` for a plain path."""
    m = _URL.match(os.fspath(value)) if isinstance(value, str) else None
    return m.group(1).lower() if m else None


def is_url(value: str | os.PathLike[str]) -> bool:
    """True for a ``protocol://`` location other than ``file://`` (a local folder)."""
    proto = protocol_of(value)
    return proto is not None and proto not in ("file", "local")


def location(value: str | os.PathLike[str]) -> Location:
    """A location as given: a :class:`Path` for a local folder (``file://`` stripped), the URL
    (trailing ``/`` removed) otherwise. Never passes a URL through ``Path`` (which folds ``//``)."""
    text = os.fspath(value)
    proto = protocol_of(text)
    if proto is None:
        return Path(text)
    if proto in ("file", "local"):
        return Path(text.split("://", 1)[1])
    return text.rstrip("/")


def join(base: str | os.PathLike[str], name: str) -> Location:
    """``base/name`` for a folder or a URL."""
    loc = location(base)
    return loc / name if isinstance(loc, Path) else f"{loc}/{name}"


def _fs(url: str, **extra: Any) -> tuple[Any, str]:
    """The fsspec file system of a URL and the path inside it; :class:`ConfigError` for an
    unknown protocol or a missing fsspec implementation (naming what to install)."""
    proto = protocol_of(url) or "file"
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{url}: a URL needs fsspec: pip install 'sensorfusion[remote]'") from None
    try:
        return fsspec.url_to_fs(url, **extra)  # type: ignore[no-any-return]
    except ValueError as exc:
        if "protocol" in str(exc).lower():
            from fsspec.registry import known_implementations

            raise ConfigError(
                "unknown storage protocol",
                value=f"{proto}://",
                choices=[f"{p}://" for p in _COMMON if p in known_implementations],
            ) from None
        raise ConfigError(f"{url}: {exc}") from None
    except ImportError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{url}: {proto}:// needs a package that is not installed ({text})") from None


def zarr_store(loc: Location, *, read_only: bool) -> Any:
    """What ``zarr.open_group`` opens: the local path itself (Zarr's ``LocalStore``, as
    before), or a ``zarr.storage.FsspecStore`` for a URL (its file system created on Zarr's
    own event loop; a synchronous one, ``memory://``, wrapped)."""
    if isinstance(loc, Path):
        return loc
    from zarr.storage import FsspecStore

    _fs(loc)  # an unknown protocol or a missing package: a ConfigError naming it
    return FsspecStore.from_url(loc, read_only=read_only)


def location_exists(loc: Location) -> bool:
    """Something is at ``loc`` (a folder; for a URL, a Zarr group's ``zarr.json``)."""
    if isinstance(loc, Path):
        return loc.exists()
    fs, path = _fs(loc)
    try:
        return bool(fs.exists(f"{path}/zarr.json"))
    except Exception as exc:  # permissions, a server error: one line, not a traceback
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"cannot read {loc}: {type(exc).__name__}: {text[:300]}") from exc


def session_finished(loc: Location) -> bool:
    """A finished session is at ``loc`` (its root ``zarr.json`` says ``finished: true``)."""
    import json

    try:
        if isinstance(loc, Path):
            text = (loc / "zarr.json").read_bytes()
        else:
            fs, path = _fs(loc)
            text = fs.cat_file(f"{path}/zarr.json")
        attrs = json.loads(text).get("attributes", {})
    except (OSError, ValueError, AttributeError):
        return False
    except Exception as exc:  # a file system's own errors (botocore...): not there or not readable
        if isinstance(exc, ConfigError):
            raise
        return False
    return bool(isinstance(attrs, dict) and attrs.get("finished") is True)


def same_location(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    la, lb = location(a), location(b)
    if isinstance(la, Path) and isinstance(lb, Path):
        return la.resolve() == lb.resolve()
    return la == lb


def check_reachable(url: str, *, field_path: str = "", write: bool = False) -> None:
    """Fail fast, in one line, when a URL's store cannot be reached: an unknown protocol, a
    missing fsspec package, a server that does not answer (S3: short timeouts, one attempt),
    missing credentials, or (``write``) a bucket that does not exist. :class:`ConfigError`."""
    proto = protocol_of(url) or "file"
    extra: dict[str, Any] = {}
    if proto in ("s3", "s3a"):
        extra = {
            "skip_instance_cache": True,
            "config_kwargs": {
                "connect_timeout": _PROBE_TIMEOUT_S,
                "read_timeout": 2 * _PROBE_TIMEOUT_S,
                "retries": {"max_attempts": 1, "mode": "standard"},
            },
        }
    try:
        fs, path = _fs(url, **extra)
    except ConfigError as exc:
        raise ConfigError(exc.reason, field_path=field_path, value=exc.value, choices=exc.choices) from None
    if proto in ("s3", "s3a"):
        fs.retries = 1  # s3fs's own retry loop (5 tries, backing off) on top of botocore's
    root = path.split("/", 1)[0]
    try:
        if proto in _BUCKETS:
            # the bucket (container): one request to the server (``exists`` would swallow a
            # connection error); it must exist to be written to
            try:
                fs.info(root)
            except FileNotFoundError:
                if write:
                    raise ConfigError(f"bucket {root!r} does not exist", field_path=field_path, value=url) from None
        else:
            fs.exists(path)
    except ConfigError:
        raise
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot reach {url}: {type(exc).__name__}: {text[:300]}", field_path=field_path) from None
