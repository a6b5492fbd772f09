#!/usr/bin/env bash
# Cross-node throughput and latency: one Bench scenario against mosquitto, one standalone Node, and a 3-node
# Starling cluster with the publishers on node 1 and the subscribers on node 2 (sessions live on their HRW owners,
# replicated to a second node), alternating runs. Prints a markdown table of medians with the ratios
# cluster/single-node and each/mosquitto.
#
#   scripts/bench/cluster.sh <pairs|fanout|fanin> [Bench options...]
#   scripts/bench/cluster.sh pairs --count 10 --qos 1 --duration 10
#
# Environment: RUNS=3, PAUSE=1, NODE=<Node binary> (default .build-bench/release/Node), BENCH, MOSQUITTO, OUT=<dir>
# (keep raw results and logs), NODE_ARGS (extra flags for every Node).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$root/scripts/bench/lib.sh"

[ $# -ge 1 ] || bench_die "usage: $0 <pairs|fanin|fanout> [Bench options...]"
scenario=$1
shift
case "$scenario" in pairs | fanin | fanout) ;; *) bench_die "scenario must be pairs, fanin or fanout" ;; esac
command -v jq >/dev/null || bench_die "jq is required"

runs=${RUNS:-3}
pause=${PAUSE:-1}
bench=$(bench_find_binary "$root")
node=${NODE:-$root/.build-bench/release/Node}
[ -x "$node" ] || bench_die "no Node binary at $node; run: swift build -c release --scratch-path .build-bench --product Node"
work=${OUT:-$(mktemp -d)}
mkdir -p "$work"
cookie=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)

pids=()
cleanup() {
    for pid in "${pids[@]}"; do bench_stop "$pid"; done
    [ -n "${OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

mosquitto_port=$(bench_free_port)
pids+=("$(bench_start_mosquitto "$mosquitto_port" "$work")")

common="--bind 127.0.0.1 --ws-port 0 --sys-interval 0 ${NODE_ARGS:-}"
single_port=$(bench_free_port)
pids+=("$(bench_start_target "$node $common --name single@127.0.0.1 --mqtt-port {port}" "$single_port" "$work/single.log")")

declare -a mqtt cport
for i in 1 2 3; do
    mqtt[$i]=$(bench_free_port)
    cport[$i]=$(bench_free_port)
done
for i in 1 2 3; do
    pids+=("$(bench_start_target "$node $common --name n$i@127.0.0.1 --mqtt-port {port} --cluster-port ${cport[$i]} --cookie $cookie --seed 127.0.0.1:${cport[1]}" "${mqtt[$i]}" "$work/n$i.log")")
done
# The cluster is formed when node 1 has seen both others up.
deadline=$((SECONDS + 30))
until [ "$(grep -c 'cluster/status=up ' "$work/n1.log" || true)" -ge 2 ]; do
    [ $SECONDS -lt $deadline ] || bench_die "the cluster did not form; see $work/n1.log"
    sleep 0.2
done

brokers=(mosquitto single cluster)
declare -A where=(
    [mosquitto]="--host 127.0.0.1 --port $mosquitto_port"
    [single]="--host 127.0.0.1 --port $single_port"
    [cluster]="--pub-host 127.0.0.1 --pub-port ${mqtt[1]} --sub-host 127.0.0.1 --sub-port ${mqtt[2]}"
)

echo "Bench $scenario $*  ($runs runs per broker, alternating)" >&2
for broker in "${brokers[@]}"; do : >"$work/$broker.jsonl"; done
for run in $(seq "$runs"); do
    for broker in "${brokers[@]}"; do
        log="$work/$broker-$run.log"
        # shellcheck disable=SC2086
        if ! "$bench" "$scenario" ${where[$broker]} --json --client-prefix "b$run$broker" "$@" >"$log" 2>&1; then
            echo "run $run on $broker failed:" >&2
            tail -5 "$log" >&2
        fi
        line=$(grep '^RESULT ' "$log" | tail -n 1 | cut -d' ' -f2-)
        if [ -n "$line" ]; then
            echo "$line" >>"$work/$broker.jsonl"
            echo "  run $run $broker: $(jq -r '"\(.msgs_per_sec) msg/s, p50 \(.latency_p50_us) us, p99 \(.latency_p99_us) us, lost \(.lost)"' <<<"$line") (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        fi
        sleep "$pause"
    done
done

median_of() { # broker field
    [ -s "$work/$1.jsonl" ] || { echo "-"; return; }
    jq -r ".$2" "$work/$1.jsonl" | bench_median
}
ratio() { # numerator denominator
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
}

s_rate=$(median_of single msgs_per_sec)
s_p99=$(median_of single latency_p99_us)
m_rate=$(median_of mosquitto msgs_per_sec)

echo
echo "Scenario: \`Bench $scenario $*\`, $runs runs per broker, medians; cluster = publishers on node 1, subscribers on node 2."
echo
echo "| broker | runs | msgs/s | p50 us | p99 us | lost (max) | msgs/s vs single node | p99 vs single node | msgs/s vs mosquitto |"
echo "|---|---|---|---|---|---|---|---|---|"
for broker in "${brokers[@]}"; do
    count=$( [ -s "$work/$broker.jsonl" ] && wc -l <"$work/$broker.jsonl" || echo 0)
    rate=$(median_of "$broker" msgs_per_sec)
    p50=$(median_of "$broker" latency_p50_us)
    p99=$(median_of "$broker" latency_p99_us)
    lost=$( [ -s "$work/$broker.jsonl" ] && jq -s 'map(.lost) | max' "$work/$broker.jsonl" || echo "-")
    echo "| $broker | $count | $rate | $p50 | $p99 | $lost | $(ratio "$rate" "$s_rate") | $(ratio "$p99" "$s_p99") | $(ratio "$rate" "$m_rate") |"
done
