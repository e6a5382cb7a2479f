"""The loop generator: one scalar kernel + an :class:`ItemLoop` -> the CPU and CUDA tiers.

From a description of how one item is computed (which scalar kernel, called with which
arguments, its results stored where), this module writes two source files:

* the **cpu** twin: ``@njit(parallel=True, cache=True, nogil=True)``, a ``prange`` over the
  items (over chunks of :attr:`LaunchConfig.cpu_chunk` items when the loop needs scratch
  memory, allocated once per chunk; over rows for a 2-D grid of items);
* the **cuda** twin: a ``@cuda.jit`` kernel with one thread per item (``cuda.grid(1)`` or
  ``cuda.grid(2)``), scratch as ``cuda.local.array`` of a fixed size, calling the scalar's
  device twin; and its host launcher (copies, allocation, block counts from the one
  :class:`LaunchConfig`, copies back, the scratch bounds checked first).

Both files are written once under a content digest and imported; Numba caches them by file
(see :mod:`._source` for why this, and not a closure, is what makes the cache hit).
"""

from __future__ import annotations

import ast
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from .._errors import ConfigError
from ._config import launch_config
from ._registry import register
from ._scalar import is_scalar, scalar_key, scalar_source_files
from ._source import load_generated

__all__ = ["ItemLoop", "LoopKernel", "Output", "Scratch", "loop_kernel", "register_loop"]

_DTYPES = ("float64", "float32", "int64", "int32", "int16", "int8", "uint8", "bool_", "complex128", "complex64")
_RESERVED = {"i", "j", "n", "n0", "n1", "_r", "_c", "_chunk", "np", "math", "cuda", "prange", "njit", "loop", "kernel"}


@dataclass(frozen=True)
class Output:
    """An array the kernel allocates and returns: ``name``, ``shape`` (an expression over the
    kernel's parameters and the item counts ``n`` / ``n0, n1``, e.g. ``"(n, 2)"``), ``dtype``."""

    name: str
    shape: str
    dtype: str = "float64"


@dataclass(frozen=True)
class Scratch:
    """Per-thread scratch memory handed to the scalar kernel.

    ``shape`` is an expression over the kernel's parameters (the CPU allocates exactly that);
    ``cuda_shape`` the fixed shape of the CUDA local array (default: ``shape`` when that is a
    constant). When ``shape`` depends on the input, name what it counts in ``limit`` (e.g.
    ``"views"``): the cuda tier's bound is then registered and checked before a launch and by
    :func:`sensorfusion.kernels.check_limits` when an estimator is built.
    """

    name: str
    shape: str
    dtype: str = "float64"
    cuda_shape: int | tuple[int, ...] | None = None
    limit: str | None = None


@dataclass(frozen=True)
class ItemLoop:
    """How a kernel computes one item; the loop generator writes the rest.

    Attributes:
        scalar: the scalar kernel (made with :func:`sensorfusion.kernels.scalar`).
        params: the kernel's parameters, in order — the one signature of all its tiers.
        items: the item count, an expression over ``params`` (``"points.shape[0]"``); a pair of
            expressions for a 2-D grid of items (index ``i, j``, counts ``n0, n1``).
        call: the arguments of the scalar call for item ``i`` (and ``j``), e.g.
            ``"params, points[i, 0], points[i, 1], points[i, 2]"``.
        store: where the scalar's results go, one target per returned value
            (``("out[i, 0]", "out[i, 1]")``); empty when the scalar writes its outputs itself.
        allocate: arrays the kernel allocates and returns (in this order).
        scratch: per-thread scratch arrays passed to the scalar by name.
        outputs: parameters the kernel writes in place (the CUDA launcher copies them back).
    """

    scalar: Callable[..., Any]
    params: tuple[str, ...]
    items: str | tuple[str, str]
    call: str
    store: tuple[str, ...] = ()
    allocate: tuple[Output, ...] = ()
    scratch: tuple[Scratch, ...] = ()
    outputs: tuple[str, ...] = ()

    @property
    def two_d(self) -> bool:
        return not isinstance(self.items, str)

    @property
    def counts(self) -> tuple[str, ...]:
        return ("n0", "n1") if self.two_d else ("n",)


