#!/usr/bin/env bash
# ctctl vs conntrack-tools, side by side in one run.
#
#   scripts/bench.sh [N] [REPS]     (default N=1000000, REPS=5)
#
# Loads N entries (half UDP to port 53, half TCP TIME_WAIT) into a private
# network namespace with `conntrack -R`, then times each pair of commands
# REPS times, alternating the two tools, and prints the medians of wall
# time, user and system CPU and peak RSS, and the ratio conntrack / ctctl
# (above 1 means ctctl is faster).
#
# nf_conntrack_max is global: it is raised for the run and restored on
# exit, also on failure or Ctrl-C. Needs root, conntrack, iproute2, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

N=${1:-1000000}
REPS=${2:-5}
NS="ctctl-bench-$$"
WORK=$(mktemp -d)
MAX_FILE=/proc/sys/net/netfilter/nf_conntrack_max
OLD_MAX=$(cat "$MAX_FILE")

cleanup() {
  [ -n "${LISTENERS:-}" ] && kill $LISTENERS 2>/dev/null || true
  [ -n "${SLEEPERS:-}" ] && kill $SLEEPERS 2>/dev/null || true
  for pod in /run/netns/"$NS"-pod*; do [ -e "$pod" ] && ip netns del "$(basename "$pod")"; done
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$NS-ev" 2>/dev/null || true
  echo "$OLD_MAX" > "$MAX_FILE"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in conntrack ip nsenter; do
  command -v "$tool" >/dev/null || { echo "bench.sh: needs $tool" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: needs root" >&2; exit 2; }

cargo build --release --quiet
CTCTL="$PWD/target/release/ctctl"

# Room for the table and the exporter's 200k-entry storm on top of it,
# and for the 1M-entry event storm (run after the table's namespace is
# gone).
need=$(( (N > 1000000 ? N : 1000000) * 11 / 10 + 200000 + 1000 ))
if [ "$OLD_MAX" -lt "$need" ]; then echo "$need" > "$MAX_FILE"; fi
ip netns add "$NS"
NSPATH=/run/netns/$NS
in_ns() { nsenter --net="$NSPATH" "$@"; }

# The kernel probe: `ctctl probe` proves the usual request shapes (36)
# at once; commands prove a shape lazily the first time they need it.
# Each experiment walks the kernel's whole hash table, every namespace's
# entries included, so it is measured on an idle table and again with the
# N entries loaded. Median of REPS runs, in ms.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
probe_ms() {
  for _ in $(seq "$REPS"); do
    "$CTCTL" probe 2>&1 >/dev/null | sed -n 's/.* proved in \([0-9]*\) ms.*/\1/p'
  done | median | awk '{ printf "%.1f", $1 }'
}
probe_idle=$(probe_ms)

echo "loading $N entries into $NS ..." >&2
awk -v n="$N" -v udp="$WORK/udp" -v tcp="$WORK/tcp" 'BEGIN {
  for (i = 0; i < n; i++) {
    a = int(i / 65536) % 256; b = int(i / 256) % 256; c = i % 256; p = 1024 + i % 60000
    if (i % 2 == 0)
      printf "-I -s 10.%d.%d.%d -d 10.200.0.1 -p udp --sport %d --dport 53 -t 3600\n", a, b, c, p > udp
    else
      printf "-I -s 10.%d.%d.%d -d 10.201.0.1 -p tcp --sport %d --dport 80 --state TIME_WAIT -t 3600 -u ASSURED,SEEN_REPLY\n", a, b, c, p > tcp
  }
}'
cat "$WORK/udp" "$WORK/tcp" > "$WORK/entries"
load_start=$(date +%s.%N)
in_ns conntrack -R "$WORK/entries" 2>/dev/null
load_end=$(date +%s.%N)
count=$(in_ns conntrack -C)
echo "loaded $count entries in $(awk -v a="$load_start" -v b="$load_end" 'BEGIN { printf "%.1f", b - a }') s" >&2

probe_loaded=$(probe_ms)
# A command whose request shape is not known yet pays for its experiment
# once (at most two table walks); the same command with the verdict kept
# pays nothing. Median wall time of REPS runs each, at N entries.
lazy_first=() ; lazy_cached=()
for _ in $(seq "$REPS"); do
  rm -f /run/ctctl/kernel-probe.json
  s=$(date +%s.%N); in_ns "$CTCTL" count -f ipv4 -p udp --dport 53 >/dev/null; e=$(date +%s.%N)
  lazy_first+=("$(awk -v a="$s" -v b="$e" 'BEGIN { print (b - a) * 1000 }')")
  s=$(date +%s.%N); in_ns "$CTCTL" count -f ipv4 -p udp --dport 53 >/dev/null; e=$(date +%s.%N)
  lazy_cached+=("$(awk -v a="$s" -v b="$e" 'BEGIN { print (b - a) * 1000 }')")
done
lazy_first_ms=$(printf '%s\n' "${lazy_first[@]}" | median | awk '{ printf "%.0f", $1 }')
lazy_cached_ms=$(printf '%s\n' "${lazy_cached[@]}" | median | awk '{ printf "%.0f", $1 }')
"$CTCTL" probe >/dev/null 2>&1 || true

# run LABEL CMD...: one timed run, appends "wall user sys maxrss_kb" to $WORK/LABEL
run() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/t" "$@" > /dev/null 2> "$WORK/err" || {
    echo "bench.sh: $label failed:" >&2; cat "$WORK/err" >&2; exit 1; }
  cat "$WORK/t" >> "$WORK/$label"
}

