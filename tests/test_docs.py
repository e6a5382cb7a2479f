"""Documentation is part of the product: every config field and CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from sensorfusion.plugins import PluginHost
from sensorfusion.schema import RigConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        ann = info.annotation
        args = getattr(ann, "__args__", ()) or ()
        for t in (ann, *args):
            if isinstance(t, type) and issubclass(t, BaseModel) and name not in {"params"}:
                out += _fields(t, f"{path}.")
    return out


def test_every_config_field_is_documented():
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    missing = []
    for path in _fields(RigConfig):
        leaf = path.split(".")[-1]
        qualified = re.sub(r"^(sensors|stages|sinks)\.", "", path)
        if f"`{qualified}`" not in text and f"`{path}`" not in text and f"`{leaf}`" not in text:
            missing.append(path)
    assert not missing, f"undocumented rig.yaml fields in docs/config.md: {missing}"


def test_every_cli_command_is_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    host = PluginHost(autoload=False)
    missing = [c for c in host.commands.names() if f"`sensorfusion {c}" not in text]
    assert not missing, f"undocumented commands in docs/cli.md: {missing}"
