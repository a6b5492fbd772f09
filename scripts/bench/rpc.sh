#!/usr/bin/env bash
# Remote-call benchmark of the cluster transport (issue 3): each scenario RUNS times (default 3), side by side,
# and a markdown table of the medians. Loopback TLS only; every run is bounded in calls and in seconds.
#
#   swift build -c release --scratch-path .build-bench --product Bench
#   swift build -c release --scratch-path .build-bench --product ClusterProbeNode
#   scripts/bench/rpc.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
. "$root/scripts/bench/lib.sh"
bench=$(bench_find_binary "$root")
runs=${RUNS:-3}

scenarios=(
    "sequential|--mode sequential --calls 30000"
    "concurrent 64|--mode concurrent --callers 64 --calls 300000"
    "batch 100 msgs, 1 caller|--mode batch --callers 1 --calls 20000"
    "batch 100 msgs, 64 callers|--mode batch --callers 64 --calls 60000"
    "64 KiB arg, lz4 on, 64 callers|--mode large --callers 64 --calls 20000"
    "64 KiB arg, lz4 off, 64 callers|--mode large --callers 64 --calls 20000 --no-lz4"
)

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

echo "| scenario | calls/s | messages/s | MB/s | p50 µs | p99 µs |"
echo "|---|---:|---:|---:|---:|---:|"
for scenario in "${scenarios[@]}"; do
    name=${scenario%%|*}
    args=${scenario#*|}
    results=()
    for _ in $(seq "$runs"); do
        port=$(bench_free_port)
        # shellcheck disable=SC2086
        results+=("$("$bench" rpc $args --port "$port" --seconds 30 | grep '^RESULT ')")
    done
    med() { printf '%s\n' "${results[@]}" | field "$1" | median; }
    echo "| $name | $(med calls_per_s) | $(med messages_per_s) | $(med mb_per_s) | $(med p50_us) | $(med p99_us) |"
done
