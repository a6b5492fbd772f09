#!/usr/bin/env python3
"""Failover time of a Starling cluster: SIGKILL to the first message delivered to a reconnected client.

Per run: start 3 release Nodes; a persistent QoS 1 subscriber whose session is owned by node 2 (found with
`Node owner`) connects to node 2, as the gateway would send it; a publisher on node 1 publishes QoS 1 every 5 ms.
Then node 2 is SIGKILLed. The subscriber reconnects at once (no delay) to node 3, retrying while the cluster still
names the dead node as owner. The time from the SIGKILL to the first message on the new connection is the failover
time. Every message the publisher got PUBACK for must reach the subscriber (duplicates allowed).

    scripts/bench/failover.py [--runs 5] [--node .build-bench/release/Node]
"""
import argparse, os, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import paho.mqtt.client as mqtt

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def wait_log(path, text, count, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if f.read().count(text) >= count: return
        time.sleep(0.05)
    raise RuntimeError(f"{path}: {text!r} x{count} not seen in {timeout}s")

def v5_client(cid):
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)

def connect_persistent(client, port, timeout=5.0):
    """Connects (Clean Start 0, expiry 300); returns True once CONNACK is success."""
    props = mqtt.Properties(mqtt.PacketTypes.CONNECT); props.SessionExpiryInterval = 300
    result = {}
    done = threading.Event()
    def on_connect(c, u, flags, reason, p):
        result["ok"] = not reason.is_failure; result["reason"] = str(reason); done.set()
    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, clean_start=False, properties=props)
    except OSError:
        return False
    client.loop_start()
    ok = done.wait(timeout) and result.get("ok", False)
    if os.environ.get("FAILOVER_TRACE"):
        print(f"  {time.monotonic():.3f} connect to {port}: {result.get('reason', 'no CONNACK')}", file=sys.stderr)
    if not ok:
        client.loop_stop()
        try: client.disconnect()
        except Exception: pass
    return ok

def one_run(node_bin, run, workdir):
    cookie = "failover-bench-cookie-" + "x" * 30
    mqtt_ports = [free_port() for _ in range(3)]
    cluster_ports = [free_port() for _ in range(3)]
    names = [f"n{i + 1}@127.0.0.1" for i in range(3)]
    procs, logs = [], []
    for i in range(3):
        log = os.path.join(workdir, f"run{run}-n{i + 1}.log"); logs.append(log)
        procs.append(subprocess.Popen([node_bin, "--name", names[i], "--bind", "127.0.0.1", "--mqtt-port", str(mqtt_ports[i]),
            "--ws-port", "0", "--http-port", "0", "--sys-interval", "0", "--cluster-port", str(cluster_ports[i]), "--cookie", cookie, "--dev",
            "--seed", f"127.0.0.1:{cluster_ports[0]}"], stdout=open(log, "w"), stderr=subprocess.STDOUT))
    try:
        for log in logs: wait_log(log, "cluster/status=up ", 2, 30)
        owned = None
        for k in range(1000):
            cid = f"fo-{run}-{k}"
            owners = subprocess.run([node_bin, "owner"] + sum([["--node", n] for n in names], []) + [cid],
                                    capture_output=True, text=True, check=True).stdout.split()
            if owners[0] == names[1]: owned = cid; break
        received, first_after = set(), {}
        lock = threading.Lock()
        def on_message(c, u, m):
            with lock:
                received.add(int(m.payload))
                if "t" in first_after and "first" not in first_after and getattr(c, "_failover", False):
                    first_after["first"] = time.monotonic()
        sub = v5_client(owned); sub.on_message = on_message
        assert connect_persistent(sub, mqtt_ports[1]), "subscriber did not connect"
        sub.subscribe("fo/t", qos=1); time.sleep(0.3)
        pub = v5_client(f"fo-pub-{run}")
        acked, sent = set(), {}
        pub.on_publish = lambda c, u, mid, rc, p: acked.add(sent[mid]) if (mid in sent and not rc.is_failure) else None
        pub.connect("127.0.0.1", mqtt_ports[0]); pub.loop_start()
        stop = threading.Event()
        def publish_loop():
            n = 0
            while not stop.is_set() and n < 4000:
                info = pub.publish("fo/t", str(n), qos=1); sent[info.mid] = n; n += 1
                time.sleep(0.005)
        publisher = threading.Thread(target=publish_loop); publisher.start()
        time.sleep(1.0)
        first_after["t"] = time.monotonic()
        procs[1].send_signal(signal.SIGKILL)
        sub.loop_stop()
        attempts = 0
        while True:
            attempts += 1
            again = v5_client(owned); again.on_message = on_message; again._failover = True
            if connect_persistent(again, mqtt_ports[2]): break
            if time.monotonic() - first_after["t"] > 20: raise RuntimeError("no reconnect within 20 s")
        deadline = time.monotonic() + 10
        while "first" not in first_after and time.monotonic() < deadline: time.sleep(0.001)
        time.sleep(1.0)
        stop.set(); publisher.join()
        time.sleep(2.0)
        missing = sorted(acked - received)
        return (first_after.get("first", float("nan")) - first_after["t"], attempts, len(acked), len(missing))
    finally:
        for p in procs:
            if p.poll() is None: p.kill()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--node", default=os.path.join(os.path.dirname(__file__), "../../.build-bench/release/Node"))
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="starling-failover-")
    results = []
    for run in range(args.runs):
        seconds, attempts, acked, missing = one_run(args.node, run, workdir)
        results.append((seconds, missing))
        print(f"run {run}: failover {seconds * 1000:.0f} ms, {attempts} connect attempts, {acked} PUBACKed, {missing} lost",
              file=sys.stderr)
    times = [r[0] for r in results]
    print(f"\n| runs | failover median ms | min ms | max ms | PUBACKed messages lost |")
    print(f"|---|---|---|---|---|")
    print(f"| {len(times)} | {statistics.median(times) * 1000:.0f} | {min(times) * 1000:.0f} | {max(times) * 1000:.0f} | {sum(r[1] for r in results)} |")
    sys.exit(1 if any(r[1] for r in results) else 0)

if __name__ == "__main__":
    main()