col() { awk -v c="$2" '{ print $c }' "$WORK/$1" | median; }

# pair NAME "CONNTRACK CMD" "CTCTL CMD": alternate REPS times.
results=("| kernel probe (ctctl probe: 36 usual shapes) | - | $probe_idle ms idle, $probe_loaded ms with $count entries | - |"
         "| a command with a new shape: first run vs verdict kept (count -f ipv4 -p udp --dport 53) | - | ${lazy_first_ms} ms vs ${lazy_cached_ms} ms | - |")
pair() {
  local name=$1 theirs=$2 ours=$3
  rm -f "$WORK/a" "$WORK/b"
  for _ in $(seq "$REPS"); do
    # shellcheck disable=SC2086
    run a nsenter --net="$NSPATH" $theirs
    # shellcheck disable=SC2086
    run b nsenter --net="$NSPATH" $ours
  done
  summarize "$name"
}

# summarize NAME: medians of the runs in $WORK/a (conntrack) and $WORK/b (ctctl)
summarize() {
  local name=$1
  local ta ua sa ma tb ub sb mb
  ta=$(col a 1); ua=$(col a 2); sa=$(col a 3); ma=$(col a 4)
  tb=$(col b 1); ub=$(col b 2); sb=$(col b 3); mb=$(col b 4)
  local ratio
  ratio=$(awk -v a="$ta" -v b="$tb" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')
  local mma mmb
  mma=$(awk -v k="$ma" 'BEGIN { printf "%.1f", k / 1024 }')
  mmb=$(awk -v k="$mb" 'BEGIN { printf "%.1f", k / 1024 }')
  results+=("| $name | $ta s ($ua u, $sa s, $mma MB) | $tb s ($ub u, $sb s, $mmb MB) | ${ratio}x |")
  echo "$name: conntrack $ta s, ctctl $tb s, ratio ${ratio}x" >&2
}

pair "list > /dev/null" "conntrack -L" "$CTCTL list"
pair "list -p tcp --state TIME_WAIT" "conntrack -L -p tcp --state TIME_WAIT" "$CTCTL list -p tcp --state TIME_WAIT"
pair "list -p udp --dport 53" "conntrack -L -p udp --dport 53" "$CTCTL list -p udp --dport 53"
pair "list -o extended" "conntrack -L -o extended" "$CTCTL -o extended list"
pair "ctctl -o json list (vs conntrack -L)" "conntrack -L" "$CTCTL -o json list"
pair "count --by state (vs conntrack -L)" "conntrack -L" "$CTCTL count --by state"

# dpair NAME "CONNTRACK CMD" "CTCTL CMD" RELOAD: destructive pairs. Each
# run deletes half of the table; that half is loaded again (untimed)
# before the next run.
dpair() {
  local name=$1 theirs=$2 ours=$3 reload=$4
  rm -f "$WORK/a" "$WORK/b"
  for _ in $(seq "$REPS"); do
    # shellcheck disable=SC2086
    run a nsenter --net="$NSPATH" $theirs
    in_ns conntrack -R "$reload" 2>/dev/null
    # shellcheck disable=SC2086
    run b nsenter --net="$NSPATH" $ours
    in_ns conntrack -R "$reload" 2>/dev/null
  done
  summarize "$name"
}

dpair "delete -p tcp --state TIME_WAIT (half)" "conntrack -D -p tcp --state TIME_WAIT" "$CTCTL delete -p tcp --state TIME_WAIT" "$WORK/tcp"
dpair "delete -p udp --dport 53 (half)" "conntrack -D -p udp --dport 53" "$CTCTL delete -p udp --dport 53" "$WORK/udp"
dpair "delete -f ipv4 -p udp --dport 53 (half)" "conntrack -D -f ipv4 -p udp --dport 53" "$CTCTL delete -f ipv4 -p udp --dport 53" "$WORK/udp"

# count: too quick for /usr/bin/time; 21 alternating runs each, in
# microseconds from process start to exit (nsenter included in both).
rm -f "$WORK/ca" "$WORK/cb"
for _ in $(seq 21); do
  s=$(date +%s%N); in_ns conntrack -C > /dev/null; e=$(date +%s%N)
  echo $(( (e - s) / 1000 )) >> "$WORK/ca"
  s=$(date +%s%N); in_ns "$CTCTL" count > /dev/null; e=$(date +%s%N)
  echo $(( (e - s) / 1000 )) >> "$WORK/cb"
done
ca=$(median < "$WORK/ca"); cb=$(median < "$WORK/cb")
results+=("| count (conntrack -C) | $(awk -v u="$ca" 'BEGIN { printf "%.1f ms", u / 1000 }') | $(awk -v u="$cb" 'BEGIN { printf "%.1f ms", u / 1000 }') | $(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.2fx", a / b }') |")

# restore: the whole table from the same file (conntrack -R syntax), into
# an empty table each time; the flush in between is not timed.
rm -f "$WORK/a" "$WORK/b"
for _ in $(seq "$REPS"); do
  in_ns "$CTCTL" flush --all 2>/dev/null
  run a nsenter --net="$NSPATH" conntrack -R "$WORK/entries"
  in_ns "$CTCTL" flush --all 2>/dev/null
  run b nsenter --net="$NSPATH" "$CTCTL" restore "$WORK/entries"
done
summarize "restore $N entries (conntrack -R)"

# Kubernetes-scale cleanup (--filters-from): a 200k-entry table plus 100
# service IPs with 100 UDP entries each and one TCP entry each that must
# survive; the same 100 targets deleted by 100 `conntrack -D -p udp -d IP`
# runs, 100 `ctctl delete` runs, and one `ctctl delete --filters-from`.
# Each variant starts from the same table, and all must leave the same one.
kube() {
  local ns="$NS-kube" base=200000
  ip netns add "$ns"
  local kin=(nsenter --net="/run/netns/$ns")
  awk -v n="$base" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "-I -s 10.%d.%d.%d -d 10.202.0.1 -p udp --sport %d --dport 53 -t 3600\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, 1024 + i % 60000
    for (s = 0; s < 100; s++) {
      for (c = 0; c < 100; c++)
        printf "-I -s 10.210.%d.%d -d 10.96.0.%d -p udp --sport %d --dport 53 -t 3600\n", s, c, s, 2000 + c
      printf "-I -s 10.211.0.%d -d 10.96.0.%d -p tcp --sport 3000 --dport 53 --state ESTABLISHED -t 3600\n", s, s
    }
  }' > "$WORK/kube"
  : > "$WORK/kube-targets"
  for s in $(seq 0 99); do echo "-p udp -d 10.96.0.$s" >> "$WORK/kube-targets"; done
  kreload() { "${kin[@]}" "$CTCTL" flush --all 2>/dev/null; "${kin[@]}" "$CTCTL" restore "$WORK/kube" 2>/dev/null; }
  ksum() { "${kin[@]}" "$CTCTL" list | awk '{ $3 = ""; print }' | sort | md5sum | cut -c1-12; }
  ktime() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'; }
  kreload
  local t_ct t_loop t_set sum_ct sum_loop sum_set rss
  t_ct=$(ktime bash -c "while read -r l; do ${kin[*]} conntrack -D \$l >/dev/null 2>&1; done < '$WORK/kube-targets'")
  sum_ct=$(ksum)
  kreload
  t_loop=$(ktime bash -c "while read -r l; do ${kin[*]} '$CTCTL' delete \$l >/dev/null 2>&1; done < '$WORK/kube-targets'")
  sum_loop=$(ksum)
  kreload
  rm -f "$WORK/b"
  run b "${kin[@]}" "$CTCTL" delete --filters-from "$WORK/kube-targets"
  t_set=$(col b 1); rss=$(col b 4)
  sum_set=$(ksum)
  # Peak RSS with 10,000 lines (none matching): flat in the number of lines.
  awk 'BEGIN { for (i = 0; i < 10000; i++) printf "-p udp -d 10.97.%d.%d\n", int(i / 256), i % 256 }' > "$WORK/kube-10k"
  rm -f "$WORK/b"
  run b "${kin[@]}" "$CTCTL" delete --filters-from "$WORK/kube-10k"
  local t10k rss10k
  t10k=$(col b 1); rss10k=$(col b 4)
  # What one kernel flush walk and one dump walk cost on this table: the
  # break-even behind MAX_LINE_FLUSHES in src/cli/delete.rs.
  rm -f "$WORK/a" "$WORK/b"
  for _ in $(seq "$REPS"); do
    run a "${kin[@]}" "$CTCTL" delete -f ipv4 -p udp -d 10.99.99.99
    run b "${kin[@]}" "$CTCTL" count -p udp --dport 9
  done
  local tflush tdump
  tflush=$(col a 1); tdump=$(col b 1)
  local same="same table"
  [ "$sum_ct" = "$sum_set" ] && [ "$sum_loop" = "$sum_set" ] || same="TABLES DIFFER ($sum_ct $sum_loop $sum_set)"
  results+=("| delete 100 services (--filters-from, 210k table; $same) | $t_ct s (100 conntrack -D) | $t_set s, $(awk -v k="$rss" 'BEGIN { printf "%.1f MB", k / 1024 }') (100 ctctl delete: $t_loop s) | $(awk -v a="$t_ct" -v b="$t_set" 'BEGIN { printf "%.0fx", a / b }') ($(awk -v a="$t_loop" -v b="$t_set" 'BEGIN { printf "%.1fx", a / b }') vs ctctl loop) |")
  results+=("| --filters-from with 10,000 lines (210k table) | - | $t10k s, $(awk -v k="$rss10k" 'BEGIN { printf "%.1f MB", k / 1024 }') | - |")
  results+=("| one kernel flush walk vs one dump (210k table) | - | flush $tflush s, dump $tdump s | - |")
  echo "kube: conntrack $t_ct s, ctctl loop $t_loop s, --filters-from $t_set s ($same); flush walk $tflush s, dump $tdump s" >&2
  ip netns del "$ns"
}

