"""Policy.check_vpn() and the PPTP story, told from Python."""

from __future__ import annotations

import pytest

import rulec
from conftest import ARTICLE

# The article's allowance with its GRE line forgotten, behind `default block`.
NO_GRE = "default block\npass protocol tcp, to port 1723 >> state, done\n"


def test_builtin_profiles() -> None:
    profiles = rulec.vpn_profiles()
    assert profiles == sorted(profiles)
    assert {"pptp", "l2tp", "ikev2", "sstp", "openvpn", "openvpn-tcp", "wireguard"} <= set(profiles)


def test_the_article_lets_pptp_through(article: rulec.Policy) -> None:
    for via in (None, "lan:wan", ("lan", "wan")):
        check = article.check_vpn("pptp", via=via)
        assert check.ok, via
        assert check.failing == ()
    check = rulec.parse("default block\n" + ARTICLE).check_vpn("pptp")
    assert check.ok and check.vpn == "pptp" and "1723" in check.description
    assert [(r.leg, r.sender, r.reply, r.verdict) for r in check.rows] == [
        ("TCP 1723", "client", False, "pass"),
        ("TCP 1723", "server", True, "pass"),
        ("GRE", "client", False, "pass"),
        ("GRE", "server", True, "pass"),
    ]
    tcp_reply = check.rows[1]
    assert [h.decided_by for h in tcp_reply.hops] == ["state"]


def test_forgotten_gre_breaks_pptp_and_says_what_the_user_sees() -> None:
    policy = rulec.parse(NO_GRE, "nogre.rules")
    check = policy.check_vpn("pptp", peer="198.51.100.2")
    assert not check.ok
    assert check.server == "198.51.100.2"
    gre = check.failing[0]
    assert (gre.leg, gre.sender, gre.reply, gre.verdict) == ("GRE", "client", False, "block")
    assert gre.blocked_by == rulec.Location("nogre.rules", 1, 1, 1, 14)
    assert gre.symptom is not None and "806" in gre.symptom
    assert gre.hops[-1].packet == "out gre 192.0.2.7 -> 198.51.100.2"
    assert [r.verdict for r in check.failing] == ["block", "not sent"]
    # The same packet, traced: the default decides it.
    trace = policy.trace(gre.hops[-1].packet)
    assert (trace.verdict, trace.decided_by, trace.location) == ("block", "default", gre.blocked_by)


def test_require_vpn_makes_the_check_part_of_lint() -> None:
    policy = rulec.parse(NO_GRE + "require vpn pptp\n", "req.rules")
    errors = [d for d in policy.lint() if d.severity == "error"]
    assert [(d.code, d.location and d.location.line) for d in errors] == [("RC400", 3)]
    assert errors[0].witness is not None
    assert policy.trace(errors[0].witness).verdict == "block"
    fixed = rulec.parse("default block\n" + ARTICLE + "require vpn pptp\n")
    assert [d for d in fixed.lint() if d.code.startswith("RC4")] == []


def test_through_a_router_each_hop_is_judged() -> None:
    policy = rulec.parse(
        "default block\n"
        "pass in on lan service pptp >> state\n"
        "pass out on wan service pptp >> state\n"
    )
    check = policy.check_vpn("pptp", via="lan:wan")
    assert check.ok
    assert [h.packet.split(" tcp ")[0] for h in check.rows[0].hops] == ["in on lan", "out on wan"]
    server = policy.check_vpn("pptp", via="lan:wan", role="server")
    assert not server.ok


def test_declared_profiles_and_ports() -> None:
    policy = rulec.parse("vpn office = { udp 4000, esp }\ndefault block\npass out protocol udp, to port 4000 >> state\n")
    assert "office" in policy.vpn_profiles() and "office" not in rulec.vpn_profiles()
    check = policy.check_vpn("office")
    assert check.custom and not check.ok
    assert [r.leg for r in check.failing][:1] == ["ESP"]
    wg = policy.check_vpn("wireguard", port=4000)
    assert wg.ok and "4000" in wg.rows[0].leg


def test_unknown_profile_suggests_a_close_name(article: rulec.Policy) -> None:
    with pytest.raises(rulec.VpnError) as info:
        article.check_vpn("pptpp")
    e = info.value
    assert isinstance(e, ValueError) and isinstance(e, rulec.Error)
    assert e.suggestion == "pptp" and "pptp" in e.known
    assert str(e) == "unknown VPN profile 'pptpp'; did you mean 'pptp'?"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"role": "both"}, "role 'both'"),
        ({"via": "lan"}, "expected IN:OUT"),
        ({"via": ("lan", "")}, "expected IN:OUT"),
        ({"port": 0}, "port 0"),
        ({"port": 70000}, "port 70000"),
        ({"port": True}, "port True"),
        ({"peer": "not-an-address"}, "not-an-address"),
    ],
)
def test_bad_requests_are_vpn_errors(article: rulec.Policy, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(rulec.VpnError, match=match):
        article.check_vpn("pptp", **kwargs)  # type: ignore[arg-type]
