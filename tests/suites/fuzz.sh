#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/) for a bounded time from the seed corpus:
# 15 s each, about a minute in all. Each target checks invariants (fmt
# round-trips and is idempotent, verdicts survive fmt, every target emits or
# explains, packets format back to themselves), under ASan and UBSan.
# A longer run: scripts/fuzz 600 (README, "Fuzzing").
set -uo pipefail
root=${RULEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
echo "fuzz: every target for ${RULEC_FUZZ_SECONDS:-15} s from the seed corpus (ASan + UBSan + invariants)"
RULEC_FUZZ_FRESH=1 exec "$root/scripts/fuzz" "${RULEC_FUZZ_SECONDS:-15}"
