#!/usr/bin/env bash
# The gateway against HAProxy 2.6 in front of the same Starling nodes, in the same run, alternating: the clients
# connect directly to the nodes, through `Gateway`, or through HAProxy configured as the EMQX template does it (TCP
# mode, `tcp-request inspect-delay`, a stick table on the CONNECT's client identifier, weights, HTTP checks on
# /api/v5/status). Prints a markdown table of medians.
#
#   scripts/bench/gateway.sh pairs --count 10 --qos 1 --duration 10
#   scripts/bench/gateway.sh conn --count 4000 --rate 0 --duration 2
#
# TOPOLOGY=cluster (default): 3 nodes with weights 5/2/3; pairs get client IDs whose sessions live on node 1
#   (publishers) and node 2 (subscribers), and "direct" connects them there; the gateway sends them to the same
#   nodes by itself, HAProxy wherever its weighted round robin and stick table put them.
# TOPOLOGY=single: one node behind each proxy: the cost of the proxy alone.
# Environment: RUNS=3, PAUSE=1, NODE, GATEWAY (binaries, default .build-bench/release/…), BENCH, HAPROXY, OUT=<dir>,
# NODE_ARGS (extra flags for every node, e.g. "--session-queue 1000000 --max-inflight 1000").
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$root/scripts/bench/lib.sh"

[ $# -ge 1 ] || bench_die "usage: $0 <pairs|conn> [Bench options...]"
scenario=$1
shift
case "$scenario" in pairs | conn) ;; *) bench_die "scenario must be pairs or conn" ;; esac
command -v jq >/dev/null || bench_die "jq is required"
haproxy=${HAPROXY:-$(command -v haproxy || true)}
[ -x "$haproxy" ] || bench_die "haproxy is required (apt-get install -y haproxy)"

runs=${RUNS:-3}
pause=${PAUSE:-1}
topology=${TOPOLOGY:-cluster}
bench=$(bench_find_binary "$root")
node=${NODE:-$root/.build-bench/release/Node}
gateway=${GATEWAY:-$root/.build-bench/release/Gateway}
for binary in "$node" "$gateway"; do
    [ -x "$binary" ] || bench_die "no binary at $binary; run: swift build -c release --scratch-path .build-bench"
done
work=${OUT:-$(mktemp -d)}
mkdir -p "$work"
cookie=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)

pids=()
cleanup() {
    for pid in "${pids[@]}"; do bench_stop "$pid"; done
    [ -n "${OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

case "$topology" in
cluster) count=3; weights=(0 5 2 3) ;;
single) count=1; weights=(0 1) ;;
*) bench_die "TOPOLOGY must be cluster or single" ;;
esac

declare -a mqtt http cport
for i in $(seq "$count"); do
    mqtt[$i]=$(bench_free_port)
    http[$i]=$(bench_free_port)
    cport[$i]=$(bench_free_port)
done
common="--bind 127.0.0.1 --ws-port 0 --sys-interval 0 --log-level warning ${NODE_ARGS:-}"
for i in $(seq "$count"); do
    cluster_flags=""
    [ "$count" -gt 1 ] && cluster_flags="--cluster-port ${cport[$i]} --cookie $cookie --dev --seed 127.0.0.1:${cport[1]}"
    pids+=("$(bench_start_target "$node $common --name n$i@127.0.0.1 --mqtt-port {port} --http-port ${http[$i]} --weight ${weights[$i]} $cluster_flags" "${mqtt[$i]}" "$work/n$i.log")")
done
if [ "$count" -gt 1 ]; then
    deadline=$((SECONDS + 30))
    # Every node answers 200 once it is up in the cluster and sees the majority.
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${http[2]}/api/v5/status")" = 200 ] \
        && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${http[3]}/api/v5/status")" = 200 ]; do
        [ $SECONDS -lt $deadline ] || bench_die "the cluster did not form; see $work/n*.log"
        sleep 0.2
    done
fi

# Our gateway: a member of the cluster (or, for one node, a static backend); no per-IP rate limit, no cap.
gw_port=$(bench_free_port)
gw_flags="--bind 127.0.0.1 --mqtt-port {port} --log-level warning --max-connections 0 --conn-rate-per-ip 0"
if [ "$count" -gt 1 ]; then
    gw_flags="$gw_flags --name gw@127.0.0.1 --cluster-port $(bench_free_port) --cookie $cookie --seed 127.0.0.1:${cport[1]}"
else
    gw_flags="$gw_flags --backend n1@127.0.0.1=127.0.0.1:${mqtt[1]}:0:${http[1]}:1"
fi
pids+=("$(bench_start_target "$gateway $gw_flags" "$gw_port" "$work/gateway.log")")

