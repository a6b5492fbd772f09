#!/usr/bin/env bash
# The standard benchmark suite behind the tables in docs/bench-tool.md: every scenario through compare.sh (against
# mosquitto, and against STARLING_CMD / STARLING_PORT when set), then conn-memory.sh. Markdown goes to stdout.
#
#   scripts/bench/baseline.sh                     # mosquitto only
#   STARLING_CMD=".build/release/Node --bind 127.0.0.1 --mqtt-port {port}" scripts/bench/baseline.sh
#
# Environment: RUNS (default 3), DURATION (seconds per run, default 10), OUT (keep raw results, one folder per
# scenario), plus everything compare.sh and conn-memory.sh read. Takes about RUNS x DURATION x 9 x (number of brokers) seconds, plus the connection test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${DURATION:-10}

suite=(
    "pairs --count 1 --qos 0"
    "pairs --count 10 --qos 0 --rate 5000"
    "pairs --count 10 --qos 1"
    "pairs --count 10 --qos 1 --rate 2000"
    "pairs --count 10 --qos 2 --rate 1000"
    "fanin --count 50 --qos 1 --rate 500"
    "fanout --count 100 --qos 0 --rate 200"
    "fanout --count 100 --qos 1 --rate 200"
    "pairs --count 10 --qos 1 --rate 2000 --version 5"
)
echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
index=0
for scenario in "${suite[@]}"; do
    index=$((index + 1))
    # With OUT set, each scenario keeps its raw results in its own folder.
    # shellcheck disable=SC2086
    OUT=${OUT:+$OUT/$index} "$here/compare.sh" $scenario --duration "$d"
done
OUT=${OUT:+$OUT/conn} "$here/conn-memory.sh"
echo
echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