def _names(expr: str, what: str) -> set[str]:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise ConfigError(f"{what} is not a Python expression: {e.msg}", field_path=what, value=expr) from None
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _validate(name: str, loop: ItemLoop) -> None:
    where = f"kernel {name!r}"
    if not is_scalar(loop.scalar):
        raise TypeError(
            f"{where}: ItemLoop.scalar must be a scalar kernel (decorate it with sensorfusion.kernels.scalar)"
        )
    sname = getattr(loop.scalar, "__name__", "")
    own = {sname, *loop.params, *(o.name for o in loop.allocate), *(s.name for s in loop.scratch)}
    clash = sorted(_RESERVED & own)
    if clash:
        raise ConfigError(f"{where}: these names are the generator's own", field_path="params", value=clash)
    if len(own) != 1 + len(loop.params) + len(loop.allocate) + len(loop.scratch):
        raise ConfigError(f"{where}: parameter, output and scratch names must be distinct", field_path="params")
    arrays: tuple[Output | Scratch, ...] = (*loop.allocate, *loop.scratch)
    for o in arrays:
        if o.dtype not in _DTYPES:
            raise ConfigError(f"{where}: unknown dtype", field_path=o.name, value=o.dtype, choices=list(_DTYPES))
    for out in loop.outputs:
        if out not in loop.params:
            raise ConfigError(
                f"{where}: an in-place output must be a parameter",
                field_path="outputs",
                value=out,
                choices=list(loop.params),
            )
    known = {*loop.params, "np", "math"}
    index = {"i", "j"} if loop.two_d else {"i"}
    counts = set(loop.counts)
    items = (loop.items,) if isinstance(loop.items, str) else tuple(loop.items)
    checks: list[tuple[str, str, set[str]]] = [(e, "items", known) for e in items]
    checks += [(o.shape, f"allocate.{o.name}.shape", known | counts) for o in loop.allocate]
    checks += [(s.shape, f"scratch.{s.name}.shape", known) for s in loop.scratch]
    scope = known | counts | index | {o.name for o in loop.allocate} | {s.name for s in loop.scratch}
    checks.append((f"({loop.call},)", "call", scope))
    checks += [(t, "store", scope) for t in loop.store]
    for expr, what, allowed in checks:
        unknown = sorted(_names(expr, f"{where}: {what}") - allowed)
        if unknown:
            raise ConfigError(
                f"{where}: {what} uses unknown names", field_path=what, value=unknown, choices=sorted(allowed)
            )
    for s in loop.scratch:
        if s.cuda_shape is None:
            try:
                ast.literal_eval(s.shape)
            except ValueError:
                raise ConfigError(
                    f"{where}: scratch {s.name!r} depends on the input; give its fixed cuda_shape (and a limit name)",
                    field_path=f"scratch.{s.name}.cuda_shape",
                ) from None


def _indent(lines: list[str], n: int) -> list[str]:
    return [" " * n + line for line in lines]


def _item_block(loop: ItemLoop, sname: str) -> list[str]:
    if not loop.store:
        return [f"{sname}({loop.call})"]
    if len(loop.store) == 1:
        return [f"{loop.store[0]} = {sname}({loop.call})"]
    return [f"_r = {sname}({loop.call})", *(f"{t} = _r[{k}]" for k, t in enumerate(loop.store))]


def _counts(loop: ItemLoop) -> list[str]:
    if isinstance(loop.items, str):
        return [f"n = {loop.items}"]
    return [f"n0 = {loop.items[0]}", f"n1 = {loop.items[1]}"]


def _header(name: str, kind: str, loop: ItemLoop, target: str) -> list[str]:
    sname = loop.scalar.__name__
    return [
        f"# Generated by sensorfusion.kernels: the {kind} tier of kernel {name!r}. Do not edit.",
        "# The file name carries a digest of this text and of the scalar code's source files; a change",
        "# to either writes a new file (see sensorfusion/kernels/_source.py).",
        "import math  # noqa: F401",
        "",
        "import numpy as np  # noqa: F401",
        target,
        f"from sensorfusion.kernels._scalar import {'scalar_by_key' if kind == 'cpu' else 'device_by_key'} as _get",
        "",
        f"{sname} = _get({scalar_key(loop.scalar)!r})",
        "",
    ]


def _returns(loop: ItemLoop) -> str:
    names = [o.name for o in loop.allocate]
    return "return None" if not names else f"return {', '.join(names)}"


