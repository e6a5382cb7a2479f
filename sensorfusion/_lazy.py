"""Lazy references: name a class or function by ``"package.module:attribute"`` and import it
on first use.

Plugins hand these to the host instead of the objects themselves, so discovering plugins
(``sensorfusion --help``, ``sensorfusion plugins``) imports no heavy library: a driver's
``cv2``, a model's ``torch`` or the fusion's ``scipy`` load when a rig first uses them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Lazy", "lazy", "lazy_exports"]


class Lazy:
    """A reference to ``module:attribute``, imported on first :meth:`resolve` (or call).

    Attributes:
        target: ``"package.module:attribute"`` (``attribute`` may be dotted).
        name: the registry name of a component (``"opencv.video"``): required where the
            reference stands for a driver, estimator or sink, so it can be listed unimported.
        summary: one line shown by ``sensorfusion plugins``.
        requires: top-level modules the target needs (``("cv2",)``); ``sensorfusion plugins``
            checks they are installed without importing them.
        install: the command that installs what ``requires`` names.
    """

    __slots__ = ("_lock", "_obj", "install", "name", "requires", "summary", "target")

    def __init__(
        self,
        target: str,
        *,
        name: str | None = None,
        summary: str = "",
        requires: Sequence[str] = (),
        install: str | None = None,
    ) -> None:
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"a lazy target is 'package.module:attribute', got {target!r}")
        self.target = target
        self.name = name
        self.summary = summary
        self.requires = tuple(requires)
        self.install = install
        self._obj: Any = None
        self._lock = threading.Lock()

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def loaded(self) -> bool:
        """Whether the target was imported already."""
        return self._obj is not None

    def resolve(self) -> Any:
        """Import the module and return the attribute (cached). Import errors propagate."""
        if self._obj is None:
            with self._lock:
                if self._obj is None:
                    module, _, attr = self.target.partition(":")
                    obj: Any = importlib.import_module(module)
                    for part in attr.split("."):
                        obj = getattr(obj, part)
                    self._obj = obj
        return self._obj

    def missing(self) -> list[str]:
        """The ``requires`` modules that are not installed (found without importing them)."""
        out = []
        for mod in self.requires:
            try:
                found = mod in sys.modules or importlib.util.find_spec(mod) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                out.append(mod)
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name else ""
        return f"lazy({self.target!r}{extra})"


def lazy(
    target: str,
    *,
    name: str | None = None,
    summary: str = "",
    requires: Sequence[str] = (),
    install: str | None = None,
) -> Any:
    """A :class:`Lazy` reference to ``"package.module:attribute"``.

    Return it from a registration hook in place of a class (give ``name``), or use it as a
    :class:`~sensorfusion.Command`'s ``configure``/``run`` or a
    :class:`~sensorfusion.CalibrationFormat`'s ``load``/``save``/``sniff``: the module is
    imported the first time the object is needed. Typed ``Any`` so it fits wherever the
    object it stands for is expected.
    """
    return Lazy(target, name=name, summary=summary, requires=requires, install=install)


def lazy_exports(module_name: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose exports load on first use.

    The package lists its exports as ordinary ``from .x import A, B`` statements under
    ``if TYPE_CHECKING:`` (type checkers and readers see them as usual); this reads those
    statements from the package's source and imports ``.x`` the first time ``A`` is asked
    for. Usage, at the end of a package's ``__init__.py``::

        __getattr__, __dir__ = lazy_exports(__name__)
    """
    module = sys.modules[module_name]
    where: dict[str, tuple[str, str]] = {}
    loaded = False

    def _scan() -> None:
        nonlocal loaded
        if loaded:
            return
        path = getattr(module, "__file__", None)
        if path is None:
            loaded = True
            return
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), filename=path)
        for node in tree.body:
            if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
                continue
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    base = "." * stmt.level + (stmt.module or "")
                    for alias in stmt.names:
                        where[alias.asname or alias.name] = (base, alias.name)
        loaded = True

    def __getattr__(name: str) -> Any:
        _scan()
        if name not in where:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        base, attr = where[name]
        target = importlib.import_module(base, module_name) if base.startswith(".") else importlib.import_module(base)
        value = getattr(target, attr)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        _scan()
        return sorted(set(vars(module)) | set(where))

    return __getattr__, __dir__


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
