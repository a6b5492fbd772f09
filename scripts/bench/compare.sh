#!/usr/bin/env bash
# Runs one Bench scenario against mosquitto and against a second broker, alternating, and prints a markdown table
# of medians (msgs/s, p50, p99) and the ratio target/mosquitto.
#
#   scripts/bench/compare.sh <scenario> [Bench options...]
#   scripts/bench/compare.sh pairs --count 10 --qos 1 --duration 10
#
# Environment:
#   RUNS=3                 runs per broker (mosquitto, target, mosquitto, target, ...); medians need >= 3
#   STARLING_CMD="..."     command that starts the target broker; {port} becomes a free port. Started once, killed
#                          at the end. Example: STARLING_CMD=".build/release/Node --bind 127.0.0.1 --mqtt-port {port}"
#   STARLING_PORT=<port>   or: a target already running on 127.0.0.1:<port> (left running)
#   TARGET_NAME=starling   the target's name in the table
#   BENCH=<path>           the Bench binary (default .build-bench/release/Bench, then .build/release/Bench)
#   MOSQUITTO=/usr/sbin/mosquitto, MOSQUITTO_MAX_INFLIGHT=1000, MOSQUITTO_MAX_QUEUED=1000000
#   PAUSE=1                seconds between runs
#   OUT=<dir>              keep the raw RESULT lines and logs here (default: a temp dir, removed)
# Without STARLING_CMD and STARLING_PORT only mosquitto runs (a baseline).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$root/scripts/bench/lib.sh"

[ $# -ge 1 ] || bench_die "usage: $0 <pairs|fanin|fanout> [Bench options...]"
scenario=$1
shift
case "$scenario" in pairs | fanin | fanout) ;; *) bench_die "scenario must be pairs, fanin or fanout" ;; esac
for arg in "$@"; do
    case "$arg" in --host* | --port* | --pub-host* | --pub-port* | --sub-host* | --sub-port*)
        bench_die "$arg is set by the script" ;;
    esac
done
command -v jq >/dev/null || bench_die "jq is required"

runs=${RUNS:-3}
pause=${PAUSE:-1}
target_name=${TARGET_NAME:-starling}
bench=$(bench_find_binary "$root")
work=${OUT:-$(mktemp -d)}
mkdir -p "$work"

mosquitto_pid=""
target_pid=""
cleanup() {
    bench_stop "$mosquitto_pid"
    bench_stop "$target_pid"
    [ -n "${OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

mosquitto_port=$(bench_free_port)
mosquitto_pid=$(bench_start_mosquitto "$mosquitto_port" "$work")

brokers=(mosquitto)
declare -A port=([mosquitto]=$mosquitto_port)
if [ -n "${STARLING_CMD:-}" ]; then
    port[$target_name]=$(bench_free_port)
    target_pid=$(bench_start_target "$STARLING_CMD" "${port[$target_name]}" "$work/target.log")
    brokers+=("$target_name")
elif [ -n "${STARLING_PORT:-}" ]; then
    port[$target_name]=$STARLING_PORT
    bench_wait_port "$STARLING_PORT" 5 || bench_die "nothing listens on 127.0.0.1:$STARLING_PORT"
    brokers+=("$target_name")
fi

echo "Bench $scenario $*  ($runs runs per broker, alternating)" >&2
for broker in "${brokers[@]}"; do : >"$work/$broker.jsonl"; done
for run in $(seq "$runs"); do
    for broker in "${brokers[@]}"; do
        bench_run_once "$bench" "$work" "$broker" "$run" "$scenario" --host 127.0.0.1 --port "${port[$broker]}" --json "$@"
        sleep "$pause"
    done
done

m_rate=$(bench_median_field "$work" mosquitto msgs_per_sec)
m_p50=$(bench_median_field "$work" mosquitto latency_p50_us)
m_p99=$(bench_median_field "$work" mosquitto latency_p99_us)

echo
echo "Scenario: \`Bench $scenario $*\`, $runs runs per broker, medians."
echo
echo "| broker | runs | msgs/s | p50 us | p99 us | lost (max) | msgs/s ratio | p50 ratio | p99 ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for broker in "${brokers[@]}"; do
    read -r count rate p50 p99 lost <<<"$(bench_stats "$work" "$broker")"
    echo "| $broker | $count | $rate | $p50 | $p99 | $lost | $(bench_ratio "$rate" "$m_rate") | $(bench_ratio "$p50" "$m_p50") | $(bench_ratio "$p99" "$m_p99") |"
done
echo
echo "Ratios are broker / mosquitto (above 1 is better for msgs/s, worse for latency)."
