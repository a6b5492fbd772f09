# Shared helpers for scripts/bench/*.sh (sourced, not run). Everything here stays on 127.0.0.0/8.

bench_die() { echo "error: $*" >&2; exit 1; }

# The Bench binary: $BENCH, else the release build in the scratch path the docs use, else .build/release.
bench_find_binary() {
    local root=$1
    if [ -n "${BENCH:-}" ]; then echo "$BENCH"; return; fi
    for candidate in "$root/.build-bench/release/Bench" "$root/.build/release/Bench"; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    bench_die "no Bench binary; run: swift build -c release --scratch-path .build-bench --product Bench (or set BENCH=)"
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something accepts connections on 127.0.0.1:$1, up to $2 seconds (default 30).
bench_wait_port() {
    local port=$1 deadline=$((SECONDS + ${2:-30}))
    while [ $SECONDS -lt $deadline ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# Writes a minimal mosquitto config for 127.0.0.1:$1 into $2 (see docs/bench-tool.md for why each line).
bench_mosquitto_config() {
    cat > "$2" <<CONF
listener $1 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_connections -1
max_inflight_messages ${MOSQUITTO_MAX_INFLIGHT:-1000}
max_queued_messages ${MOSQUITTO_MAX_QUEUED:-1000000}
max_queued_bytes 0
log_dest stderr
log_type error
log_type warning
CONF
}

# Starts mosquitto on port $1 with its config and log under directory $2; prints its pid.
bench_start_mosquitto() {
    local port=$1 dir=$2
    bench_mosquitto_config "$port" "$dir/mosquitto.conf"
    "${MOSQUITTO:-/usr/sbin/mosquitto}" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
    local pid=$!
    bench_wait_port "$port" 10 || { cat "$dir/mosquitto.log" >&2; bench_die "mosquitto did not listen on $port"; }
    echo "$pid"
}

# Starts the target broker from a command with {port} replaced; prints its pid (the command is exec'd, so the pid
# is the broker's own).
bench_start_target() {
    local cmd=$1 port=$2 log=$3
    cmd=${cmd//\{port\}/$port}
    bash -c "exec $cmd" >"$log" 2>&1 &
    local pid=$!
    bench_wait_port "$port" "${STARLING_START_TIMEOUT:-60}" || { tail -20 "$log" >&2; bench_die "target did not listen on $port"; }
    echo "$pid"
}

# Stops a process we started: TERM, then KILL after 5 s.
bench_stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# The pid listening on 127.0.0.1:$1 (for a target started by the caller).
bench_pid_on_port() {
    ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}

# VmRSS of pid $1 in bytes.
bench_rss_bytes() {
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# Median of the numbers on stdin (one per line); "-" when there are none.
bench_median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Runs Bench once and appends its RESULT line to $work/$broker.jsonl, printing a progress line to stderr.
#   bench_run_once <bench> <work> <broker> <run> <Bench arguments...>
bench_run_once() {
    local bench=$1 work=$2 broker=$3 run=$4
    shift 4
    local log="$work/$broker-$run.log" line
    if ! "$bench" "$@" >"$log" 2>&1; then
        echo "run $run on $broker failed:" >&2
        tail -5 "$log" >&2
    fi
    line=$(grep '^RESULT ' "$log" | tail -n 1 | cut -d' ' -f2-)
    if [ -n "$line" ]; then
        echo "$line" >>"$work/$broker.jsonl"
        echo "  run $run $broker: $(jq -r '"\(.msgs_per_sec) msg/s, p50 \(.latency_p50_us) us, p99 \(.latency_p99_us) us, lost \(.lost)"' <<<"$line") (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    fi
}

# The median of one field over a broker's results: bench_median_field <work> <broker> <field>
bench_median_field() {
    [ -s "$1/$2.jsonl" ] || { echo "-"; return; }
    jq -r ".$3" "$1/$2.jsonl" | bench_median
}

# a / b with two decimals, or "-" when either is missing or b is 0: bench_ratio <a> <b>
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
}

# How many results a broker has, and the largest loss among them: bench_count <work> <broker>, bench_max_lost ...
bench_count() { [ -s "$1/$2.jsonl" ] && wc -l <"$1/$2.jsonl" || echo 0; }
bench_max_lost() { [ -s "$1/$2.jsonl" ] && jq -s 'map(.lost) | max' "$1/$2.jsonl" || echo "-"; }

# One broker's row: "runs msgs/s p50 p99 lost", e.g. read -r count rate p50 p99 lost <<<"$(bench_stats "$work" "$b")"
bench_stats() {
    echo "$(bench_count "$1" "$2") $(bench_median_field "$1" "$2" msgs_per_sec)" \
        "$(bench_median_field "$1" "$2" latency_p50_us) $(bench_median_field "$1" "$2" latency_p99_us)" \
        "$(bench_max_lost "$1" "$2")"
}
