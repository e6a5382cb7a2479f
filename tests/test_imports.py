"""Import rules: no circles between files of the core, no distribution imported by the core,
no private core module imported by a distribution (ruff's TID251 bans them too; the banned list
in pyproject.toml must name every private core module)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

CORE = ROOT / "sensorfusion"
DISTRIBUTIONS = [ROOT / "calibration", *sorted((ROOT / "drivers").glob("*")), *sorted((ROOT / "plugins").glob("*"))]

#: private core modules distributions may still import while a public replacement lands (empty:
#: ``sensorfusion.kernels`` replaced ``sensorfusion._kernels``). Do not add to this.
PENDING: set[str] = set()


def modules(root: Path, package_root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (names from ``package_root``'s parent)."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = list(f.relative_to(package_root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _type_checking_only(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            t = node.test
            if (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
                isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
            ):
                skip |= {id(c) for c in ast.walk(node)}
    return skip


def imported(module: str, path: Path) -> set[str]:
    """Every name ``module`` imports (anywhere in the file, function bodies included; not under
    ``if TYPE_CHECKING:``), relative imports resolved; ``from a import b`` gives ``a.b`` (the
    graph then takes the longest prefix that is a module: ``a.b`` if ``b`` is a submodule, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for m, f in mods.items():
        edges = set()
        for t in imported(m, f):
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != m:
                edges.add(t)
        graph[m] = edges
    return graph


def test_no_import_circles_between_files_of_the_core() -> None:
    found = cycles(import_graph(modules(CORE, CORE)))
    assert not found, f"import circles in sensorfusion/: {found}"


def test_the_circle_finder_finds_circles(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .b import g\n")
    (pkg / "b.py").write_text("from . import c\n")
    (pkg / "c.py").write_text("from .a import f\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .e import x\n")
    (pkg / "e.py").write_text("from .d import y\n")
    assert cycles(import_graph(modules(pkg, pkg))) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_core_imports_no_distribution() -> None:
    bad = {m: sorted(t for t in imported(m, f) if t.split(".")[0].startswith("sensorfusion_"))
           for m, f in modules(CORE, CORE).items()}  # fmt: skip
    assert not {m: t for m, t in bad.items() if t}


def _private(name: str) -> bool:
    return name.startswith("sensorfusion.") and any(
        p.startswith("_") and not p.startswith("__") for p in name.split(".")[1:]
    )


def test_distributions_import_only_the_public_core_api() -> None:
    bad = {}
    for dist in DISTRIBUTIONS:
        for pkg in sorted(dist.glob("sensorfusion_*")):
            if not (pkg / "__init__.py").is_file():
                continue
            for m, f in modules(pkg, pkg).items():
                private = {t for t in imported(m, f) if _private(t)}
                private = {t for t in private if not any(t == p or t.startswith(p + ".") for p in PENDING)}
                if private:
                    bad[str(f.relative_to(ROOT))] = sorted(private)
    assert not bad, f"private core modules imported by distributions (use the public API): {bad}"


def test_ruff_bans_every_private_core_module() -> None:
    """pyproject.toml's banned-api (ruff TID251, checked by .ci/run outside the core and its tests)
    names every private core module, so a new one is banned too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    banned = set(config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"])
    private = {m for m in modules(CORE, CORE) if _private(m)}
    top_private = {m for m in private if not any(m.startswith(p + ".") for p in private if p != m)}
    assert top_private <= banned, (
        f"add to [tool.ruff.lint.flake8-tidy-imports.banned-api]: {sorted(top_private - banned)}"
    )