def cpu_source(name: str, loop: ItemLoop) -> str:
    sname = loop.scalar.__name__
    lines = _header(name, "cpu", loop, "from numba import njit, prange")
    body = _counts(loop)
    body += [f"{o.name} = np.empty({o.shape}, dtype=np.{o.dtype})" for o in loop.allocate]
    scratch = [f"{s.name} = np.empty({s.shape}, dtype=np.{s.dtype})" for s in loop.scratch]
    item = _item_block(loop, sname)
    if loop.two_d:
        body += ["for i in prange(n0):", *_indent(scratch, 4), "    for j in range(n1):", *_indent(item, 8)]
    elif loop.scratch:
        body += [
            "for _c in prange((n + _chunk - 1) // _chunk):",
            *_indent(scratch, 4),
            "    for i in range(_c * _chunk, min(n, (_c + 1) * _chunk)):",
            *_indent(item, 8),
        ]
    else:
        body += ["for i in prange(n):", *_indent(item, 4)]
    body.append(_returns(loop))
    lines += ["", "@njit(parallel=True, cache=True, nogil=True)", f"def loop({', '.join((*loop.params, '_chunk'))}):"]
    lines += _indent(body, 4)
    return "\n".join(lines) + "\n"


def _cuda_shape(s: Scratch) -> str:
    if s.cuda_shape is None:
        return s.shape
    return repr(s.cuda_shape)


def cuda_source(name: str, loop: ItemLoop) -> str:
    sname = loop.scalar.__name__
    lines = _header(name, "cuda", loop, "from numba import cuda")
    args = (*loop.params, *(o.name for o in loop.allocate))
    scratch = [f"{s.name} = cuda.local.array({_cuda_shape(s)}, np.{s.dtype})" for s in loop.scratch]
    item = _item_block(loop, sname)
    if loop.two_d:
        head = ["i, j = cuda.grid(2)", *_counts(loop), "if i < n0 and j < n1:"]
    else:
        head = ["i = cuda.grid(1)", *_counts(loop), "if i < n:"]
    lines += ["", "@cuda.jit(cache=True)", f"def kernel({', '.join(args)}):", *_indent(head, 4)]
    lines += _indent(scratch + item, 8)
    # host helpers, plain Python on the kernel's own arguments
    lines += ["", "", f"def items({', '.join(loop.params)}):", *_indent(_counts(loop), 4)]
    lines.append(f"    return ({', '.join(loop.counts)},)")
    lines += ["", "", f"def allocate({', '.join(loop.params)}):", *_indent(_counts(loop), 4)]
    lines.append("    return (" + "".join(f"np.empty({o.shape}, dtype=np.{o.dtype}), " for o in loop.allocate) + ")")
    bounded = [s for s in loop.scratch if s.limit is not None]
    lines += ["", "", f"def needs({', '.join(loop.params)}):"]
    lines.append("    return {" + "".join(f"{s.limit!r}: int(np.prod({s.shape})), " for s in bounded) + "}")
    return "\n".join(lines) + "\n"


