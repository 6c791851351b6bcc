#!/usr/bin/env bash
# The command line's promises: exit statuses, stdin, fmt --check, --version,
# and -o never leaving a half-written file. Prints one line per check.
set -uo pipefail
source "$(dirname "$0")/../lib/checks.sh"

check "lint of a clean example exits 0" 0 "$bin" lint "$root/examples/office.rules"
printf 'default block\npass protocol tpc\n' > "$tmp/bad.rules"
check "lint with an error exits 1" 1 "$bin" lint "$tmp/bad.rules"
expect_text "the error names file:line:col and the code" "$tmp/err" "bad.rules:2:15: error: unknown protocol 'tpc' [RC207]"
printf 'default block\nunused = 1\n' > "$tmp/warn.rules"
check "warnings alone exit 0" 0 "$bin" lint "$tmp/warn.rules"
expect_text "the warning is shown" "$tmp/err" "warning: list 'unused' is defined but never used [RC202]"
check "warnings with --werror exit 1" 1 "$bin" lint --werror "$tmp/warn.rules"
check "--disable drops a code" 0 "$bin" lint --werror --disable RC202 "$tmp/warn.rules"
check "an unreadable file exits 2" 2 "$bin" lint "$tmp/missing.rules"
expect_text "and says why" "$tmp/err" "cannot read '$tmp/missing.rules': No such file or directory"
check "a directory exits 2" 2 "$bin" lint "$tmp"
check "lint reads stdin" 1 bash -c "'$bin' lint - < '$tmp/bad.rules'"
expect_text "stdin is named <stdin>" "$tmp/err" "<stdin>:2:15: error"
check "lint reads a pipe named /dev/stdin" 1 bash -c "cat '$tmp/bad.rules' | '$bin' lint /dev/stdin"
expect_text "and names it <stdin>" "$tmp/err" "<stdin>:2:15: error"
check "json output" 1 "$bin" lint --format json "$tmp/bad.rules"
expect_text "json has the code" "$tmp/out" '"code": "RC207"'
check "sarif output" 1 "$bin" lint --format sarif "$tmp/bad.rules"
expect_text "sarif names its version" "$tmp/out" '"version": "2.1.0"'
check "lint of several files" 1 "$bin" lint --format sarif "$root/examples/office.rules" "$tmp/bad.rules"
check "a usage error exits 2" 2 "$bin" lint --no-such-flag x
check "--version" 0 "$bin" --version
expect_text "--version prints the version" "$tmp/out" "rulec 0."
check "--help" 0 "$bin" --help
expect_text "--help has examples" "$tmp/out" "rulec check --vpn pptp --via lan:wan office.rules"

check "fmt --check of a formatted example" 0 "$bin" fmt --check "$root/examples/office.rules" "$root/examples/pptp.rules"
printf 'pass   out>>state\n' > "$tmp/messy.rules"
check "fmt --check of a messy file exits 1" 1 "$bin" fmt --check "$tmp/messy.rules"
check "fmt prints the canonical form" 0 "$bin" fmt "$tmp/messy.rules"
expect_text "canonical text" "$tmp/out" "pass out >> state"
check "fmt -w rewrites in place" 0 "$bin" fmt -w "$tmp/messy.rules"
check "and then it is formatted" 0 "$bin" fmt --check "$tmp/messy.rules"

check "trace of a passed packet exits 0" 0 "$bin" trace "$root/examples/office.rules" 'in on lan tcp 192.0.2.7:40000 -> 203.0.113.10:1723'
check "trace of a blocked packet exits 1" 1 "$bin" trace "$root/examples/office.rules" 'in on wan tcp 198.51.100.9:40000 -> 192.0.2.7:22'
check "a bad packet exits 2" 2 "$bin" trace "$root/examples/office.rules" 'in on wan tcp 198.51.100.9 -> 192.0.2.7:22'
expect_text "and says where" "$tmp/err" "column"

check "an unknown target exits 2" 2 "$bin" --target nftables-x "$root/examples/office.rules"
first_target=$("$bin" targets | awk 'NR==1{print $1}')
if [[ -n $first_target ]]; then
  echo "precious" > "$tmp/out.conf"
  check "a policy with errors does not touch -o" 1 "$bin" --target "$first_target" "$tmp/bad.rules" -o "$tmp/out.conf"
  expect_text "the old output is intact" "$tmp/out.conf" "precious"
  check "-o into a missing directory exits 2" 2 "$bin" --target "$first_target" "$root/examples/office.rules" -o "$tmp/no/such/dir/x"
  check "-o writes the output" 0 "$bin" --target "$first_target" "$root/examples/office.rules" -o "$tmp/out.conf"
  if [[ -s $tmp/out.conf ]] && ! grep -q precious "$tmp/out.conf"; then pass=$((pass + 1)); echo "ok   -o replaced the file"
  else fail=$((fail + 1)); echo "FAIL -o did not replace the file"; fi
  chmod 600 "$tmp/out.conf"
  check "-o over a private file" 0 "$bin" --target "$first_target" "$root/examples/office.rules" -o "$tmp/out.conf"
  if [[ $(stat -c %a "$tmp/out.conf") == 600 ]]; then pass=$((pass + 1)); echo "ok   -o keeps the replaced file's mode"
  else fail=$((fail + 1)); echo "FAIL -o changed the mode to $(stat -c %a "$tmp/out.conf")"; fi
  check "-o to a new file" 0 "$bin" --target "$first_target" "$root/examples/office.rules" -o "$tmp/new.conf"
  if [[ $(stat -c %a "$tmp/new.conf") == 644 ]]; then pass=$((pass + 1)); echo "ok   a new file is 0644"
  else fail=$((fail + 1)); echo "FAIL a new file is $(stat -c %a "$tmp/new.conf")"; fi
  leftovers=$(find "$tmp" -name '.*.rulec-*' | wc -l)
  if [[ $leftovers == 0 ]]; then pass=$((pass + 1)); echo "ok   no temporary files left"
  else fail=$((fail + 1)); echo "FAIL $leftovers temporary files left"; fi
else
  fail=$((fail + 1)); echo "FAIL no targets registered"
fi
# --prune: the rules lint proves never decide a packet get no output at all
printf 'default block in\npass in protocol tcp, to port 22 >> done\nblock in protocol tcp, to port 22\npass in protocol udp, to port 53\n' >"$tmp/dead.rules"
check "--prune compiles" 0 "$bin" --target nft --prune "$tmp/dead.rules"
expect_no_text "--prune leaves out a shadowed rule" "$tmp/out" "dead.rules:3:1"
expect_text "--prune keeps the others" "$tmp/out" "dead.rules:4:1"
check "without --prune" 0 "$bin" --target nft "$tmp/dead.rules"
expect_text "without --prune the shadowed rule is named" "$tmp/out" "dead.rules:3:1"
echo "cli: $pass passed, $fail failed"
((fail == 0))
