#!/usr/bin/env bash
# The Python package, the way a user gets it: `pip install .` from this
# checkout into a FRESH virtual environment (offline, Debian's setuptools,
# wheel and pybind11), then the pytest suite in tests/python against the
# installed package (never the source tree), warnings as errors, and mypy
# over the example script with the shipped stubs.
#   RULEC_PY_BUILD_DIR  CMake build directory for the extension (default build-pip/)
set -uo pipefail
root=${RULEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
py=/usr/bin/python3
work=$(mktemp -d /tmp/rulec-python.XXXXXX)
trap 'rm -rf "$work"' EXIT
build=${RULEC_PY_BUILD_DIR:-$root/build-pip}
mkdir -p "$build"

echo "python: fresh venv $work/venv (/usr/bin/python3 -m venv --system-site-packages)"
"$py" -m venv --system-site-packages "$work/venv" || { echo "python: FAILED to create the venv"; exit 1; }
venv_py=$work/venv/bin/python

echo "python: pip install --no-build-isolation $root (CMake build in $build)"
# One build at a time in the shared build directory.
if ! (cd "$root" && RULEC_CMAKE_BUILD_DIR=$build flock "$build/.lock" \
      "$venv_py" -m pip install --no-build-isolation --no-index --quiet . >"$work/pip.log" 2>&1); then
  tail -40 "$work/pip.log"
  echo "python: FAILED: pip install"
  exit 1
fi
# The rulec command from the same build, for the tests that compare outputs with the CLI.
flock "$build/.lock" cmake --build "$build" --target rulec -j "${RULEC_JOBS:-2}" >"$work/cli.log" 2>&1 ||
  { tail -20 "$work/cli.log"; echo "python: FAILED: building the rulec command"; exit 1; }
export RULEC_BIN=$build/rulec

installed=$(cd "$work" && "$venv_py" -c 'import rulec; print(rulec.__file__)') ||
  { echo "python: FAILED: import rulec"; exit 1; }
case $installed in
  "$work"/venv/*) echo "python: testing the installed package $installed" ;;
  *) echo "python: FAILED: import rulec found $installed, not the venv's package"; exit 1 ;;
esac

echo "python: pytest tests/python (warnings are errors)"
(cd "$work" && RULEC_REQUIRE_INSTALLED=1 "$venv_py" -m pytest -c "$root/tests/python/pytest.ini" \
   -W error -q "$root/tests/python")
rc=$?
if ((rc == 5)); then echo "python: FAILED: pytest collected no tests"; exit 1; fi
((rc == 0)) || { echo "python: FAILED: pytest exit $rc"; exit 1; }

echo "python: mypy --strict examples/lint_and_compile.py against the installed stubs"
if ! (cd "$work" && "$venv_py" -m mypy --strict --cache-dir "$work/mypy-cache" \
      "$root/examples/lint_and_compile.py"); then
  echo "python: FAILED: mypy"
  exit 1
fi
echo "python: ok"