# Event storms: `ctctl events -e new -o json` and `conntrack -E -e NEW`
# listen side by side in a fresh namespace while `conntrack -R` inserts
# STORM entries; then count what each delivered.
storm() {
  local n=$1 ns="$NS-ev"
  ip netns add "$ns"
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
    printf "-I -s 10.%d.%d.%d -d 10.250.0.1 -p udp --sport %d --dport 53 -t 3600\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, 1024 + i % 60000 }' > "$WORK/storm"
  nsenter --net="/run/netns/$ns" "$CTCTL" -o json events -e new > "$WORK/ev-ctctl" 2> "$WORK/ev-ctctl.err" &
  local ours=$!
  nsenter --net="/run/netns/$ns" conntrack -E -e NEW > "$WORK/ev-ct" 2> "$WORK/ev-ct.err" &
  local theirs=$!
  LISTENERS="$ours $theirs"
  # ctctl says when it listens; conntrack does not, so give it a moment.
  for _ in $(seq 100); do grep -q listening "$WORK/ev-ctctl.err" && break; sleep 0.05; done
  sleep 1
  local t0 t1
  t0=$(date +%s.%N)
  nsenter --net="/run/netns/$ns" conntrack -R "$WORK/storm" 2>/dev/null
  t1=$(date +%s.%N)
  # Wait until both outputs stop growing (at most 60 s).
  local prev="" cur
  for _ in $(seq 120); do
    sleep 0.5
    cur="$(wc -l < "$WORK/ev-ctctl") $(wc -l < "$WORK/ev-ct")"
    [ "$cur" = "$prev" ] && break
    prev=$cur
  done
  # CPU each listener spent (user and system, clock ticks), read before
  # they stop: nsenter execs the listener, so the PIDs are theirs.
  local tck cpu_ours cpu_theirs
  tck=$(getconf CLK_TCK)
  cpu_ours=$(awk '{ print $14, $15 }' "/proc/$ours/stat" 2>/dev/null || echo "0 0")
  cpu_theirs=$(awk '{ print $14, $15 }' "/proc/$theirs/stat" 2>/dev/null || echo "0 0")
  kill -TERM "$ours" 2>/dev/null; wait "$ours" 2>/dev/null || true
  kill -TERM "$theirs" 2>/dev/null; wait "$theirs" 2>/dev/null || true
  LISTENERS=""
  local got_ours got_theirs overruns rate
  got_ours=$(grep -c '"event":"new"' "$WORK/ev-ctctl" || true)
  got_theirs=$(grep -c '\[NEW\]' "$WORK/ev-ct" || true)
  overruns=$(grep -o '[0-9,]* overruns' "$WORK/ev-ctctl.err" | tail -1 | tr -d ,)
  rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  if grep -qi 'buffer' "$WORK/ev-ct.err"; then got_theirs="$got_theirs (then exited: ENOBUFS)"; fi
  per_event() { awk -v c="$1" -v t="$tck" -v n="$2" 'BEGIN { split(c, x, " "); if (n > 0) printf "%.2f us/event (%.2f user + %.2f sys)", (x[1] + x[2]) * 1e6 / t / n, x[1] * 1e6 / t / n, x[2] * 1e6 / t / n; else print "-" }'; }
  results+=("| events storm: $n inserts at $rate/s, -e new | $got_theirs delivered, $(per_event "$cpu_theirs" "${got_theirs%% *}") | $got_ours delivered, $overruns, $(per_event "$cpu_ours" "$got_ours") | $(awk -v a="${got_theirs%% *}" -v b="$got_ours" -v n="$n" 'BEGIN { printf "%.0f%% vs %.0f%%", 100 * a / n, 100 * b / n }') |")
  echo "storm $n: conntrack -E $got_theirs, ctctl $got_ours ($overruns)" >&2
  ip netns del "$ns"
}
# shellcheck source=scripts/bench-exporter.sh
. "$(dirname "$0")/bench-exporter.sh"
exporter_bench
nat_bench
ip netns del "$NS"
kube
storm 300000
if [ "$N" -ge 1000000 ]; then storm 1000000; fi
netns_churn_bench

