"""Policy.compile(): every target, the errors, and the warnings."""

from __future__ import annotations

import pathlib
import subprocess
import warnings

import pytest

import rulec
from conftest import ARTICLE, EXAMPLES

TARGETS = rulec.targets()


def test_targets_are_the_cli_targets(rulec_bin: pathlib.Path) -> None:
    cli = subprocess.run([str(rulec_bin), "targets"], capture_output=True, text=True, check=True)
    listed = [line.split()[0] for line in cli.stdout.splitlines() if line and not line.startswith("no targets")]
    assert TARGETS == listed


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_compiles_the_article(target: str) -> None:
    # Behind `default block`, the article's allowance must change every output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rulec.CompileWarning)
        closed = rulec.parse("default block\n").compile(target)
        text = rulec.parse("default block\n" + ARTICLE).compile(target)
    assert isinstance(text, str) and text.strip() and text != closed


@pytest.mark.parametrize("target", TARGETS)
def test_examples_compile_or_say_why(target: str) -> None:
    # A target may refuse a rule it cannot express; it never fails otherwise.
    for path in sorted(EXAMPLES.glob("*.rules")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rulec.CompileWarning)
            try:
                text = rulec.load(path).compile(target)
            except rulec.CompileError as e:
                assert e.target == target and e.diagnostics, path
                assert any(d.severity == "error" and d.code.startswith("RC5") for d in e.diagnostics)
                assert str(e) == "".join(d.text for d in e.diagnostics)
            else:
                assert text.strip(), (target, path)


@pytest.mark.parametrize("target", TARGETS)
def test_output_is_what_the_cli_writes(target: str, tmp_path: pathlib.Path, rulec_bin: pathlib.Path) -> None:
    path = tmp_path / "article.rules"
    path.write_text(ARTICLE)
    text = rulec.load(path).compile(target)
    cli = subprocess.run([str(rulec_bin), "--target", target, str(path)], capture_output=True, text=True, check=True)
    assert text == cli.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_warnings_are_compile_warnings_and_strict_may_refuse(target: str) -> None:
    # Features some targets can only approximate: reject, per-rule logging, long labels.
    policy = rulec.parse(
        "default block\n"
        "reject in protocol tcp, to port 113 >> done\n"
        'pass in protocol tcp, to port 22 >> state, log, label "' + "x" * 80 + '"\n',
        "approx.rules",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = policy.compile(target)
    assert text
    for w in caught:
        assert issubclass(w.category, rulec.CompileWarning), w
        assert isinstance(w.message, rulec.CompileWarning)
        d = w.message.diagnostic
        assert d is not None and d.severity == "warning" and d.code.startswith("RC5") and d.text == str(w.message)
        # A warning about one rule points at it; one about the whole policy has no location.
        assert d.location is None or str(w.message).startswith("approx.rules:")
        assert w.filename == __file__  # reported at the caller's line
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rulec.CompileWarning)
            strict = policy.compile(target, strict=True)
    except rulec.CompileError as e:
        assert e.target == target and isinstance(e, rulec.Error)
        assert e.diagnostics and all(d.code.startswith("RC5") for d in e.diagnostics)
        assert str(e) == "".join(d.text for d in e.diagnostics)
    else:
        assert strict == text


def test_unknown_target_is_a_compile_error(article: rulec.Policy) -> None:
    with pytest.raises(rulec.CompileError, match="unknown target 'nftables'") as info:
        article.compile("nftables")
    assert info.value.target == "nftables" and info.value.diagnostics == ()
    for name in TARGETS:
        assert name in str(info.value)


@pytest.mark.skipif("windows" not in TARGETS, reason="no windows target built")
def test_windows_cannot_reject_in_strict_mode() -> None:
    with pytest.raises(rulec.CompileError) as info:
        rulec.parse("reject in protocol tcp\n").compile("windows", strict=True)
    assert [d.code for d in info.value.diagnostics] == ["RC551"]


@pytest.mark.skipif("windows" not in TARGETS, reason="no windows target built")
def test_approximations_are_compile_warnings() -> None:
    with pytest.warns(rulec.CompileWarning, match="RC551"):
        rulec.parse("reject in protocol tcp\n").compile("windows")


def test_labels_cannot_inject_commands() -> None:
    policy = rulec.parse('pass out >> label "x\\"; rm -rf / #"\n')
    for target in TARGETS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rulec.CompileWarning)
            text = policy.compile(target)
        assert '"; rm -rf' not in text, target
