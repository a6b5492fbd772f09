#!/usr/bin/env bash
# The benchmark table of docs/benchmarks.md (issue 2): Starling's release Node against mosquitto 2.0, side by side,
# alternating runs, medians. Build first: swift build -c release --product Node --product Bench
#
#   scripts/bench/issue2.sh
#
# The Node gets the same queue limits as the mosquitto configuration compare.sh writes (max_inflight_messages 1000,
# max_queued_messages 1000000), so neither broker drops messages to look fast. QoS 1 runs drain for up to 10 s so a
# backlog at saturation is counted as delivered, not lost.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=${NODE_BIN:-$root/.build/release/Node}
export RUNS=${RUNS:-3}
export STARLING_CMD="$node --bind 127.0.0.1 --mqtt-port {port} --ws-port 0 --http-port 0 --sys-interval 0 --log-level warning --max-inflight 1000 --session-queue 1000000"
d=${DURATION:-10}
echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "#### Throughput, 64 B payloads, unlimited rate"
"$here/compare.sh" pairs --count 10 --qos 0 --duration "$d"
"$here/compare.sh" pairs --count 10 --qos 1 --duration "$d" --drain 10
echo
echo "#### Latency at half of mosquitto's maximum rate (set RATE_QOS0 / RATE_QOS1 per publisher from the rows above)"
"$here/compare.sh" pairs --count 10 --qos 0 --duration "$d" --rate "${RATE_QOS0:-5900}"
"$here/compare.sh" pairs --count 10 --qos 1 --duration "$d" --rate "${RATE_QOS1:-3000}" --drain 10
echo
echo "#### Idle connections"
"$here/conn-memory.sh"
echo
echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
