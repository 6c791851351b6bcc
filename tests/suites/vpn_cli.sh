#!/usr/bin/env bash
# rulec check --vpn from the command line: exit statuses (0 works, 1 does
# not, 2 bad input), the text table, JSON, and require vpn in lint.
set -uo pipefail
root=${RULEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RULEC_BIN:-$root/build/rulec}
[[ $bin == /* ]] || bin=$PWD/$bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect STATUS DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit status.
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got == "$want" ]]; then
    echo "ok   $what (exit $got)"
  else
    echo "FAIL $what: exit $got, expected $want"; sed 's/^/     | /' "$tmp/out" "$tmp/err"
    failures=$((failures + 1))
  fi
}

# contains FILE TEXT DESCRIPTION: the last command's FILE (out or err) contains TEXT.
contains() {
  if grep -qF -- "$2" "$tmp/$1"; then
    echo "ok   $3"
  else
    echo "FAIL $3: '$2' not in std$1"; sed 's/^/     | /' "$tmp/$1"
    failures=$((failures + 1))
  fi
}

cat >"$tmp/gre-blocked.rules" <<'RULES'
default block
pass protocol tcp, to port 1723 >> state, done
RULES
cat >"$tmp/right.rules" <<'RULES'
default block in
default block out
#PPTP Virtual Private Network
pass protocol tcp, to port 1723 >> state, done
pass protocol 47 >> done
RULES
cat >"$tmp/bad.rules" <<'RULES'
default block
pass protocol tcp, to port 99999
RULES
cat >"$tmp/require.rules" <<'RULES'
default block
pass protocol tcp, to port 1723 >> state, done
require vpn pptp
RULES

expect 0 "pptp through examples/office.rules (router lan:wan)" -- "$bin" check --vpn pptp --via lan:wan "$root/examples/office.rules"
contains out "result: the VPN works (4 of 4 rows pass)" "the table ends with the result"
expect 0 "article policy with defaults: pptp works on the host" -- "$bin" check --vpn pptp "$tmp/right.rules"
expect 1 "GRE blocked: pptp does not work" -- "$bin" check --vpn pptp "$tmp/gre-blocked.rules"
contains out "Windows error 806 (older: 721)" "the GRE row names the symptom"
contains out "out gre 192.0.2.7 -> 203.0.113.10 dropped by $tmp/gre-blocked.rules:1:1: default block" "the GRE row names the blocking default"
(cd "$tmp" && "$bin" check --vpn pptp gre-blocked.rules >table.txt)
cat >"$tmp/table.want" <<'TABLE'
VPN pptp: PPTP: TCP 1723 (control) and GRE, IP protocol 47 (tunnel)
this host is the client (192.0.2.7) on any interface; server 203.0.113.10

leg                              direction         judged        verdict   decided by
TCP 1723 (PPTP control channel)  client -> server  out           pass      gre-blocked.rules:2:1 (state created)
                                 server -> client  in            pass      state of this connection
GRE (PPTP tunnel)                client -> server  out           block     gre-blocked.rules:1:1 (default)
                                 server -> client  -             not sent  the first packet is dropped
  out gre 192.0.2.7 -> 203.0.113.10 dropped by gre-blocked.rules:1:1: default block
  the user sees: connects, then hangs at Verifying user name and password; Windows error 806 (older: 721)

result: the VPN does not work (2 of 4 rows pass)
TABLE
if diff -u "$tmp/table.want" "$tmp/table.txt"; then
  echo "ok   the whole table for GRE blocked"
else
  echo "FAIL the whole table for GRE blocked"; failures=$((failures + 1))
fi
expect 1 "GRE blocked, as JSON" -- "$bin" check --vpn pptp --format json "$tmp/gre-blocked.rules"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["works"] is False; assert [r["verdict"] for r in d["rows"]]==["pass","pass","block","not sent"], d' "$tmp/out"; then
  echo "ok   JSON rows: pass, pass, block, not sent"
else
  echo "FAIL JSON rows"; failures=$((failures + 1))
fi
cat >"$tmp/openvpn-server.rules" <<'RULES'
default block
pass in on wan from 198.51.100.9, protocol udp, to port 443 >> state
pass out on lan protocol udp, to 192.0.2.7 port 443 >> state
RULES
expect 0 "openvpn on port 443, server inside a router, peer given" -- "$bin" check --vpn openvpn --port 443 --role server --via lan:wan --peer 198.51.100.9 "$tmp/openvpn-server.rules"
contains out "client 198.51.100.9 outside (on wan), server 192.0.2.7 inside (on lan)" "the topology line names both sides"
expect 1 "the same from another peer" -- "$bin" check --vpn openvpn --port 443 --role server --via lan:wan --peer 198.51.100.10 "$tmp/openvpn-server.rules"
expect 0 "pptp with this router as the client on wan (--on wan)" -- "$bin" check --vpn pptp --on wan "$root/examples/office.rules"
expect 1 "pptp on this host without --on: rules with 'on wan' do not apply" -- "$bin" check --vpn pptp "$root/examples/office.rules"
contains out "hint: without --on, this host's packets are judged on an interface the policy does not name" "a hint when --on is missing"
expect 1 "wireguard through examples/office.rules is blocked" -- "$bin" check --vpn wireguard --via lan:wan "$root/examples/office.rules"
expect 2 "unknown profile" -- "$bin" check --vpn pptpp "$tmp/right.rules"
contains err "did you mean 'pptp'?" "unknown profile: did you mean"
expect 2 "bad --via syntax" -- "$bin" check --vpn pptp --via lan "$tmp/right.rules"
contains err "expected IN:OUT" "bad --via: says what is expected"
expect 2 "--via with the same interface twice" -- "$bin" check --vpn pptp --via lan:lan "$tmp/right.rules"
expect 2 "--port for a profile with fixed ports" -- "$bin" check --vpn pptp --port 1724 "$tmp/right.rules"
expect 2 "--port out of range" -- "$bin" check --vpn openvpn --port 70000 "$tmp/right.rules"
expect 2 "--role neither client nor server" -- "$bin" check --vpn pptp --role router "$tmp/right.rules"
expect 2 "a peer that is not an address" -- "$bin" check --vpn pptp --peer vpn.example.com "$tmp/right.rules"
expect 2 "unreadable file" -- "$bin" check --vpn pptp "$tmp/missing.rules"
expect 2 "a policy with errors" -- "$bin" check --vpn pptp "$tmp/bad.rules"
contains err "bad.rules:2:28: error: port 99999 is outside 0-65535 [RC204]" "policy errors are printed with file:line:col"
expect 1 "lint: a failing require vpn is an error" -- "$bin" lint "$tmp/require.rules"
contains err "require.rules:3:1: error: VPN 'pptp' would not work: GRE (PPTP tunnel) from the client to the server is dropped outbound" "lint names the failing leg at the require line"
contains err "Windows error 806" "lint gives the symptom"

if ((failures)); then echo "vpn_cli: $failures failed"; exit 1; fi
echo "vpn_cli: all passed"
