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
# (keep raw results and logs), NODE_ARGS (extra flags for every Node), PLACEMENT=owner (default: each client's
# session lives on the node it connects to, as behind the gateway) or any.
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

common="--bind 127.0.0.1 --ws-port 0 --http-port 0 --sys-interval 0 ${NODE_ARGS:-}"
single_port=$(bench_free_port)
pids+=("$(bench_start_target "$node $common --name single@127.0.0.1 --mqtt-port {port}" "$single_port" "$work/single.log")")

declare -a mqtt cport
for i in 1 2 3; do
    mqtt[$i]=$(bench_free_port)
    cport[$i]=$(bench_free_port)
done
for i in 1 2 3; do
    pids+=("$(bench_start_target "$node $common --name n$i@127.0.0.1 --mqtt-port {port} --cluster-port ${cport[$i]} --cookie $cookie --dev --seed 127.0.0.1:${cport[1]}" "${mqtt[$i]}" "$work/n$i.log")")
done
# The cluster is formed when node 1 has seen both others up.
deadline=$((SECONDS + 30))
until [ "$(grep -c 'cluster/status=up ' "$work/n1.log" || true)" -ge 2 ]; do
    [ $SECONDS -lt $deadline ] || bench_die "the cluster did not form; see $work/n1.log"
    sleep 0.2
done

# Clients get IDs whose sessions live on the node they connect to, as the gateway would place them
# (PLACEMENT=any: plain IDs, so about two thirds of the subscribers talk to a session on another node).
placement=""
if [ "${PLACEMENT:-owner}" = owner ]; then
    placement="--cluster-nodes n1@127.0.0.1,n2@127.0.0.1,n3@127.0.0.1 --pub-owner n1@127.0.0.1 --sub-owner n2@127.0.0.1"
fi

brokers=(mosquitto single cluster)
declare -A where=(
    [mosquitto]="--host 127.0.0.1 --port $mosquitto_port"
    [single]="--host 127.0.0.1 --port $single_port"
    [cluster]="--pub-host 127.0.0.1 --pub-port ${mqtt[1]} --sub-host 127.0.0.1 --sub-port ${mqtt[2]} $placement"
)

echo "Bench $scenario $*  ($runs runs per broker, alternating)" >&2
for broker in "${brokers[@]}"; do : >"$work/$broker.jsonl"; done
for run in $(seq "$runs"); do
    for broker in "${brokers[@]}"; do
        # shellcheck disable=SC2086
        bench_run_once "$bench" "$work" "$broker" "$run" "$scenario" ${where[$broker]} --json --client-prefix "b$run$broker" "$@"
        sleep "$pause"
    done
done

s_rate=$(bench_median_field "$work" single msgs_per_sec)
s_p99=$(bench_median_field "$work" single latency_p99_us)
m_rate=$(bench_median_field "$work" mosquitto msgs_per_sec)

echo
echo "Scenario: \`Bench $scenario $*\`, $runs runs per broker, medians; cluster = publishers on node 1, subscribers on node 2."
echo
echo "| broker | runs | msgs/s | p50 us | p99 us | lost (max) | msgs/s vs single node | p99 vs single node | msgs/s vs mosquitto |"
echo "|---|---|---|---|---|---|---|---|---|"
for broker in "${brokers[@]}"; do
    read -r count rate p50 p99 lost <<<"$(bench_stats "$work" "$broker")"
    echo "| $broker | $count | $rate | $p50 | $p99 | $lost | $(bench_ratio "$rate" "$s_rate") | $(bench_ratio "$p99" "$s_p99") | $(bench_ratio "$rate" "$m_rate") |"
done
