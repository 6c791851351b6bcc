"""Policy.lint(): the findings `rulec lint` reports, as objects."""

from __future__ import annotations

import pathlib
import subprocess

import rulec

SHADOWED = """default block
pass in protocol tcp >> state, done
pass in protocol tcp, to port 22 >> state
"""


def test_a_shadowed_rule_is_reported_with_its_note_hint_and_witness() -> None:
    policy = rulec.parse(SHADOWED, "shadow.rules")
    findings = policy.lint()
    shadowed = [d for d in findings if d.code == "RC300"]
    assert len(shadowed) == 1
    d = shadowed[0]
    assert d.severity == "warning"
    assert d.location == rulec.Location("shadow.rules", 3, 1, 3, 42)
    assert [n.location.line for n in d.notes] == [2]
    assert d.hint and d.message
    assert d.witness is not None
    # The witness is a packet in trace syntax, and the noted rule decides it.
    trace = policy.trace(d.witness)
    assert trace.rule is not None and trace.rule.location.line == 2
    assert str(d) == d.text and d.text.startswith("shadow.rules:3:1: warning: ")


def test_front_end_warnings_come_first_class() -> None:
    policy = rulec.parse("default block\ndefault block\npass out >> state\n", "twice.rules")
    assert [d.code for d in policy.diagnostics] == ["RC213", "RC213"]
    lint = policy.lint()
    assert [d for d in lint if d.code == "RC213"] == list(policy.diagnostics)
    assert [n.message for n in policy.diagnostics[0].notes] == ["the earlier default"]


def test_a_clean_policy_has_no_findings() -> None:
    policy = rulec.parse("default block\npass out protocol tcp, to port 443 >> state\n")
    assert policy.lint() == []


def test_lint_text_is_what_the_cli_prints(tmp_path: pathlib.Path, rulec_bin: pathlib.Path) -> None:
    path = tmp_path / "shadow.rules"
    path.write_text(SHADOWED + "block in protocol udp >> state\n")
    findings = rulec.load(path).lint()
    cli = subprocess.run([str(rulec_bin), "lint", str(path)], capture_output=True, text=True, check=False)
    assert cli.returncode == 0
    assert "".join(d.text for d in findings) == cli.stderr
    assert len(findings) >= 2


def test_lint_can_be_called_again_and_gives_the_same() -> None:
    policy = rulec.parse(SHADOWED)
    assert policy.lint() == policy.lint()
