#!/usr/bin/env bash
# Measures broker resident memory per idle MQTT connection: VmRSS before, then with CONNS connections open (spread
# over several source addresses and Bench processes), for mosquitto and, when given, a second broker.
#
#   scripts/bench/conn-memory.sh            # 10,000 connections
#   CONNS=20000 PROCS=2 scripts/bench/conn-memory.sh
#
# Environment:
#   CONNS=10000            connections per broker
#   PROCS=<n>              Bench processes sharing them (default: one per 8,000; each process may hold 20,000 fds)
#   SOURCE_IPS=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4   local addresses the connections are spread over
#   RATE=2000              connections per second per process
#   HOLD=15                seconds each process holds its connections after its READY line
#   VERSION=3.1.1          MQTT version (3.1.1 or 5)
#   STARLING_CMD / STARLING_PORT (+ STARLING_PID) / TARGET_NAME / BENCH / MOSQUITTO / OUT: as in compare.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$root/scripts/bench/lib.sh"

conns=${CONNS:-10000}
procs=${PROCS:-$(((conns + 7999) / 8000))}
source_ips=${SOURCE_IPS:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4}
rate=${RATE:-2000}
hold=${HOLD:-15}
version=${VERSION:-3.1.1}
target_name=${TARGET_NAME:-starling}
bench=$(bench_find_binary "$root")
work=${OUT:-$(mktemp -d)}
mkdir -p "$work"

[ $((conns / procs)) -le 18000 ] || bench_die "CONNS/PROCS must stay under 18000 (fd cap 20000 per process)"
if [ "$(ulimit -n)" -lt $((conns + 100)) ]; then
    echo "warning: ulimit -n is $(ulimit -n); the broker may not accept $conns connections" >&2
fi

started_pids=()
cleanup() {
    for pid in "${started_pids[@]}"; do bench_stop "$pid"; done
    [ -n "${OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# measure <name> <port> <broker pid>: prints one markdown row.
measure() {
    local name=$1 port=$2 pid=$3
    sleep 1
    local before
    before=$(bench_rss_bytes "$pid")
    local per=$((conns / procs)) logs=() bench_pids=()
    for i in $(seq 0 $((procs - 1))); do
        local n=$per
        [ "$i" -lt $((conns % procs)) ] && n=$((n + 1))
        local log="$work/$name-conn-$i.log"
        logs+=("$log")
        # Rotate the source list so that the processes start on different addresses.
        local ips
        ips=$(tr ',' '\n' <<<"$source_ips" | awk -v s="$i" '{ a[NR-1] = $0 } END { for (k = 0; k < NR; k++) printf "%s%s", (k ? "," : ""), a[(k + s) % NR] }')
        "$bench" conn --host 127.0.0.1 --port "$port" --version "$version" --count "$n" --rate "$rate" \
            --duration "$hold" --settle 1 --source-ips "$ips" --client-prefix "mem$i" --json >"$log" 2>&1 &
        bench_pids+=($!)
    done
    # Wait (bounded) until every process reported READY.
    local deadline=$((SECONDS + conns / rate + 120)) ready=0
    while [ $SECONDS -lt $deadline ]; do
        ready=$(cat "${logs[@]}" 2>/dev/null | grep -c '^READY ' || true)
        [ "$ready" -ge "$procs" ] && break
        sleep 0.2
    done
    [ "$ready" -ge "$procs" ] || echo "warning: only $ready of $procs Bench processes got READY" >&2
    sleep 1
    local after
    after=$(bench_rss_bytes "$pid")
    local connected failed
    connected=$(cat "${logs[@]}" | sed -n 's/^READY connected=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    failed=$(cat "${logs[@]}" | sed -n 's/^READY .*failed=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    for bench_pid in "${bench_pids[@]}"; do wait "$bench_pid" || true; done
    local dropped rate_total
    dropped=$(cat "${logs[@]}" | grep '^RESULT ' | cut -d' ' -f2- | jq -s 'map(.dropped) | add')
    rate_total=$(cat "${logs[@]}" | grep '^RESULT ' | cut -d' ' -f2- | jq -s 'map(.connect_rate) | add')
    local per_conn
    per_conn=$(awk -v a="$after" -v b="$before" -v c="$connected" 'BEGIN { if (c > 0) printf "%.0f", (a - b) / c; else print "-" }')
    echo "| $name | $conns | $connected | $failed | $dropped | $rate_total | $((before / 1024)) | $((after / 1024)) | $per_conn |"
}

rows=()
mosquitto_port=$(bench_free_port)
mosquitto_pid=$(bench_start_mosquitto "$mosquitto_port" "$work")
started_pids+=("$mosquitto_pid")
rows+=("$(measure mosquitto "$mosquitto_port" "$mosquitto_pid")")
bench_stop "$mosquitto_pid"

if [ -n "${STARLING_CMD:-}" ]; then
    target_port=$(bench_free_port)
    target_pid=$(bench_start_target "$STARLING_CMD" "$target_port" "$work/target.log")
    started_pids+=("$target_pid")
    rows+=("$(measure "$target_name" "$target_port" "$target_pid")")
elif [ -n "${STARLING_PORT:-}" ]; then
    target_pid=${STARLING_PID:-$(bench_pid_on_port "$STARLING_PORT")}
    [ -n "$target_pid" ] || bench_die "set STARLING_PID: cannot find the process on port $STARLING_PORT"
    rows+=("$(measure "$target_name" "$STARLING_PORT" "$target_pid")")
fi

echo
echo "Idle connections: $conns over $procs Bench process(es), source addresses $source_ips, MQTT $version."
echo
echo "| broker | connections | connected | failed | dropped | connect/s | RSS before KiB | RSS connected KiB | bytes per connection |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
