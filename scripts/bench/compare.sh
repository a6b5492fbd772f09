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
        log="$work/$broker-$run.log"
        if ! "$bench" "$scenario" --host 127.0.0.1 --port "${port[$broker]}" --json "$@" >"$log" 2>&1; then
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

m_rate=$(median_of mosquitto msgs_per_sec)
m_p50=$(median_of mosquitto latency_p50_us)
m_p99=$(median_of mosquitto latency_p99_us)

echo
echo "Scenario: \`Bench $scenario $*\`, $runs runs per broker, medians."
echo
echo "| broker | runs | msgs/s | p50 us | p99 us | lost (max) | msgs/s ratio | p50 ratio | p99 ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for broker in "${brokers[@]}"; do
    count=$( [ -s "$work/$broker.jsonl" ] && wc -l <"$work/$broker.jsonl" || echo 0)
    rate=$(median_of "$broker" msgs_per_sec)
    p50=$(median_of "$broker" latency_p50_us)
    p99=$(median_of "$broker" latency_p99_us)
    lost=$( [ -s "$work/$broker.jsonl" ] && jq -s 'map(.lost) | max' "$work/$broker.jsonl" || echo "-")
    echo "| $broker | $count | $rate | $p50 | $p99 | $lost | $(ratio "$rate" "$m_rate") | $(ratio "$p50" "$m_p50") | $(ratio "$p99" "$m_p99") |"
done
echo
echo "Ratios are broker / mosquitto (above 1 is better for msgs/s, worse for latency)."
