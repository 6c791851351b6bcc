"""examples/lint_and_compile.py: lint, PPTP check, nft and pf outputs."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import warnings

import rulec
from conftest import EXAMPLES

SCRIPT = EXAMPLES / "lint_and_compile.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_office_policy_lints_passes_pptp_and_writes_outputs(tmp_path: pathlib.Path) -> None:
    result = run("--out", str(tmp_path))
    assert "VPN pptp works" in result.stdout
    office = rulec.load(EXAMPLES / "office.rules")
    for target, suffix in (("nft", ".nft"), ("pf", ".pf")):
        out = tmp_path / ("office" + suffix)
        if target in rulec.targets():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rulec.CompileWarning)
                assert out.read_text() == office.compile(target)
        else:
            assert f"{target}: not built into this rulec" in result.stdout
            assert not out.exists()
    expected = 0 if {"nft", "pf"} <= set(rulec.targets()) and not office.lint() else 1
    assert result.returncode == expected, result.stdout + result.stderr


def test_a_policy_without_gre_fails_with_the_user_symptom(tmp_path: pathlib.Path) -> None:
    policy = tmp_path / "nogre.rules"
    policy.write_text("default block\npass out protocol tcp, to port 1723 >> state\n")
    result = run(str(policy), "--out", str(tmp_path))
    assert result.returncode == 1
    assert "VPN pptp does NOT work" in result.stdout
    assert "dropped by " + str(policy) + ":1:1" in result.stdout and "806" in result.stdout


def test_a_broken_policy_exits_2_with_the_diagnostics(tmp_path: pathlib.Path) -> None:
    policy = tmp_path / "broken.rules"
    policy.write_text("blok out\n")
    result = run(str(policy), "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(str(policy) + ":1:1: error: ")
    missing = run(str(tmp_path / "missing.rules"))
    assert missing.returncode == 2 and "No such file" in missing.stderr
