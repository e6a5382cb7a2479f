"""docs/tutorial.md runs exactly as written: its files are written where their titles say, its
shell and Python blocks run in a fresh virtual environment (``pip install -e`` included)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_throwaway_venv, throwaway_env

TUTORIAL = ROOT / "docs" / "tutorial.md"
_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def blocks(text: str) -> list[tuple[str, str | None, str]]:
    """``(language, title or None, code)`` of every fenced block, in order."""
    out = []
    for m in _FENCE.finditer(text):
        title = re.search(r'title="([^"]+)"', m.group(2))
        out.append((m.group(1), title.group(1) if title else None, m.group(3)))
    return out


def test_the_tutorial_has_a_driver_an_estimator_a_sink_and_a_replay() -> None:
    bs = blocks(TUTORIAL.read_text(encoding="utf-8"))
    code = "\n".join(c for _, _, c in bs)
    for needle in ("(Driver)", "(Estimator)", "(Sink)", "DriverContract", "EstimatorContract", "SinkContract",
                   "pip install -e", "sensorfusion run", "--replay", "Session.open", ".timestamps(", ".read("):  # fmt: skip
        assert needle in code, needle
    assert all(lang in {"toml", "python", "yaml", "bash"} for lang, _, _ in bs)


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    bin_dir = make_throwaway_venv(tmp_path / "venv")
    env = throwaway_env(bin_dir)
    work = tmp_path / "work"
    work.mkdir()
    ran = []
    for lang, title, code in blocks(TUTORIAL.read_text(encoding="utf-8")):
        if title is not None:
            dst = work / title
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(code, encoding="utf-8")
            continue
        if lang == "bash":
            for line in code.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                cmd = shlex.split(line, comments=True)
                r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
                assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
                ran.append((line, r.stdout))
        elif lang == "python":
            r = subprocess.run(
                [str(bin_dir / "python"), "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=600
            )
            assert r.returncode == 0, f"{code}\n{r.stdout}\n{r.stderr}"
            ran.append(("python", r.stdout))
    outputs = dict(ran)
    assert re.search(r"^head_heights\s+loaded\s+head-heights 0\.1\.0$", outputs["sensorfusion plugins"], flags=re.M)
    assert "tallest head:" in "".join(o for k, o in ran if k == "python") and "replay identical" in ran[-1][1]
