#!/usr/bin/env bash
# Development entry point: ./dev.sh setup | demo [ARGS] | lint | test [PYTEST ARGS] | bench
# setup installs every distribution editable and warms Numba's cache (sensorfusion warmup).
# Every command sets up first (idempotent: a stamp skips reinstalling when nothing changed).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${SENSORFUSION_VENV:-.venv}

distributions() {
  # the core first, then every distribution of the monorepo, each with all its extras
  # (optional vendor libraries, test and benchmark peers) so the whole suite runs
  "$VENV/bin/python" - <<'PY'
import glob, pathlib, tomllib
dirs = ["."] + sorted(d for d in ["calibration", *glob.glob("drivers/*"), *glob.glob("plugins/*")] if pathlib.Path(d, "pyproject.toml").is_file())
for d in dirs:
    extras = sorted(tomllib.loads(pathlib.Path(d, "pyproject.toml").read_text()).get("project", {}).get("optional-dependencies", {}))
    print(f"-e {d}[{','.join(extras)}]" if extras else f"-e {d}")
PY
}

no_deps_requirements() {
  # pins a distribution installs WITHOUT their declared dependencies ([tool.sensorfusion] no-deps),
  # e.g. projectaria-tools, whose declared pins would pull an old rerun-sdk, and the root's benchmark
  # peer pose2sim (benchmarks read its functions from the wheel; its declared dependencies are heavy)
  "$VENV/bin/python" - <<'PY'
import glob, pathlib, tomllib
for d in [".", "calibration", *glob.glob("drivers/*"), *glob.glob("plugins/*")]:
    f = pathlib.Path(d, "pyproject.toml")
    if f.is_file():
        for req in tomllib.loads(f.read_text()).get("tool", {}).get("sensorfusion", {}).get("no-deps", []):
            print(req)
PY
}

stamp_input() {
  # what the install depends on: the pins and every distribution's pyproject
  cat constraints.txt
  for f in pyproject.toml calibration/pyproject.toml drivers/*/pyproject.toml plugins/*/pyproject.toml; do
    if [ -f "$f" ]; then echo "$f"; cat "$f"; fi
  done
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  # pip >= 25: older resolvers (Python 3.11's bundled pip 23.2) do not let an editable requested
  # with extras (-e plugins/interop[test]) satisfy another distribution's dependency on it
  if ! "$VENV/bin/python" -c 'import sys, pip; sys.exit(int(pip.__version__.split(".")[0]) < 25)' 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'pip>=25,<27'
  fi
  local stamp="$VENV/.sensorfusion-installed"
  local want
  want=$(stamp_input | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  # Debian libraries that vendor wheels need (pyrealsense2 -> libusb); only when a driver needs them.
  if [ -d drivers/realsense ] && ! ldconfig -p 2>/dev/null | grep -q libusb-1.0; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq libusb-1.0-0 >/dev/null
    else
      echo "note: install Debian's libusb-1.0-0 for the RealSense driver" >&2
    fi
  fi
  # Debian's chromium: the session report's browser test drives it through Playwright (Playwright's
  # own browser download is not reachable everywhere); without it that test skips, saying why.
  if [ -d plugins/report ] && [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "note: install Debian's chromium (apt-get install chromium) for the session report's browser test" >&2
    fi
  fi
  # constraints.txt pins torch==2.13.0 (an unpinned torch pulls gigabytes of CUDA wheels)
  local args
  args=$(distributions)
  set -f  # the [extras] must not be globbed
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt $args
  local nodeps
  nodeps=$(no_deps_requirements)
  if [ -n "$nodeps" ]; then
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -c constraints.txt $nodeps
  fi
  set +f
  # compile every kernel once (Numba's disk cache keeps it): the first run and test do not pay for it
  "$VENV/bin/python" -m sensorfusion.kernels --quiet || echo "note: the kernel warm-up failed (kernels compile on first use)" >&2
  # compile every kernel the demo rig runs into Numba's on-disk cache, so a first live run
  # does not compile while its clock runs (python -m sensorfusion warmup [RIG ...])
  "$VENV/bin/python" -m sensorfusion warmup --quiet || echo "note: sensorfusion warmup failed; the first run compiles instead" >&2
  echo "$want" > "$stamp"
}

case "${1:-}" in
  setup)
    setup
    ;;
  demo)
    shift
    setup
    exec "$VENV/bin/python" -m sensorfusion.run examples/sim_rig.yaml --out "sessions/sim-demo.zarr" --overwrite "$@"
    ;;
  test)
    shift
    setup
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  lint)
    # ruff (lint, incl. the ban on private core modules outside the core, and the format check)
    # and mypy --strict on the core and every distribution's package
    shift
    setup
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    pkgs=$(ls -d calibration/sensorfusion_* drivers/*/sensorfusion_* plugins/*/sensorfusion_* 2>/dev/null | grep -v '\.egg-info$' || true)
    # shellcheck disable=SC2086
    "$VENV/bin/mypy" sensorfusion $pkgs
    ;;
  bench)
    shift
    setup
    for b in benchmarks/bench_*.py; do "$VENV/bin/python" "$b" "$@"; done
    ;;
  *)
    echo "usage: ./dev.sh setup | demo [run options] | lint | test [pytest options] | bench" >&2
    exit 2
    ;;
esac
