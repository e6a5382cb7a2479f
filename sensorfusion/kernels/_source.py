"""Generated kernel source files: where they live, how they are written and imported.

Numba caches a compiled function on disk keyed by its *source file* (path, modification time
and size) and by the function's bytecode — and, for a closure, by the pickled contents of its
cells. A loop built at run time by a factory is a closure over the scalar it calls; that
dispatcher pickles with a fresh id in every process, so Numba writes a cache entry that no
later process ever matches (zero hits, a full compile in every process). Generated loops are
therefore real ``.py`` files: deterministic text, written once under a name that carries a
digest of that text and of the scalar code's source files, never rewritten. A file's mtime
stays put, Numba's index stays valid, and the second process loads the machine code instead of
compiling it. A change to the loop or to the scalar code (or to anything it calls) gives a new
digest, hence a new file, which Numba compiles once. Two checkouts of the SDK sharing the
directory never overwrite each other's files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

__all__ = ["generated_source_dir", "load_generated"]

GENERATOR_VERSION = "1"
_LOG = logging.getLogger("sensorfusion.kernels")
_LOCK = threading.RLock()
_MODULES: dict[str, ModuleType] = {}
_FALLBACK: dict[str, Path] = {}


def _candidate_dir() -> Path:
    env = os.environ.get("SENSORFUSION_KERNEL_DIR")
    if env:
        return Path(env)
    from numba.core import config

    numba_cache = str(getattr(config, "CACHE_DIR", "") or "")
    if numba_cache:
        return Path(numba_cache) / "sensorfusion-kernels"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sensorfusion" / "kernels"


def generated_source_dir() -> Path:
    """Where generated kernel sources are written: ``$SENSORFUSION_KERNEL_DIR``, else
    ``$NUMBA_CACHE_DIR/sensorfusion-kernels``, else ``$XDG_CACHE_HOME/sensorfusion/kernels``
    (``~/.cache``). An unwritable place falls back to a per-process temporary folder (kernels
    still work, but are compiled again by the next process; a warning is logged)."""
    want = _candidate_dir()
    key = str(want)
    if key in _FALLBACK:
        return _FALLBACK[key]
    try:
        want.mkdir(parents=True, exist_ok=True)
        if not os.access(want, os.W_OK):
            raise PermissionError(f"{want} is not writable")
        return want
    except OSError as e:
        tmp = Path(tempfile.mkdtemp(prefix="sensorfusion-kernels-"))
        _LOG.warning("cannot write generated kernels to %s (%s); using %s for this process", want, e, tmp)
        _FALLBACK[key] = tmp
        return tmp


def _digest(text: str, source_files: list[str]) -> str:
    h = hashlib.sha256()
    h.update(GENERATOR_VERSION.encode())
    h.update(text.encode())
    for f in source_files:
        h.update(f.encode())
        try:
            h.update(Path(f).read_bytes())
        except OSError:  # no file (e.g. an interactive session): the text alone decides
            pass
    return h.hexdigest()[:16]


def load_generated(name: str, kind: str, text: str, source_files: list[str]) -> ModuleType:
    """Write ``text`` (once) as the ``kind`` source of kernel ``name`` and import it."""
    digest = _digest(text, source_files)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    stem = f"{slug}__{kind}__{digest}"
    with _LOCK:
        mod = _MODULES.get(stem)
        if mod is not None:
            return mod
        path = generated_source_dir() / f"{stem}.py"
        if not path.is_file():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{stem}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, path)  # atomic: a racing process writes the same text
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        mod_name = f"_sensorfusion_kernel_{stem}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[mod_name]
            raise
        _MODULES[stem] = mod
        return mod
