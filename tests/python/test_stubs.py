"""The hand-written stubs (.pyi) and py.typed ship with the package and
match it: mypy.stubtest compares them with the installed module."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import rulec

HERE = pathlib.Path(__file__).resolve().parent
ALLOWLIST = HERE / "stubtest-allowlist.txt"
PACKAGE = pathlib.Path(rulec.__file__).resolve().parent


def stubtest(pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--allowlist", str(ALLOWLIST), "rulec"],
        capture_output=True,
        text=True,
        env=env,
        cwd=HERE.parent,  # not the source root: its python/ must not shadow the package
        check=False,
    )


def test_stubs_and_marker_are_installed() -> None:
    for name in ("py.typed", "__init__.pyi", "_model.pyi", "_rulec.pyi"):
        assert (PACKAGE / name).is_file(), name


def test_stubs_match_the_module() -> None:
    result = stubtest()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_stubtest_catches_drift(tmp_path: pathlib.Path) -> None:
    # A copy of the package whose stub promises a function the module lacks.
    copy = tmp_path / "rulec"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "__init__.pyi", "a", encoding="utf-8") as f:
        f.write("def compile_everything() -> None: ...\n")
    result = stubtest(str(tmp_path))
    assert result.returncode != 0
    assert "rulec.compile_everything" in result.stdout
