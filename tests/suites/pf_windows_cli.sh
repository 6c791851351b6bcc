#!/usr/bin/env bash
# The pf and Windows targets from the command line: they are listed, compile
# the examples, refuse approximations under --strict (exit 1), name the
# refused rule, and keep hostile text inert. Prints one line per check.
set -uo pipefail
source "$(dirname "$0")/../lib/checks.sh"

check "targets lists pf, windows and windows-netsh" 0 "$bin" targets
expect_text "pf is listed" "$tmp/out" "pf"
expect_text "windows-netsh is listed" "$tmp/out" "windows-netsh"

check "pf compiles the office example" 0 "$bin" --target pf "$root/examples/office.rules" -o "$tmp/office.pf"
expect_text "pf says how to load it" "$tmp/office.pf" "pfctl -f"
expect_text "done becomes quick, reject block return" "$tmp/office.pf" "block return in log quick on wan proto tcp"
expect_text "pf carries source locations" "$tmp/office.pf" "# $root/examples/office.rules:34:1"

check "windows compiles the office example (with warnings)" 0 "$bin" --target windows "$root/examples/office.rules" -o "$tmp/office.ps1"
expect_text "the reject is reported" "$tmp/err" "[RC551]"
expect_text "the script removes the previous rulec group" "$tmp/office.ps1" "Get-NetFirewallRule -Group 'rulec'"
check "windows --strict refuses the approximations" 1 "$bin" --target windows --strict "$root/examples/office.rules" -o "$tmp/strict.ps1"
expect_text "and says why" "$tmp/err" "error: Windows Firewall cannot reject"
if [[ -e $tmp/strict.ps1 ]]; then fail=$((fail + 1)); echo "FAIL a refused compile leaves no output file"
else pass=$((pass + 1)); echo "ok   a refused compile leaves no output file"; fi

printf 'default block\npass protocol tcp, to port 1723 >> state, done\npass protocol gre >> state, done\nblock\n' > "$tmp/pptp.rules"
check "PPTP with a final block compiles for windows under --strict" 0 "$bin" --target windows --strict "$tmp/pptp.rules"
expect_text "TCP 1723 is allowed" "$tmp/out" "-Action Allow -Protocol TCP -LocalPort '1723'"
expect_text "GRE is allowed by number" "$tmp/out" "-Action Allow -Protocol 47"
expect_no_text "and nothing is blocked by a rule (the default blocks)" "$tmp/out" "-Action Block"

check "netsh refuses rules on named interfaces" 1 "$bin" --target windows-netsh "$root/examples/office.rules"
expect_text "with RC555" "$tmp/err" "[RC555]"
check "netsh compiles the PPTP policy" 0 "$bin" --target windows-netsh "$tmp/pptp.rules"
expect_text "netsh removes the previous rules" "$tmp/out" 'advfirewall firewall delete rule name="rulec"'

printf 'default block\npass out protocol tcp, to port 443 >> state, label "x'"'"'; Remove-Item C:\\\\ -Recurse; $(whoami) `id` \\"q\\""\n' > "$tmp/evil.rules"
check "a hostile label compiles for windows" 0 "$bin" --target windows "$tmp/evil.rules"
expect_text "single quotes are doubled" "$tmp/out" "-Description 'x''; Remove-Item C:\\ -Recurse; \$(whoami) \`id\` \"q\"'"
check "a hostile label compiles for pf" 0 "$bin" --target pf "$tmp/evil.rules"
expect_text "pf gets an inert copy" "$tmp/out" "label \"x'; Remove-Item C:_ -Recurse; _(whoami) \`id\` _q_\""
expect_text "and a warning says so" "$tmp/err" "[RC540]"

echo "pf/windows cli: $pass passed, $fail failed"
((fail == 0))
