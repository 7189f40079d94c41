#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), seeding the
# corpora from the captured kernel fixtures and test tables first.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain
# RUSTC_BOOTSTRAP=1 lets it use the nightly-only flags it needs. The
# targets are safe Rust, so they run without AddressSanitizer by default
# (several times faster); FUZZ_SANITIZER=address turns it on. Prints,
# per target, the executions run and whether a crash was found; a crash
# leaves its input in fuzz/artifacts/TARGET/ (make it a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(decode roundtrip restore_line filter_args)
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: needs cargo-fuzz (cargo install cargo-fuzz)" >&2; exit 2; }
export RUSTC_BOOTSTRAP=1

# Seeds: each captured datagram (decode), its attributes after the headers
# with the family byte first (roundtrip), table lines (restore_line), and
# filter flags (filter_args).
seed() {
  local dir=fuzz/corpus/$1
  mkdir -p "$dir"
  cat > "$dir/$2"
}
for f in netlink/src/conntrack/testdata/*.txt; do
  awk -v base="$(basename "$f" .txt)" '
    /^# datagram/ { n++; next }
    /^#/ || NF == 0 { next }
    { for (i = 1; i <= NF; i++) hex[n] = hex[n] $i }
    END { for (k in hex) print base "-" k, hex[k] }' "$f" |
  while read -r name hex; do
    printf '%s' "$hex" | xxd -r -p | seed decode "$name"
    # First message only: family at byte 16, attributes from byte 20.
    printf '%s' "$hex" | xxd -r -p | { head -c 17 | tail -c 1; tail -c +21; } 2>/dev/null | seed roundtrip "$name" || true
  done
done
i=0
while IFS= read -r line; do
  i=$((i + 1)); printf '%s\n' "$line" | seed restore_line "mixed-$i"
done < tests/it/fixtures/mixed.txt
printf '%s\n' '{"family":"ipv4","proto":"udp","proto_num":17,"timeout":60,"orig":{"src":"10.0.0.1","dst":"10.0.0.2","sport":1,"dport":53},"reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":53,"dport":1},"status":["SEEN_REPLY"],"mark":1,"zone":0,"labels":[1,70],"helper":"ftp"}' | seed restore_line json
printf -- '-p\0tcp\0--state\0TIME_WAIT\0-d\x0010.0.0.0/8' | seed filter_args state
printf -- '-s\x002001:db8::1\0--mark\x000x10/0xf0\0--orig-zone\x005' | seed filter_args v6
printf -- '-p\0udp\0--dport\x0053\0--status\0!ASSURED,SEEN_REPLY\0--idle-over\x001h30m' | seed filter_args status

failed=0
for t in "${TARGETS[@]}"; do
  log=fuzz/$t.log
  # -max_total_time bounds the run; -print_final_stats reports executions.
  if cargo fuzz run --sanitizer "${FUZZ_SANITIZER:-none}" "$t" -- \
      -max_total_time="$SECS" -print_final_stats=1 > "$log" 2>&1; then
    result="no crash"
  elif grep -q 'failed to build' "$log"; then
    result="BUILD FAILED (see $log)"
    failed=1
  else
    result="CRASH (see $log and fuzz/artifacts/$t/)"
    failed=1
  fi
  execs=$( (grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true) | awk '{ print $2 }' | tail -1)
  echo "$t: ${execs:-?} executions in ${SECS} s, $result"
done
exit $failed
