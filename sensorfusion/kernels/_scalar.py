"""Scalar kernels: a per-item function written once, compiled for the CPU and for CUDA.

A scalar kernel is a plain module-level Python function on scalars and small arrays (no
allocation, no numpy calls, no ``max``/``min`` builtins: Numba's CUDA target cannot compile
them; write the comparison out). :func:`scalar` compiles it with ``numba.njit`` (cached on
disk by its source file), so other Numba code and the generated CPU loops call it directly.
:func:`device_function` gives its CUDA twin: the same Python source compiled with
``numba.cuda.jit(device=True)``, its global names that refer to other scalar kernels rebound
to *their* device twins (so a call chain stays on the device).
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import Any, overload

__all__ = [
    "device_by_key",
    "device_function",
    "is_scalar",
    "scalar",
    "scalar_by_key",
    "scalar_key",
    "scalar_source_files",
]

_SCALARS: dict[str, Any] = {}  # key -> numba CPU dispatcher
_DEVICE: dict[str, Any] = {}  # key -> CUDA device function


def scalar_key(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a scalar kernel (or of its Python function)."""
    py = getattr(fn, "py_func", fn)
    return f"{py.__module__}:{py.__qualname__}"


@overload
def scalar(fn: Callable[..., Any]) -> Any: ...
@overload
def scalar(fn: None = None, *, inline: bool = False) -> Callable[[Callable[..., Any]], Any]: ...
def scalar(fn: Any = None, *, inline: bool = False) -> Any:
    """Compile ``fn`` as a scalar kernel: ``numba.njit(cache=True, nogil=True)``, registered so
    that generated loops and CUDA twins can find it. ``inline=True`` asks Numba to inline it
    into its callers (worth it for small helpers called in a hot loop)."""

    def deco(f: Any) -> Any:
        from numba import njit

        if "<locals>" in f.__qualname__:
            raise TypeError(
                f"scalar kernel {f.__qualname__!r} must be defined at module level (its source file is "
                "its cache key, and generated loops import it by name)"
            )
        disp = njit(cache=True, nogil=True, inline="always" if inline else "never")(f)
        _SCALARS[scalar_key(f)] = disp
        return disp

    return deco(fn) if fn is not None else deco


def is_scalar(obj: object) -> bool:
    """True for a function made by :func:`scalar` (or any Numba CPU dispatcher)."""
    from numba.core.registry import CPUDispatcher

    return isinstance(obj, CPUDispatcher)


def scalar_by_key(key: str) -> Any:
    """The scalar kernel registered under ``key`` (``module:qualname``), importing its module."""
    if key not in _SCALARS:
        module, _, _ = key.partition(":")
        importlib.import_module(module)
    try:
        return _SCALARS[key]
    except KeyError:
        raise LookupError(f"no scalar kernel {key!r} (decorate it with sensorfusion.kernels.scalar)") from None


def _called_dispatchers(py: Any) -> dict[str, Any]:
    """The global names ``py`` uses that refer to Numba CPU dispatchers, with those dispatchers."""
    out = {}
    for name in py.__code__.co_names:
        obj = py.__globals__.get(name)
        if is_scalar(obj):
            out[name] = obj
    return out


def scalar_source_files(fn: Any) -> list[str]:
    """Source files of ``fn`` and of every scalar kernel it calls, transitively (sorted)."""
    seen: set[str] = set()
    files: set[str] = set()
    stack = [fn]
    while stack:
        f = stack.pop()
        py = getattr(f, "py_func", f)
        key = scalar_key(py)
        if key in seen:
            continue
        seen.add(key)
        files.add(py.__code__.co_filename)
        stack.extend(_called_dispatchers(py).values())
    return sorted(files)


def device_function(fn: Any) -> Any:
    """The CUDA device twin of scalar kernel ``fn`` (built once, on first use; imports
    :mod:`numba.cuda`, so call it only when the cuda tier runs)."""
    py = getattr(fn, "py_func", fn)
    key = scalar_key(py)
    dev = _DEVICE.get(key)
    if dev is not None:
        return dev
    from numba import cuda

    ns = dict(py.__globals__)
    for name, callee in _called_dispatchers(py).items():
        ns[name] = device_function(callee)
    rebuilt = types.FunctionType(py.__code__, ns, py.__name__, py.__defaults__, py.__closure__)
    rebuilt.__qualname__ = py.__qualname__
    rebuilt.__module__ = py.__module__
    dev = cuda.jit(device=True)(rebuilt)  # type: ignore[no-untyped-call]
    _DEVICE[key] = dev
    return dev


def device_by_key(key: str) -> Any:
    """:func:`device_function` of the scalar kernel registered under ``key``."""
    return device_function(scalar_by_key(key))