codec=$(cargo bench --quiet --bench codec 2>/dev/null | grep 'JSON events' | awk '{ print $(NF-1) }')
wait_latency=$(cargo bench --quiet --bench wait_latency 2>/dev/null | tail -1)

report() {
  echo "N=$count entries, $REPS runs each, alternating; medians of wall time (user CPU, system CPU, peak RSS)."
  echo "Kernel $(uname -r), $(nproc) CPUs, $(conntrack --version 2>&1 | head -1)."
  echo
  echo "| operation | conntrack-tools | ctctl | speed-up |"
  echo "|---|---|---|---|"
  printf '%s\n' "${results[@]}"
  echo
  echo "JSON event formatting (cargo bench --bench codec, captured messages, one core): $codec events/s"
  echo "$wait_latency (cargo bench --bench wait_latency)"
}
echo
report | tee "$WORK/report"
# The table goes into docs/performance.md, between its markers (the text
# around it, which reads the figures, is for a person to update).
doc=docs/performance.md
if grep -q '^<!-- bench:begin -->' "$doc" && grep -q '^<!-- bench:end -->' "$doc"; then
  awk -v rep="$WORK/report" '
    /^<!-- bench:begin -->/ { print; while ((getline l < rep) > 0) print l; skip = 1; next }
    /^<!-- bench:end -->/ { skip = 0 }
    !skip { print }' "$doc" > "$WORK/doc" && cat "$WORK/doc" > "$doc"
  echo "bench.sh: table written to $doc" >&2
fi
