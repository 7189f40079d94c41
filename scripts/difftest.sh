#!/usr/bin/env bash
# The randomized differential harness against the real conntrack 1.4.7:
#   scripts/difftest.sh [N] [SEED]
# runs N generated command lines (default 1000) from SEED (default: the
# time) through conntrack and through ctctl as conntrack, on identical
# tables in two namespaces, and prints the seed, the count of each kind
# of difference and the first examples of each. Exits non-zero on a
# violation (an entry conntrack kept that the face removed or changed, or
# one the face made that conntrack did not) or an exit code that differs
# without a documented reason. Needs root and conntrack (conntrack-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
N="${1:-1000}"
SEED="${2:-$(date +%s)}"
echo "difftest: $N lines, seed $SEED" >&2
DIFFTEST_N="$N" DIFFTEST_SEED="$SEED" CTCTL_REQUIRE_ROOT=1 \
  cargo test --test it difftest::difftest_run -- --ignored --nocapture --exact 2>&1 \
  | grep -v '^\s*[0-9]*: \|^\s*at \|^running\|^test result\|^$'
