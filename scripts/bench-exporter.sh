# The exporter at scale; sourced by scripts/bench.sh (uses its CTCTL, WORK,
# NS, NSPATH, count, results, median).
#
# exporter_bench: `ctctl exporter` on the N-entry table of $NS beside
# node_exporter's conntrack collector (the anchor: count and limit only).
# Start (first dump), RSS, CPU over 30 quiet seconds, resync dumps, scrape
# time p50/p99 over 200 scrapes, the gauges against conntrack -L, and CPU
# per event during a storm of 200,000 inserts and 200,000 deletes.
#
# netns_churn_bench: `ctctl exporter --all-netns` with 110 namespaces of
# 1,000 entries each (Kubernetes' default pod limit per node), one
# namespace created and one deleted every second for 30 s: scrape time,
# CPU, and every namespace's gauges against its table once the churn stops;
# then the cost of a namespace scan with 1,000 more processes.

ticks_of() { awk '{ s += $14 + $15 } END { print s }' /proc/"$1"/task/*/stat; }
rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$1"/status; }
scrape_ms() { # PORT N [NSPATH]: p50 and p99 of N scrapes, in ms (curl's own transfer time)
  local in=()
  [ -n "${3:-}" ] && in=(nsenter --net="$3")
  for _ in $(seq "$2"); do "${in[@]}" curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$1/metrics"; done |
    sort -n | awk '{ v[NR] = $1 * 1000 } END { printf "%.2f %.2f", v[int((NR + 1) / 2)], v[int(NR * 0.99)] }'
}
metric_sum() { # PORT REGEX
  curl -s "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 ~ re { s += $NF } END { printf "%d", s }'
}
start_exporter() { # PORT ARGS...: starts it, waits until it listens; sets EXP_PID, EXP_START_S
  local port=$1; shift
  local s e
  s=$(date +%s.%N)
  "$CTCTL" exporter --listen "127.0.0.1:$port" "$@" 2> "$WORK/exp.err" &
  EXP_PID=$!
  for _ in $(seq 600); do grep -q listening "$WORK/exp.err" && break; sleep 0.1; done
  e=$(date +%s.%N)
  EXP_START_S=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.1f", b - a }')
  LISTENERS="${LISTENERS:-} $EXP_PID"
}

exporter_bench() {
  local port=19371 tck
  tck=$(getconf CLK_TCK)
  start_exporter "$port" --netns "$NS"
  local rss0 t0 t1 r0 r1 quiet_s
  rss0=$(rss_kb "$EXP_PID")
  r0=$(metric_sum "$port" '^conntrack_resyncs_total')
  t0=$(ticks_of "$EXP_PID"); sleep 30; t1=$(ticks_of "$EXP_PID")
  r1=$(metric_sum "$port" '^conntrack_resyncs_total')
  quiet_s=$(awk -v t=$((t1 - t0)) -v k="$tck" 'BEGIN { printf "%.2f", t / k }')
  local lat p50 p99
  lat=$(scrape_ms "$port" 200); p50=${lat% *}; p99=${lat#* }
  # The gauges against conntrack's own listing, by state.
  local listing gtw gudp ltw ludp
  listing=$(nsenter --net="$NSPATH" conntrack -L 2>/dev/null | awk '/ TIME_WAIT / { tw++ } /^udp / { udp++ } END { printf "%d %d", tw, udp }')
  ltw=${listing% *}; ludp=${listing#* }
  gtw=$(metric_sum "$port" 'conntrack_entries_by_state\{.*state="TIME_WAIT"')
  gudp=$(metric_sum "$port" 'conntrack_entries_by_state\{.*proto="udp"')
  local exact="exact"
  [ "$gtw" = "$ltw" ] && [ "$gudp" = "$ludp" ] || exact="OFF: TIME_WAIT $gtw vs $ltw, udp $gudp vs $ludp"
  # A storm: 200,000 inserts, then their deletion.
  awk 'BEGIN { for (i = 0; i < 200000; i++)
    printf "-I -s 10.251.%d.%d -d 10.252.0.1 -p udp --sport %d --dport 53 -t 3600\n", int(i / 256) % 256, i % 256, 1024 + int(i / 65536) }' > "$WORK/xstorm"
  local e0 e1 s0 s1 o1
  e0=$(metric_sum "$port" '^conntrack_events_total'); s0=$(ticks_of "$EXP_PID")
  nsenter --net="$NSPATH" conntrack -R "$WORK/xstorm" 2>/dev/null
  nsenter --net="$NSPATH" conntrack -D -d 10.252.0.1 >/dev/null 2>&1
  for _ in $(seq 60); do
    e1=$(metric_sum "$port" '^conntrack_events_total')
    [ $((e1 - e0)) -ge 400000 ] && break; sleep 0.5
  done
  s1=$(ticks_of "$EXP_PID")
  o1=$(metric_sum "$port" '^conntrack_event_overruns_total')
  local us_event
  us_event=$(awk -v t=$((s1 - s0)) -v k="$tck" -v n=$((e1 - e0)) 'BEGIN { if (n > 0) printf "%.2f", t / k * 1e6 / n; else print "-" }')
  local rss1
  rss1=$(rss_kb "$EXP_PID")
  kill -TERM "$EXP_PID"; wait "$EXP_PID" 2>/dev/null || true

  # The anchor: node_exporter with only its conntrack collector.
  local ne="-" ne_lat="- -" ne_rss="-" ne_val="-"
  if command -v prometheus-node-exporter >/dev/null; then
    ip -n "$NS" link set lo up
    nsenter --net="$NSPATH" prometheus-node-exporter --collector.disable-defaults --collector.conntrack \
      --web.listen-address=127.0.0.1:19100 2>/dev/null &
    local np=$!
    LISTENERS="${LISTENERS:-} $np"
    # It listens inside the namespace (its count is the namespace's).
    for _ in $(seq 100); do nsenter --net="$NSPATH" curl -s -o /dev/null http://127.0.0.1:19100/metrics && break; sleep 0.1; done
    ne_lat=$(scrape_ms 19100 200 "$NSPATH")
    ne_rss=$(rss_kb "$np")
    ne_val=$(nsenter --net="$NSPATH" curl -s http://127.0.0.1:19100/metrics | awk '/^node_nf_conntrack_entries / { printf "%d", $2 }')
    kill "$np"; wait "$np" 2>/dev/null || true
    ne="ok"
  fi
  results+=("| exporter at $count entries: RSS (bytes per entry) | node_exporter (count only): $(awk -v k="$ne_rss" 'BEGIN { printf "%.1f MB", k / 1024 }') | $(awk -v k="$rss0" 'BEGIN { printf "%.1f MB", k / 1024 }') ($(awk -v k="$rss0" -v n="$count" 'BEGIN { printf "%.0f", k * 1024 / n }') B/entry), $(awk -v k="$rss1" 'BEGIN { printf "%.1f MB", k / 1024 }') after the storm; first dump in $EXP_START_S s | - |")
  results+=("| exporter: CPU and resync dumps over 30 quiet s | - | $quiet_s s ($(awk -v s="$quiet_s" 'BEGIN { printf "%.2f", s / 30 * 100 }')% of a core), $((r1 - r0)) resyncs | - |")
  results+=("| exporter: scrape p50 / p99 (200 scrapes) | node_exporter: ${ne_lat% *} / ${ne_lat#* } ms | $p50 / $p99 ms | - |")
  results+=("| exporter: gauges vs conntrack -L | node_exporter: count $ne_val | by state $exact (TIME_WAIT $gtw, udp $gudp) | - |")
  results+=("| exporter: storm of 200k inserts + 200k deletes | - | $((e1 - e0)) events, $us_event us/event, $o1 overruns | - |")
  [ "$ne" = ok ] || echo "exporter: prometheus-node-exporter missing, no anchor" >&2
  echo "exporter: rss ${rss0} kB, quiet ${quiet_s} s, scrape $p50/$p99 ms, $exact, storm $us_event us/event" >&2

  # top: the same table, one frame.
  /usr/bin/time -f "%e %M" -o "$WORK/top.t" nsenter --net="$NSPATH" "$CTCTL" top --once --interval 100ms > /dev/null 2>&1 || true
  results+=("| top --once at $count entries (first dump, one frame) | - | $(awk '{ printf "%.1f s, %.1f MB", $1, $2 / 1024 }' "$WORK/top.t") | - |")
}

netns_churn_bench() {
  local port=19372 tck n=110 per=1000
  tck=$(getconf CLK_TCK)
  local lines="$WORK/ns1k"
  awk -v n="$per" 'BEGIN { for (i = 0; i < n; i++)
    printf "-I -s 10.%d.%d.%d -d 10.253.0.1 -p tcp --sport %d --dport 80 --state ESTABLISHED -t 3600\n", 30, int(i / 256), i % 256, 1024 + i }' > "$lines"
  local prefix="$NS-pod"
  for i in $(seq "$n"); do
    ip netns add "$prefix$i"
    nsenter --net="/run/netns/$prefix$i" conntrack -R "$lines" 2>/dev/null
  done
  start_exporter "$port" --all-netns
  sleep 6
  local followed t0 t1 next=$((n + 1)) oldest=1 lat_all=""
  followed=$(metric_sum "$port" '^conntrack_exporter_namespaces')
  t0=$(ticks_of "$EXP_PID")
  for _ in $(seq 30); do
    local s e
    s=$(date +%s.%N)
    # As a pod's: the namespace is made (CNI), its connections come a
    # moment later (the containers start).
    ip netns add "$prefix$next"
    sleep 0.3
    nsenter --net="/run/netns/$prefix$next" conntrack -R "$lines" 2>/dev/null
    ip netns del "$prefix$oldest"
    next=$((next + 1)); oldest=$((oldest + 1))
    lat_all="$lat_all $(scrape_ms "$port" 3)"
    e=$(date +%s.%N)
    sleep "$(awk -v a="$s" -v b="$e" 'BEGIN { d = 1 - (b - a); print (d > 0 ? d : 0) }')"
  done
  t1=$(ticks_of "$EXP_PID")
  local cpu lat p50 p99
  cpu=$(awk -v t=$((t1 - t0)) -v k="$tck" 'BEGIN { printf "%.2f", t / k / 30 * 100 }')
  lat=$(printf '%s\n' $lat_all | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f", v[int((NR + 1) / 2)], v[int(NR * 0.99)] }')
  p50=${lat% *}; p99=${lat#* }
  # Once the churn stops: every namespace's gauges against its table.
  sleep 12
  local text wrong=0 checked=0
  text=$(curl -s "http://127.0.0.1:$port/metrics")
  for i in $(seq "$oldest" $((next - 1))); do
    local want got
    want=$(nsenter --net="/run/netns/$prefix$i" conntrack -C)
    got=$(printf '%s\n' "$text" | awk -v l="netns=\"$prefix$i\"" 'index($0, "conntrack_entries_by_state{" l ",") == 1 { s += $NF } END { printf "%d", s }')
    checked=$((checked + 1))
    [ "$want" = "$got" ] || wrong=$((wrong + 1))
  done
  # A scan with 1,000 more processes.
  SLEEPERS=""
  for _ in $(seq 1000); do sleep 600 & SLEEPERS="$SLEEPERS $!"; done
  sleep 7
  local scan procs
  scan=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^conntrack_exporter_scan_seconds / { printf "%.1f", $2 * 1000 }')
  procs=$(ls -d /proc/[0-9]* | wc -l)
  # shellcheck disable=SC2086
  kill $SLEEPERS 2>/dev/null; wait $SLEEPERS 2>/dev/null || true
  SLEEPERS=""
  kill -TERM "$EXP_PID"; wait "$EXP_PID" 2>/dev/null || true
  for i in $(seq "$oldest" $((next - 1))); do ip netns del "$prefix$i" 2>/dev/null || true; done
  results+=("| --all-netns: $n namespaces x $per entries, one created and one deleted a second for 30 s | - | scrape p50 / p99 $p50 / $p99 ms, CPU $cpu% of a core, $followed followed at start; after: $((checked - wrong)) / $checked namespaces exact | - |")
  results+=("| --all-netns: one namespace scan with $procs processes | - | $scan ms | - |")
  echo "churn: scrape $p50/$p99 ms, cpu $cpu%, exact $((checked - wrong))/$checked, scan $scan ms at $procs processes" >&2
}

# nat_bench: `ctctl nat` against `ctctl count --by state` on the same
# table, with 200,000 source-NATed entries (to 20 destinations) added to
# the N of $NS; REPS runs each, alternating; medians.
nat_bench() {
  awk 'BEGIN { for (i = 0; i < 200000; i++)
    printf "-I -p tcp -s 10.254.%d.%d -d 203.0.113.%d --sport %d --dport 443 --src-nat 192.0.2.1:%d --state ESTABLISHED -t 3600\n",
      int(i / 256) % 256, i % 256, 1 + i % 20, 1024 + int(i / 20) % 60000, 1024 + int(i / 20) % 60000 }' > "$WORK/snat"
  nsenter --net="$NSPATH" conntrack -R "$WORK/snat" 2>/dev/null || true
  local total
  total=$(nsenter --net="$NSPATH" conntrack -C)
  rm -f "$WORK/a" "$WORK/b"
  for _ in $(seq "$REPS"); do
    run a nsenter --net="$NSPATH" "$CTCTL" count --by state
    run b nsenter --net="$NSPATH" "$CTCTL" nat
  done
  local ta tb mb
  ta=$(col a 1); tb=$(col b 1); mb=$(col b 4)
  results+=("| nat vs count --by state ($total entries, 200k source-NATed) | - | nat $tb s ($(awk -v k="$mb" 'BEGIN { printf "%.1f MB", k / 1024 }')), count --by state $ta s | $(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.2fx of count", b / a }') |")
  echo "nat: $tb s vs count --by state $ta s" >&2
}
