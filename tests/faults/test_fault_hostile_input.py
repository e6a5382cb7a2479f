"""Hostile and broken rig files: a bounded one-line error and exit 2, quickly; and a rig name
can never move the default session out of ``sessions/``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faultkit import run

from sensorfusion import ConfigError
from sensorfusion.schema import load_rig

GOOD = """
name: NAME
sensors:
  - {id: a, driver: faults.ticker, params: {rate_hz: 100, frames: 20}}
"""


def _alias_bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nname: *l{levels}\nsensors: [{{id: a, driver: faults.ticker}}]\n"


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/sf-absolute-escape", "..", "a/../../b", "x" * 200])
def test_rig_name_cannot_move_the_default_session(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    rig = work / "rig.yaml"
    rig.write_text(GOOD.replace("NAME", repr(name)))
    before = set(tmp_path.rglob("*.zarr")) | set(Path("/tmp").glob("sf-absolute-escape*"))
    res = run([str(rig), "--fast", "--quiet"], 60, cwd=work)
    assert res.rc == 0, res.stderr[-2000:]
    created = (set(tmp_path.rglob("*.zarr")) | set(Path("/tmp").glob("sf-absolute-escape*"))) - before
    assert created, "a session should have been recorded"
    for p in created:
        assert p.resolve().parent == (work / "sessions").resolve(), f"session written outside sessions/: {p}"


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    # (a subprocess with a memory limit: before the fix this grew without bound)
    rig = tmp_path / "bomb.yaml"
    rig.write_text(_alias_bomb())
    res = run([str(rig), "--no-record"], 30, memory_mb=2048)
    assert res.rc == 2, f"rc={res.rc} after {res.wall_s:.1f} s\n{res.stderr[-1000:]}"
    (line,) = res.stderr.strip().splitlines()
    assert "alias" in line and len(line) < 400
    assert res.wall_s < 10  # interpreter start-up included; the check itself is linear in the file


def test_alias_bomb_check_is_fast_in_process() -> None:
    from sensorfusion.schema._config import _expanded_size, safe_load_yaml  # noqa: F401 - the new check

    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="alias"):
        load_rig(text=_alias_bomb())
    assert time.monotonic() - t0 < 1.0


def test_self_referencing_yaml_is_refused(tmp_path: Path) -> None:
    rig = tmp_path / "loop.yaml"
    rig.write_text("name: &x [*x]\nsensors: [{id: a, driver: faults.ticker}]\n")
    res = run([str(rig), "--no-record"], 30, memory_mb=2048)
    assert res.rc == 2 and "alias" in res.stderr, res.stderr[-1000:]


def test_a_50_mb_value_gives_a_bounded_error_line(tmp_path: Path) -> None:
    rig = tmp_path / "big.yaml"
    rig.write_text('sensors: [{id: a, driver: "' + "d" * 50_000_000 + '"}]\n')
    res = run([str(rig), "--no-record"], 60, memory_mb=4096)
    assert res.rc == 2, f"rc={res.rc}\n{res.stderr[:1000]}"
    (line,) = res.stderr.strip().splitlines()
    assert "sensors[0].driver" in line and "50000000 characters" in line and len(line) < 1000, line[:2000]


def test_non_utf8_rig_is_a_one_line_error(tmp_path: Path) -> None:
    rig = tmp_path / "latin1.yaml"
    rig.write_bytes("name: caf\xe9\nsensors: [{id: a, driver: faults.ticker}]\n".encode("latin-1"))
    res = run([str(rig), "--no-record"], 30)
    assert res.rc == 2, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert "UTF-8" in line and "0xe9" in line


def test_folder_passed_as_the_rig_says_so(tmp_path: Path) -> None:
    res = run([str(tmp_path), "--no-record"], 30)
    assert res.rc == 2, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert "folder" in line and "not found" not in line
