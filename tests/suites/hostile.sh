#!/usr/bin/env bash
# Hostile input: what people and scripts might feed rulec by mistake or on
# purpose. Each case must end in a clear error (file:line:col and a code) or
# a correct result, in bounded time and memory, and never with a crash, a
# hang, or a half-written or truncated output file.
#   RULEC_BIN        the rulec to test (default build/rulec)
#   RULEC_SANITIZED  set by asan.sh: time and memory bounds are scaled and
#                    `ulimit -v` is not used (ASan reserves terabytes of address space)
set -uo pipefail
root=${RULEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RULEC_BIN:-$root/build/rulec}
[[ -x $bin ]] || { echo "hostile: $bin is not built"; exit 2; }
bin=$(realpath "$bin")
scale=1
[[ -n ${RULEC_SANITIZED:-} ]] && scale=4
work=$(mktemp -d)
cleanup() {
  mountpoint -q "$work/tiny" 2>/dev/null && umount "$work/tiny"
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 2
failures=0 cases=0 ran=1 rc=0

fail() {
  echo "  FAIL: $*"
  failures=$((failures + 1))
}

# run NAME SECONDS MEGABYTES CMD...: runs CMD with a time and memory bound,
# its stdout in $work/out, stderr in $work/err, exit status in $rc. A timeout,
# a signal or too much memory fails the case.
run() {
  local name=$1 secs=$(($2 * scale)) mb=$(($3 * scale))
  shift 3
  cases=$((cases + 1))
  if [[ -n ${RULEC_SANITIZED:-} ]]; then
    /usr/bin/time -f %M -o "$work/rss" timeout -s KILL "$secs" "$@" >"$work/out" 2>"$work/err"
  else
    (ulimit -v $((mb * 1024 + 1048576)); /usr/bin/time -f %M -o "$work/rss" timeout -s KILL "$secs" "$@" \
      >"$work/out" 2>"$work/err")
  fi
  rc=$?
  ran=1
  local rss_kb
  rss_kb=$(grep -E '^[0-9]+$' "$work/rss" | tail -1)
  rss_mb=$(((${rss_kb:-0} + 1023) / 1024))
  printf '  %-34s exit %-3s %6s MB  ' "$name" "$rc" "$rss_mb"
  if ((rc == 137 || rc == 124)); then
    ran=0
    fail "$name: killed after the ${secs} s bound (hang or far too slow)"
  elif ((rc >= 128)); then
    ran=0
    fail "$name: died of signal $((rc - 128))"
    head -20 "$work/err"
  elif ((rss_mb > mb)); then
    fail "$name: peak memory $rss_mb MB is over the $mb MB bound"
  else
    echo ok
  fi
  if grep -qE 'internal error|AddressSanitizer|runtime error:|LeakSanitizer' "$work/err"; then
    fail "$name: sanitizer or internal error"
    head -30 "$work/err"
  fi
}

# expect_rc WANT: the last run exited with WANT (not checked after a kill: already failed).
expect_rc() {
  ((ran)) || return 0
  ((rc == $1)) || { fail "expected exit $1, got $rc"; head -5 "$work/err"; }
}

# expect_err REGEX: stderr has a line matching REGEX.
expect_err() {
  ((ran)) || return 0
  grep -qE -- "$1" "$work/err" || { fail "stderr lacks /$1/"; head -5 "$work/err"; }
}

# emits_or_explains: the last compile emitted (exit 0, output) or refused
# with a target diagnostic (exit 1, RC5xx at file:line:col, or `rulec:` for
# a whole-policy refusal; no output).
emits_or_explains() {
  ((ran)) || return 0
  if ((rc == 0)); then
    [[ -s $work/out ]] || fail "exit 0 but no output"
  else
    expect_rc 1
    expect_err '^([^ ]+:[0-9]+:[0-9]+|rulec): error: .*\[RC5[0-9][0-9]\]'
    [[ ! -s $work/out ]] || fail "refused, but wrote output"
  fi
}

echo "hostile: $bin${RULEC_SANITIZED:+ (sanitized: bounds x$scale)}"
targets=$("$bin" targets | awk '{print $1}')
[[ -n $targets ]] || { echo "hostile: no targets registered"; exit 1; }

echo "-- odd bytes"
: >empty.rules
run "empty file: lint" 5 200 "$bin" lint empty.rules
expect_rc 0
printf '# nothing\n#  but comments\n\n# here\n' >comments.rules
run "only comments: lint" 5 200 "$bin" lint comments.rules
expect_rc 0
for t in $targets; do
  run "empty file: --target $t" 5 200 "$bin" --target "$t" empty.rules
  expect_rc 0
  [[ -s out ]] || fail "empty policy compiled for $t to nothing"
done
python3 -c "
import random, sys
random.seed(8)
sys.stdout.buffer.write(bytes(random.randrange(256) for _ in range(65536)))" >binary.rules
run "64 KiB of binary data" 5 200 "$bin" lint binary.rules
expect_rc 1
expect_err '^binary\.rules:1:1: error: .*\[RC1[0-9][0-9]\]'
(($(wc -c <err) < 200000)) || fail "binary data: $(wc -c <err) bytes of diagnostics (want them bounded)"
grep -q $'\x1b' err && fail "binary data: a terminal escape byte was copied to the diagnostics"
printf 'pass in\0 on lan\n' >nul.rules
run "NUL byte" 5 200 "$bin" lint nul.rules
expect_rc 1
expect_err '^nul\.rules:1:8: error: .*\[RC100\]'
printf 'default block\npass in on l\xff\xfe\xc0an\n' >utf8.rules
run "invalid UTF-8 in a name" 5 200 "$bin" lint utf8.rules
expect_rc 1
expect_err '^utf8\.rules:2:13: error: .*\[RC100\]'
printf 'default block\npass in on lan >> label "caf\xe9\xff"\n' >utf8label.rules
run "invalid UTF-8 in a label" 5 200 "$bin" lint --format json utf8label.rules
python3 -c "import json,sys; json.load(open('out'))" 2>/dev/null || fail "invalid UTF-8: --format json output is not valid JSON"
mkdir -p lf crlf
printf 'default block\npass in on lan protocol tcp, to port 22 >> state\nblock out on wan\n' >lf/p.rules
sed 's/$/\r/' lf/p.rules >crlf/p.rules
run "CRLF line ends: lint" 5 200 "$bin" lint crlf/p.rules
expect_rc 0
for t in $targets; do
  run "CRLF = LF: --target $t" 5 200 "$bin" --target "$t" crlf/p.rules
  emits_or_explains
  crlf_rc=$rc
  cp out crlf.out
  "$bin" --target "$t" lf/p.rules >lf.out 2>/dev/null
  lf_rc=$?
  ((crlf_rc == lf_rc)) || fail "CRLF exits $crlf_rc, LF $lf_rc for $t"
  sed 's#crlf/p.rules#lf/p.rules#g' crlf.out | cmp -s - lf.out || fail "CRLF policy compiles to other rules than LF for $t"
done

echo "-- size"
python3 -c "print('pass in ' + 'x' * 50_000_000)" >longline.rules
run "50 MB single line (garbage)" 20 800 "$bin" lint longline.rules
expect_rc 1
expect_err '^longline\.rules:1:9: error: .*\[RC100\]'
(($(wc -c <err) < 10000)) || fail "50 MB line: $(wc -c <err) bytes of diagnostics (the quoted line must be cut)"
python3 -c "print('# ' + 'x' * 50_000_000); print('default block')" >longcomment.rules
run "50 MB single line (comment)" 20 800 "$bin" lint longcomment.rules
expect_rc 0
# The big policy: 1,000,000 rules (20,000 under sanitizers, which are ~5x
# slower and larger, to keep asan.sh within a few minutes).
n=${RULEC_HOSTILE_RULES:-$([[ -n ${RULEC_SANITIZED:-} ]] && echo 20000 || echo 1000000)}
python3 -c "
print('default block in')
print('default pass out')
for i in range($n):
    print('pass in on lan protocol tcp, to 10.%d.%d.%d port %d >> state' % (i >> 16 & 255, i >> 8 & 255, i & 255, 1 + i % 65000))
" >million.rules
run "$n rules: fmt --check" 30 1500 "$bin" fmt --check million.rules
expect_rc 0
run "$n rules: lint" 40 2500 "$bin" lint million.rules
expect_rc 0
# rule k (line k + 3) is the only one for its address and port
k=$((n - 5))
probe="10.$((k >> 16 & 255)).$((k >> 8 & 255)).$((k & 255)):$((1 + k % 65000))"
run "$n rules: trace" 30 2000 "$bin" trace million.rules "in on lan tcp 192.0.2.9:40000 -> $probe"
expect_rc 0
grep -q '^verdict: pass' out && grep -q "million.rules:$((k + 3)):1" out || fail "$n rules: wrong trace verdict"
for t in $targets; do
  run "$n rules: --target $t" 30 2500 "$bin" --target "$t" million.rules
  emits_or_explains
done
python3 -c "print('l = ' + '{' * 100_000 + '192.0.2.1' + '}' * 100_000)" >nested.rules
run "100,000 nested braces" 5 300 "$bin" lint nested.rules
expect_rc 1
expect_err '^nested\.rules:1:6: error: .*\[RC1[0-9][0-9]\]'
python3 -c "
print('default block')
print('big = { ' + ', '.join('10.%d.%d.%d' % (i >> 16, i >> 8 & 255, i & 255) for i in range(10_000)) + ' }')
print('pass in on lan from \$big to any port 443 >> state')
" >list.rules
run "10,000-element list: lint" 10 400 "$bin" lint list.rules
expect_rc 0
for t in $targets; do
  run "10,000-element list: --target $t" 20 600 "$bin" --target "$t" list.rules
  emits_or_explains
done

echo "-- includes"
mkdir -p flat chain
for i in $(seq 1 10000); do echo "pass in on lan protocol tcp, to port $i" >"flat/f$i.rules"; done
{ echo "default block"; for i in $(seq 1 10000); do echo "include \"flat/f$i.rules\""; done; } >flat.rules
run "10,000 includes (flat)" 20 600 "$bin" trace flat.rules 'in on lan tcp 192.0.2.9:40000 -> 192.0.2.1:9999'
expect_rc 0
grep -q 'flat/f9999.rules:1:1' out || fail "10,000 flat includes: the rule of f9999.rules does not decide"
for i in $(seq 1 9999); do printf 'pass out protocol udp, to port %d\ninclude "c%d.rules"\n' "$i" $((i + 1)) >"chain/c$i.rules"; done
echo "block out protocol udp, to port 10000" >chain/c10000.rules
run "10,000 includes (a chain)" 20 600 "$bin" trace chain/c1.rules 'out udp 192.0.2.9:40000 -> 192.0.2.1:10000'
expect_rc 1  # trace: 1 = the packet is blocked
grep -q '^verdict: block' out && grep -q 'c10000.rules:1:1' out || fail "chain of 10,000 includes: wrong verdict"
printf 'default block\ninclude "b.rules"\n' >a.rules
printf 'pass in\ninclude "a.rules"\n' >b.rules
run "include cycle" 5 200 "$bin" lint a.rules
expect_rc 1
expect_err '^b\.rules:2:9: error: include cycle.*\[RC103\]'
printf 'include "self.rules"\n' >self.rules
run "a file including itself" 5 200 "$bin" lint self.rules
expect_rc 1
expect_err '^self\.rules:1:9: error: include cycle.*\[RC103\]'
mkdir -p adir
printf 'default block\ninclude "adir"\n' >incdir.rules
run "include of a directory" 5 200 "$bin" lint incdir.rules
expect_rc 1
expect_err '^incdir\.rules:2:9: error: cannot include .adir.: is a directory \[RC102\]'
printf 'default block\ninclude "/dev/zero"\n' >inczero.rules
run "include of /dev/zero" 5 200 "$bin" lint inczero.rules
expect_rc 1
expect_err '^inczero\.rules:2:9: error: cannot include ./dev/zero.: .*\[RC102\]'
mkfifo afifo
printf 'default block\ninclude "afifo"\n' >incfifo.rules
run "include of a FIFO (no writer)" 5 200 "$bin" lint incfifo.rules
expect_rc 1
expect_err '^incfifo\.rules:2:9: error: cannot include .afifo.: .*\[RC102\]'
printf 'default block\ninclude "missing.rules"\n' >incmissing.rules
run "include of a missing file" 5 200 "$bin" lint incmissing.rules
expect_rc 1
expect_err '^incmissing\.rules:2:9: error: cannot include .missing\.rules.: No such file.*\[RC102\]'
run "root file is /dev/zero" 5 200 "$bin" lint /dev/zero
expect_rc 2
expect_err 'cannot read ./dev/zero.*\[RC001\]'
run "/dev/zero on standard input" 30 2500 sh -c "exec '$bin' lint - </dev/zero"
expect_rc 2
expect_err 'cannot read standard input: is larger than'

echo "-- output files (an existing output must stay untouched)"
t=$(echo "$targets" | head -1)
python3 -c "
print('default block')
for i in range(2000): print('pass in on lan protocol tcp, to 10.0.%d.%d port %d >> state' % (i // 256, i % 256, i + 1))
" >medium.rules
old_output() { printf 'OLD OUTPUT\n' >"$1"; }
check_untouched() {
  [[ $(cat "$1") == "OLD OUTPUT" ]] || fail "$1 was changed or truncated"
  local stray
  stray=$(find "$(dirname "$1")" -maxdepth 1 -name '.*.rulec-*' | head -1)
  [[ -z $stray ]] || fail "a temporary file was left behind: $stray"
}
old_output keep.out
printf 'default block\npass in protocol tcp, to port 99999\n' >broken.rules
run "policy with errors, -o existing" 5 200 "$bin" --target "$t" broken.rules -o keep.out
expect_rc 1
expect_err '^broken\.rules:2:'
check_untouched keep.out
run "-o into a missing directory" 5 200 "$bin" --target "$t" medium.rules -o nodir/x.out
expect_rc 2
expect_err 'rulec: error: cannot .*nodir'
old_output afile
run "-o under a regular file" 5 200 "$bin" --target "$t" medium.rules -o afile/x.out
expect_rc 2
expect_err 'rulec: error: cannot .*Not a directory'
mkdir -p outdir
run "-o naming a directory" 5 200 "$bin" --target "$t" medium.rules -o outdir
expect_rc 2
expect_err "rulec: error: cannot write 'outdir'"
[[ -d outdir ]] || fail "the directory named by -o was replaced"
[[ -z $(find . -maxdepth 1 -name '.outdir.rulec-*') ]] || fail "a temporary file was left behind"
run "-o /proc/version (unwritable)" 5 200 "$bin" --target "$t" medium.rules -o /proc/version
expect_rc 2
expect_err 'rulec: error: cannot '
run "stdout is /dev/full" 5 200 sh -c "exec '$bin' --target '$t' medium.rules >/dev/full"
expect_rc 2
expect_err 'rulec: error: cannot write the output'
old_output limited.out
run "ulimit -f 1 (full disk), -o existing" 5 200 sh -c "ulimit -f 1; exec '$bin' --target '$t' medium.rules -o limited.out"
expect_rc 2
expect_err "rulec: error: cannot write 'limited.out': File too large"
check_untouched limited.out
mkdir -p tiny
if mount -t tmpfs -o size=64k tmpfs tiny 2>/dev/null; then
  old_output tiny/full.out
  head -c 60000 /dev/zero >tiny/filler 2>/dev/null
  run "full tmpfs, -o existing" 5 200 "$bin" --target "$t" medium.rules -o tiny/full.out
  expect_rc 2
  expect_err "rulec: error: cannot write 'tiny/full.out': No space left on device"
  check_untouched tiny/full.out
  umount tiny
else
  echo "  full tmpfs: not run (mount is not permitted here; ulimit -f above covers a full disk)"
fi
run "-o a new file: written whole" 10 300 "$bin" --target "$t" medium.rules -o new.out
expect_rc 0
"$bin" --target "$t" medium.rules 2>/dev/null | cmp -s - new.out || fail "-o wrote other bytes than stdout"

echo "hostile: $cases cases, $failures failures"
((failures == 0))
