"""rulec.parse and rulec.load: rules as plain objects, and every error path."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import pickle
import subprocess

import pytest

import rulec
from conftest import ARTICLE, EXAMPLES


def test_version_matches_the_library() -> None:
    assert rulec.__version__ == rulec._rulec.version
    assert rulec.__version__.count(".") == 2


def test_article_rules_as_written(article: rulec.Policy) -> None:
    tcp, gre = article.rules
    assert (tcp.index, tcp.action, tcp.direction, tcp.interface) == (0, "pass", None, None)
    assert [(c.kind, c.values, c.ports) for c in tcp.clauses] == [
        ("protocol", ("tcp",), ()),
        ("to", (), ("1723",)),
    ]
    assert tcp.options == ("state", "done") and tcp.state and tcp.done and not tcp.log
    assert tcp.label is None
    assert tcp.location == rulec.Location("article.rules", 2, 1, 2, 47)
    assert str(tcp.location) == "article.rules:2:1"
    assert str(tcp) == tcp.text == "pass protocol tcp, to port 1723 >> state, done"
    assert tcp.clauses[1].location == rulec.Location("article.rules", 2, 20, 2, 32)
    assert [(c.kind, c.values) for c in gre.clauses] == [("protocol", ("47",))]
    assert gre.options == ("done",) and not gre.state


def test_rules_cover_every_clause_kind() -> None:
    policy = rulec.parse(
        "lan = { 192.0.2.0/24, 2001:db8::/32 }\n"
        'pass in on lan from $lan port 1000-2000, to any port { 53, https }, family inet >> log, label "x"\n'
        "reject out service ssh\n"
        "block in protocol icmp, icmp-type echo-request\n"
    )
    first, second, third = policy.rules
    assert (first.direction, first.interface) == ("in", "lan")
    assert [(c.kind, c.values, c.ports) for c in first.clauses] == [
        ("from", ("$lan",), ("1000-2000",)),
        ("to", ("any",), ("53", "https")),
        ("family", ("inet",), ()),
    ]
    assert first.options == ("log", "label") and first.label == "x" and first.log
    assert (second.action, second.direction, second.clauses[0].values) == ("reject", "out", ("ssh",))
    assert [(c.kind, c.values) for c in third.clauses] == [("protocol", ("icmp",)), ("icmp-type", ("echo-request",))]


def test_defaults() -> None:
    policy = rulec.parse("pass out\ndefault reject in\n", "d.rules")
    assert policy.defaults == (
        rulec.Default("in", "reject", True, rulec.Location("d.rules", 2, 1, 2, 18)),
        rulec.Default("out", "pass", False, None),
    )
    both = rulec.parse("default block\n").defaults
    assert [(d.direction, d.action, d.explicit) for d in both] == [("in", "block", True), ("out", "block", True)]


def test_objects_are_read_only_values(article: rulec.Policy) -> None:
    rule = article.rules[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.action = "block"  # type: ignore[misc]
    assert rulec.parse(ARTICLE, "article.rules").rules == article.rules
    assert hash(rule.location) == hash(rulec.parse(ARTICLE, "article.rules").rules[0].location)
    assert isinstance(article.rules, tuple)
    assert "rules" in repr(article) and "article.rules" in repr(article)


def test_load_follows_includes(tmp_path: pathlib.Path) -> None:
    (tmp_path / "base.rules").write_text("default block\npass out >> state\n")
    (tmp_path / "main.rules").write_text('include "base.rules"\npass in protocol tcp, to port 22 >> state\n')
    policy = rulec.load(tmp_path / "main.rules")
    assert policy.files == (str(tmp_path / "main.rules"), str(tmp_path / "base.rules"))
    assert [(r.location.file.rsplit("/", 1)[1], r.location.line) for r in policy.rules] == [
        ("base.rules", 2),
        ("main.rules", 2),
    ]


def test_parse_resolves_includes_against_base_dir(tmp_path: pathlib.Path) -> None:
    (tmp_path / "base.rules").write_text("pass out\n")
    policy = rulec.parse('include "base.rules"\n', base_dir=tmp_path)
    assert [r.text for r in policy.rules] == ["pass out"]


def test_bytes_and_str_give_the_same_policy() -> None:
    assert rulec.parse(ARTICLE.encode()).rules == rulec.parse(ARTICLE).rules


def test_parse_error_carries_every_diagnostic() -> None:
    with pytest.raises(rulec.ParseError) as info:
        rulec.parse("pass in protocol tcp\nblok out\npass to port\n", "bad.rules")
    e = info.value
    assert isinstance(e, ValueError) and isinstance(e, rulec.Error)
    assert [(d.location.line, d.location.column, d.code) for d in e.diagnostics if d.location] == [
        (2, 1, "RC100"),
        (3, 13, "RC100"),
    ]
    assert (e.file, e.line, e.column, e.code) == ("bad.rules", 2, 1, "RC100")
    assert e.message is not None and e.message.startswith("expected a statement")
    assert str(e) == (
        "bad.rules:2:1: error: expected a statement: a rule (pass, block, reject), default, include, require,"
        " service, vpn or name = { ... } [RC100]\n"
        " 2 | blok out\n"
        "   | ^\n" + e.diagnostics[1].text
    )
    assert str(e.diagnostics[0]) == e.diagnostics[0].text


def test_semantic_errors_are_parse_errors_too() -> None:
    with pytest.raises(rulec.ParseError) as info:
        rulec.parse("pass in protocol tcp, to port 99999\npass out to $nowhere\n")
    codes = [d.code for d in info.value.errors]
    assert len(codes) == 2 and all(c.startswith("RC2") for c in codes)


def test_parse_error_text_is_what_the_cli_prints(tmp_path: pathlib.Path, rulec_bin: pathlib.Path) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text("default block\npass in protocol tcp, to port 99999 >> state\nblock out to $nowhere\n")
    with pytest.raises(rulec.ParseError) as info:
        rulec.load(bad)
    cli = subprocess.run([str(rulec_bin), "lint", str(bad)], capture_output=True, text=True, check=False)
    assert cli.returncode == 1
    assert str(info.value) == cli.stderr


def test_parse_error_survives_pickling() -> None:
    with pytest.raises(rulec.ParseError) as info:
        rulec.parse("blok\n")
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.diagnostics == info.value.diagnostics


def test_non_utf8_in_a_rule_is_a_parse_error_with_a_location(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "latin1.rules"
    path.write_bytes(b"pass out\npass in on caf\xe9 protocol tcp\n")
    with pytest.raises(rulec.ParseError) as info:
        rulec.load(path)
    assert (info.value.line, info.value.column) == (2, 15)
    assert isinstance(str(info.value), str) and "\n 2 | " in str(info.value)
    with pytest.raises(rulec.ParseError):
        rulec.parse(b"pass in on caf\xe9\n")


def test_non_utf8_in_a_comment_or_label_never_raises_unicode_errors() -> None:
    policy = rulec.parse(b'# caf\xe9\npass out >> label "caf\xe9"\n')
    assert policy.rules[0].label == "caf\ufffd"


def test_file_names_that_are_not_utf8(tmp_path: pathlib.Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.rules"
    with open(raw, "wb") as f:
        f.write(b"pass out\n")
    policy = rulec.load(raw)
    assert policy.rules[0].location.file == str(tmp_path) + "/caf\ufffd.rules"
    assert rulec.load(os.fsdecode(raw)).rules == policy.rules


def test_missing_file_is_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        rulec.load(tmp_path / "nowhere.rules")
    assert info.value.filename == str(tmp_path / "nowhere.rules")


def test_directory_and_device_are_os_errors(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError):
        rulec.load(tmp_path)
    with pytest.raises(OSError, match="not a regular file"):
        rulec.load("/dev/zero")


def test_missing_include_is_a_parse_error_at_the_include(tmp_path: pathlib.Path) -> None:
    (tmp_path / "main.rules").write_text('pass out\ninclude "gone.rules"\n')
    with pytest.raises(rulec.ParseError) as info:
        rulec.load(tmp_path / "main.rules")
    assert (info.value.code, info.value.line, info.value.column) == ("RC102", 2, 9)


def test_wrong_argument_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        rulec.parse(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rulec.load(None)  # type: ignore[arg-type]


def test_policy_is_made_only_from_a_good_document() -> None:
    with pytest.raises(ValueError):
        rulec.Policy(rulec._rulec.parse(b"blok\n", "<string>", ""))


def test_format_is_canonical_and_round_trips() -> None:
    def shape(p: rulec.Policy) -> list[object]:
        return [(r.action, [(c.kind, c.values, c.ports) for c in r.clauses], r.options) for r in p.rules]

    policy = rulec.parse("pass   protocol tcp ,to port 1723>>state,done\n")
    text = policy.format()
    assert text == "pass protocol tcp, to port 1723 >> state, done\n"
    assert shape(rulec.parse(text)) == shape(policy)


def test_examples_load() -> None:
    for path in sorted(EXAMPLES.glob("*.rules")):
        assert rulec.load(path).rules, path


def test_many_rules_become_objects_and_the_collector_stays_on() -> None:
    import gc

    text = "".join(f"pass in protocol tcp, to 192.0.2.{i % 250 + 1} port {i + 1}\n" for i in range(5000))
    policy = rulec.parse(text, "many.rules")
    assert gc.isenabled()
    rules = policy.rules
    assert gc.isenabled()
    assert len(rules) == 5000 and rules[-1].clauses[1].ports == ("5000",)
    assert rules[-1].location.line == 5000 and rules[-1].location.file == "many.rules"
    assert policy.rules is rules  # made once