@dataclass
class LoopKernel:
    """The generated cpu and cuda tiers of one :class:`ItemLoop` (built on first use)."""

    name: str
    loop: ItemLoop
    _modules: dict[str, ModuleType] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        _validate(self.name, self.loop)

    # -- sources -------------------------------------------------------------------------------

    def source(self, kind: str) -> str:
        """The generated source text of the ``cpu`` or ``cuda`` twin."""
        return cpu_source(self.name, self.loop) if kind == "cpu" else cuda_source(self.name, self.loop)

    def module(self, kind: str) -> ModuleType:
        """The imported generated module of the ``cpu`` or ``cuda`` twin (written on first use)."""
        mod = self._modules.get(kind)
        if mod is None:
            with self._lock:
                mod = self._modules.get(kind)
                if mod is None:
                    files = scalar_source_files(self.loop.scalar)
                    mod = load_generated(self.name, kind, self.source(kind), files)
                    self._modules[kind] = mod
        return mod

    @property
    def limits(self) -> dict[str, int]:
        """The cuda tier's bounds, by the name of what they count."""
        out = {}
        for s in self.loop.scratch:
            if s.limit is not None:
                shape = s.cuda_shape if s.cuda_shape is not None else ast.literal_eval(s.shape)
                out[s.limit] = math.prod(shape) if isinstance(shape, tuple) else int(shape)
        return out

    # -- the tiers -----------------------------------------------------------------------------

    def cpu_dispatcher(self) -> Any:
        """The Numba dispatcher of the cpu twin (its ``stats`` count cache hits and misses)."""
        return self.module("cpu").loop

    def cpu(self, *args: Any) -> Any:
        """The cpu tier: the generated ``prange`` loop."""
        return self.cpu_dispatcher()(*args, launch_config().cpu_chunk)

    def cuda_kernel(self) -> Any:
        """The ``numba.cuda`` kernel of the cuda twin."""
        return self.module("cuda").kernel

    def check_limits(self, *args: Any) -> None:
        """Raise :class:`~sensorfusion.ConfigError` when these arguments exceed the cuda tier's bounds."""
        needs = self.module("cuda").needs(*args)
        for what, limit in self.limits.items():
            if needs[what] > limit:
                raise ConfigError(
                    f"the cuda tier of {self.name} holds at most {limit} {what}, got {needs[what]}",
                    field_path="tier",
                    choices=["numpy", "cpu"],
                )

    def cuda_arguments(self, *args: Any) -> tuple[Any, ...]:
        """The host-side arguments the cuda kernel is launched with (``args`` + allocated outputs)."""
        return (*args, *self.module("cuda").allocate(*args))

    def cuda(self, *args: Any) -> Any:
        """The cuda tier: copies to the device, one thread per item, copies back."""
        from numba import cuda as nb_cuda

        mod = self.module("cuda")
        self.check_limits(*args)
        counts = mod.items(*args)
        outs = mod.allocate(*args)
        if all(c > 0 for c in counts):
            dev: list[Any] = []
            back: list[tuple[Any, Any]] = []
            for k, a in enumerate(args):
                if isinstance(a, np.ndarray):
                    d = nb_cuda.to_device(np.ascontiguousarray(a))
                    if self.loop.params[k] in self.loop.outputs:
                        back.append((d, a))
                    dev.append(d)
                else:
                    dev.append(a)
            d_outs = [nb_cuda.device_array(o.shape, dtype=o.dtype) for o in outs]
            cfg = launch_config()
            if self.loop.two_d:
                tpb: Any = cfg.threads_per_block_2d
                blocks: Any = tuple(-(-c // t) for c, t in zip(counts, tpb, strict=True))
            else:
                tpb = cfg.threads_per_block
                blocks = -(-counts[0] // tpb)
            mod.kernel[blocks, tpb](*dev, *d_outs)
            for d, o in zip(d_outs, outs, strict=True):
                d.copy_to_host(o)
            for d, host in back:
                host[...] = d.copy_to_host()
        if not outs:
            return None
        return outs[0] if len(outs) == 1 else outs


_LOOPS: dict[str, LoopKernel] = {}


def loop_kernel(name: str) -> LoopKernel | None:
    """The :class:`LoopKernel` registered under ``name`` (None for hand-written tiers)."""
    return _LOOPS.get(name)


def register_loop(
    name: str,
    loop: ItemLoop,
    *,
    numpy: Callable[..., Any],
    example: Callable[[], tuple[Any, ...]] | None = None,
    tiers: tuple[str, ...] = ("cpu", "cuda"),
) -> LoopKernel:
    """Register kernel ``name``: the ``numpy`` reference you wrote, and the generated tiers named
    in ``tiers`` (``("cuda",)`` when the cpu tier is a different algorithm you register yourself
    with :func:`register`). ``example`` returns small arguments for
    :func:`sensorfusion.kernels.warm_up`."""
    unknown = sorted(set(tiers) - {"cpu", "cuda"})
    if unknown:
        raise ConfigError(
            "register_loop generates the cpu and cuda tiers only",
            field_path="tiers",
            value=unknown,
            choices=["cpu", "cuda"],
        )
    lk = LoopKernel(name, loop)
    _LOOPS[name] = lk
    register(name, "numpy", numpy, example=example)
    if "cpu" in tiers:
        register(name, "cpu", lk.cpu)
    if "cuda" in tiers:
        register(name, "cuda", lk.cuda, limits=lk.limits)
    return lk
