"""Policy.trace(): the deciding rule and verdict, by the reference evaluator."""

from __future__ import annotations

import pytest

import rulec


def test_the_done_rule_decides_and_creates_state(article: rulec.Policy) -> None:
    t = article.trace("out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723")
    assert (t.verdict, t.decided_by, t.created_state, t.passed) == ("pass", "rule", True, True)
    assert t.rule == article.rules[0]
    assert t.location == article.rules[0].location
    assert t.packet == "out on wan tcp 192.0.2.7:40000 -> 198.51.100.2:1723"
    assert [(m.rule.index, m.role) for m in t.matching] == [(0, "decides")]


def test_a_later_rule_overrides_and_done_stops_reading() -> None:
    policy = rulec.parse("block in\npass in protocol tcp\nblock in protocol tcp, to port 23 >> done\npass in\n")
    t = policy.trace("in tcp 198.51.100.2:40000 -> 192.0.2.7:23")
    assert (t.verdict, t.rule and t.rule.index) == ("block", 2)
    assert [(m.rule.index, m.role) for m in t.matching] == [
        (0, "overridden"),
        (1, "overridden"),
        (2, "decides"),
        (3, "not-consulted"),
    ]


def test_defaults_and_no_default() -> None:
    policy = rulec.parse("default block in\npass out protocol udp\n", "d.rules")
    blocked = policy.trace("in gre 198.51.100.2 -> 192.0.2.7")
    assert (blocked.verdict, blocked.decided_by, blocked.rule) == ("block", "default", None)
    assert blocked.location == rulec.Location("d.rules", 1, 1, 1, 17)
    passed = policy.trace("out gre 192.0.2.7 -> 198.51.100.2")
    assert (passed.verdict, passed.decided_by, passed.location) == ("pass", "no-default", None)


def test_a_connection_shares_state() -> None:
    policy = rulec.parse("default block\npass out protocol tcp, to port 1723 >> state\n")
    out, reply = policy.trace_connection(
        ["out tcp 192.0.2.7:40000 -> 198.51.100.2:1723", "in tcp 198.51.100.2:1723 -> 192.0.2.7:40000"]
    )
    assert out.created_state and out.passed
    assert (reply.verdict, reply.decided_by, reply.matching) == ("pass", "state", ())
    # Judged alone, without the state of the first packet, the reply is blocked.
    assert policy.trace("in tcp 198.51.100.2:1723 -> 192.0.2.7:40000").verdict == "block"


def test_a_bad_packet_is_a_packet_error_with_the_column(article: rulec.Policy) -> None:
    with pytest.raises(rulec.PacketError, match="column") as info:
        article.trace("out tcp 192.0.2.7:40000 => 198.51.100.2:1723")
    assert isinstance(info.value, ValueError)
    assert "=>" in str(info.value)
    with pytest.raises(TypeError):
        article.trace_connection([b"out gre 1.2.3.4 -> 5.6.7.8"])  # type: ignore[list-item]
