#!/usr/bin/env bash
# The real-kernel suite: rulec's nft and iptables outputs loaded into network
# namespaces (client 192.0.2.0/24, router, server 198.51.100.0/24), probed
# with real TCP, UDP, GRE, ESP, ICMP and PPTP traffic, compared with the
# reference evaluator; then a differential test on random policies (fixed
# seeds; RULEC_KERNEL_SEEDS=200 runs it longer). Also checks every example
# with `nft -c -f` and `iptables-restore --test`. Needs root: without it (or
# without network namespaces) this suite FAILS, it never skips.
set -uo pipefail
root=${RULEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULEC_BUILD_DIR:-$root/build}
export RULEC_BIN=$build/rulec RULEC_EXPECT=$build/rulec_kernel_expect
tag=rulecchk$$
export RULEC_KERNEL_TAG=rck$$  # kernel_suite.py's namespaces: ${RULEC_KERNEL_TAG}c, r, s
suite_pid=
cleanup() {
  [[ -n $suite_pid ]] && kill "$suite_pid" 2>/dev/null && wait "$suite_pid" 2>/dev/null
  for ns in "$tag" "${RULEC_KERNEL_TAG}c" "${RULEC_KERNEL_TAG}r" "${RULEC_KERNEL_TAG}s"; do
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

if [[ $(id -u) != 0 ]]; then
  echo "kernel: FAIL: the kernel suite must run as root (it creates network namespaces)"; exit 1
fi
if ! ip netns add "$tag"; then
  echo "kernel: FAIL: cannot create a network namespace"; exit 1
fi
for tool in "$RULEC_BIN" "$RULEC_EXPECT"; do
  [[ -x $tool ]] || { echo "kernel: FAIL: $tool is not built"; exit 1; }
done

status=0
echo "kernel: syntax checks with nft -c -f, iptables-restore --test, ip6tables-restore --test"
for f in "$root"/examples/*.rules "$root"/tests/golden/*.rules; do
  [[ -e $f && $f != *-error.rules ]] || continue
  for t in nft iptables ip6tables; do
    out=$("$RULEC_BIN" --target "$t" "$f" 2>/dev/null) || { echo "  FAIL: rulec --target $t $f"; status=1; continue; }
    case $t in
      nft) check=(nft -c -f /dev/stdin) ;;
      iptables) check=(iptables-restore --test) ;;
      ip6tables) check=(ip6tables-restore --test) ;;
    esac
    if ! err=$(ip netns exec "$tag" timeout 20 "${check[@]}" <<<"$out" 2>&1 >/dev/null); then
      echo "  FAIL: $t output of $f rejected: $err"; status=1
    fi
  done
done
((status == 0)) && echo "  ok"
cleanup

# Every wait is bounded: about 7 s per random policy, with room to spare.
timeout $((300 + 15 * ${RULEC_KERNEL_SEEDS:-12})) /usr/bin/python3 "$root/tests/kernel/kernel_suite.py" &
suite_pid=$!
wait "$suite_pid" || status=1
suite_pid=
exit $status
