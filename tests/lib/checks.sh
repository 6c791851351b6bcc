# Helpers for the command-line suites in tests/suites/: sourced, never run.
# Sets bin, root and a temporary directory tmp (removed on exit); each check
# prints one line and counts into pass/fail; finish prints "NAME: N passed,
# N failed" and returns non-zero on any failure.
bin=${RULEC_BIN:-build/rulec}
root=${RULEC_ROOT:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() {  # check NAME EXPECTED_STATUS COMMAND...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got == "$want" ]]; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name: exit $got, wanted $want"; sed 's/^/     /' "$tmp/err" | head -5; fi
}
expect_text() {  # expect_text NAME FILE NEEDLE
  if grep -qF -- "$3" "$2"; then pass=$((pass + 1)); echo "ok   $1"
  else fail=$((fail + 1)); echo "FAIL $1: '$3' not in:"; head -5 "$2" | sed 's/^/     /'; fi
}
expect_no_text() {  # expect_no_text NAME FILE NEEDLE
  if ! grep -qF -- "$3" "$2"; then pass=$((pass + 1)); echo "ok   $1"
  else fail=$((fail + 1)); echo "FAIL $1: '$3' found in $2"; fi
}