# HAProxy as in the template: TCP, wait for the CONNECT, stick on its client identifier (32 characters).
ha_port=$(bench_free_port)
{
    cat <<CONF
global
    maxconn 9000
    log stderr format raw local0 warning
defaults
    mode tcp
    log global
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend mqtt
    bind 127.0.0.1:$ha_port
    tcp-request inspect-delay 10s
    tcp-request content reject unless { req.payload(0,0),mqtt_is_valid }
    tcp-request content accept if { req.len ge 1 }
    default_backend nodes
backend nodes
    balance roundrobin
    stick-table type string len 32 size 1000k expire 30m
    stick on req.payload(0,0),mqtt_field_value(connect,client_identifier)
    option httpchk GET /api/v5/status
CONF
    for i in $(seq "$count"); do
        echo "    server n$i 127.0.0.1:${mqtt[$i]} weight ${weights[$i]} check port ${http[$i]} inter 2s rise 2 fall 3"
    done
} >"$work/haproxy.cfg"
"$haproxy" -c -f "$work/haproxy.cfg" >/dev/null || bench_die "haproxy rejected $work/haproxy.cfg"
"$haproxy" -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=("$!")
bench_wait_port "$ha_port" 10 || bench_die "haproxy did not listen; see $work/haproxy.log"
bench_wait_port "$gw_port" 10 || bench_die "the gateway did not listen; see $work/gateway.log"
# Both proxies see every node healthy before the first run (the gateway logs each backend it learns).
sleep 3

targets=(direct gateway haproxy)
declare -A where
if [ "$scenario" = pairs ] && [ "$count" -gt 1 ]; then
    placement="--cluster-nodes n1@127.0.0.1:5,n2@127.0.0.1:2,n3@127.0.0.1:3 --pub-owner n1@127.0.0.1 --sub-owner n2@127.0.0.1"
    where[direct]="--pub-host 127.0.0.1 --pub-port ${mqtt[1]} --sub-host 127.0.0.1 --sub-port ${mqtt[2]} $placement"
else
    placement=""
    where[direct]="--host 127.0.0.1 --port ${mqtt[1]}"
fi
where[gateway]="--host 127.0.0.1 --port $gw_port $placement"
where[haproxy]="--host 127.0.0.1 --port $ha_port $placement"

echo "Bench $scenario $*  (TOPOLOGY=$topology, $runs runs per target, alternating)" >&2
for target in "${targets[@]}"; do : >"$work/$target.jsonl"; done
for run in $(seq "$runs"); do
    for target in "${targets[@]}"; do
        if [ "$scenario" = conn ]; then
            log="$work/$target-$run.log"
            # shellcheck disable=SC2086
            "$bench" conn ${where[$target]} --json --client-prefix "c$run$target" "$@" >"$log" 2>&1 || tail -3 "$log" >&2
            line=$(grep '^RESULT ' "$log" | tail -n 1 | cut -d' ' -f2-)
            [ -n "$line" ] && echo "$line" >>"$work/$target.jsonl" \
                && echo "  run $run $target: $(jq -r '"\(.connect_rate)/s, failed \(.failed)"' <<<"$line")" >&2
        else
            # shellcheck disable=SC2086
            bench_run_once "$bench" "$work" "$target" "$run" "$scenario" ${where[$target]} --json --client-prefix "b$run$target" "$@"
        fi
        sleep "$pause"
    done
done

echo
echo "Scenario: \`Bench $scenario $*\`, TOPOLOGY=$topology, $runs runs per target, medians."
echo
if [ "$scenario" = conn ]; then
    h_rate=$(bench_median_field "$work" haproxy connect_rate)
    echo "| target | runs | connections/s | failed (max) | connections/s vs HAProxy |"
    echo "|---|---|---|---|---|"
    for target in "${targets[@]}"; do
        rate=$(bench_median_field "$work" "$target" connect_rate)
        failed=$([ -s "$work/$target.jsonl" ] && jq -s 'map(.failed) | max' "$work/$target.jsonl" || echo -)
        echo "| $target | $(bench_count "$work" "$target") | $rate | $failed | $(bench_ratio "$rate" "$h_rate") |"
    done
    exit 0
fi
d_p50=$(bench_median_field "$work" direct latency_p50_us)
d_p99=$(bench_median_field "$work" direct latency_p99_us)
h_rate=$(bench_median_field "$work" haproxy msgs_per_sec)
h_added=$(awk -v a="$(bench_median_field "$work" haproxy latency_p99_us)" -v b="$d_p99" 'BEGIN { printf "%.1f", a - b }')
echo "| target | runs | msgs/s | p50 us | p99 us | lost (max) | added p50 us | added p99 us | msgs/s vs HAProxy | added p99 vs HAProxy's |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for target in "${targets[@]}"; do
    read -r runs_done rate p50 p99 lost <<<"$(bench_stats "$work" "$target")"
    added50=$(awk -v a="$p50" -v b="$d_p50" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", a - b }')
    added99=$(awk -v a="$p99" -v b="$d_p99" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", a - b }')
    echo "| $target | $runs_done | $rate | $p50 | $p99 | $lost | $added50 | $added99 | $(bench_ratio "$rate" "$h_rate") | $(bench_ratio "$added99" "$h_added") |"
done
