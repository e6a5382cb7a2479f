"""``sensorfusion new-plugin NAME``: a plugin distribution to start from, with a working driver,
estimator and sink, their contract tests, an example rig and a README."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .._errors import ConfigError

__all__ = ["TEMPLATE_DIR", "configure_new_plugin", "render_plugin", "run_new_plugin"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "_plugin_template"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def render_plugin(name: str, out: Path) -> list[Path]:
    """Write the template for plugin ``name`` into the folder ``out`` (created; must be empty).

    Placeholders in file names and contents: ``{{name}}`` (the entry-point and component
    prefix), ``{{package}}`` (``sensorfusion_<name>``), ``{{dist}}`` (``sensorfusion-<name>``).
    """
    if not _NAME.match(name):
        raise ConfigError("a plugin name is lower case letters, digits and _ (starting with a letter)",
                          field_path="NAME", value=name)  # fmt: skip
    if out.exists() and any(out.iterdir()):
        raise ConfigError("the folder exists and is not empty", field_path="--dir", value=str(out))
    values = {
        "{{name}}": name,
        "{{package}}": f"sensorfusion_{name}",
        "{{dist}}": f"sensorfusion-{name.replace('_', '-')}",
    }
    written = []
    for src in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        rel = str(src.relative_to(TEMPLATE_DIR))[: -len(".tmpl")]
        text = src.read_text(encoding="utf-8")
        for key, value in values.items():
            rel, text = rel.replace(key, value), text.replace(key, value)
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text, encoding="utf-8")
        written.append(dst)
    return written


def configure_new_plugin(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the plugin's name: entry point NAME, package sensorfusion_NAME")
    p.add_argument("--dir", default=None, metavar="DIR", help="where to write it (default: ./sensorfusion-NAME)")


def run_new_plugin(args: argparse.Namespace) -> int:
    out = Path(args.dir) if args.dir else Path(f"sensorfusion-{args.name.replace('_', '-')}")
    try:
        files = render_plugin(args.name, out)
    except ConfigError as exc:
        print(f"sensorfusion new-plugin: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} files to {out}/ — next:")
    print(f"  pip install -e {out}        # registers the plugin '{args.name}'")
    print(f"  pytest {out}/tests          # contract tests, and a rig recorded and replayed")
    print(f"  sensorfusion run {out}/examples/rig.yaml --fast --out {args.name}.zarr")
    return 0
