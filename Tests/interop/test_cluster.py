"""A 3-node Starling cluster driven by clients nobody here wrote: mosquitto_pub/mosquitto_sub and paho-mqtt.

- messages published on one node reach mosquitto_sub on another, MQTT 3.1.1 and 5, QoS 0/1/2;
- a retained message set through one node is delivered by another;
- a paho client with a persistent session survives the SIGKILL of the node it was connected to (and that owned
  its session): it reconnects to another node, finds its session, and receives every message PUBACKed meanwhile.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import free_ports
from paho_util import PacketTypes, PahoClient, V5, props
from test_mosquitto_cli import pub, subs  # noqa: F401 (subs is a fixture)

COOKIE = "interop-cluster-cookie-" + "x" * 24


def wait_log(node, text: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while node.log_text().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} x{count} not in the log within {timeout}s:\n{node.log_text()[-3000:]}"
        time.sleep(0.05)  # polling interval of a bounded wait on the node's log


@pytest.fixture
def cluster(start_node):
    """Three nodes n1..n3 on free ports, joined through n1; returns them once each has seen the other two up. A
    cluster port taken between choosing it and binding it (another process's listener) is chosen again."""
    nodes, seed = [], None
    for i in range(3):
        for attempt in range(5):
            port = free_ports(1)[0]
            seed = seed if i > 0 else port
            try:
                nodes.append(start_node("--name", f"n{i + 1}@127.0.0.1", "--cluster-port", str(port), "--dev", "--cookie",
                                        COOKIE, "--seed", f"127.0.0.1:{seed}", log_level="info"))
                break
            except RuntimeError as error:
                if "Address already in use" not in str(error) or attempt == 4:
                    raise
    for n in nodes:
        wait_log(n, "cluster/status=up ", 2)
    return nodes


def owner_of(client_id: str, names: list[str]) -> str:
    """The node that owns the client's session, by the cluster's own ownership function (`Node owner`)."""
    from conftest import NODE_BIN
    out = subprocess.run([NODE_BIN, "owner", *sum([["--node", n] for n in names], []), client_id],
                         capture_output=True, text=True, check=True, timeout=10).stdout.split()
    return out[0]


@pytest.mark.parametrize("proto", ["mqttv311", "mqttv5"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_across_nodes(cluster, subs, topic, proto, qos):
    n1, n2, n3 = cluster
    s = subs(n2, "-V", proto, "-q", str(qos), "-t", f"{topic}/#", "-C", "2")
    s.wait_for("received SUBACK")
    pub(n1, "-V", proto, "-q", str(qos), "-t", f"{topic}/a", "-m", "from n1")
    pub(n3, "-V", proto, "-q", str(qos), "-t", f"{topic}/b", "-m", "from n3")
    assert s.messages(2) == [(f"{topic}/a", qos, 0, "from n1"), (f"{topic}/b", qos, 0, "from n3")]
    assert s.wait_exit() == 0


def test_retained_across_nodes(cluster, subs, topic):
    n1, _, n3 = cluster
    pub(n1, "-q", "1", "-r", "-t", f"{topic}/r", "-m", "kept")
    s = subs(n3, "-q", "1", "-t", f"{topic}/r", "-C", "1")
    assert s.messages(1) == [(f"{topic}/r", 1, 1, "kept")]
    assert s.wait_exit() == 0


def test_paho_session_survives_node_kill(cluster, topic):
    names = [f"n{i + 1}@127.0.0.1" for i in range(3)]
    # A client whose session lives on n3, connected to n3, as the gateway would place it.
    client_id = next(f"paho-{k}" for k in range(1000) if owner_of(f"paho-{k}", names) == names[2])
    n1, n2, n3 = cluster
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=300)
    sub = PahoClient(n3.host, n3.mqtt_port, client_id, V5, clean=False)
    sub.connect(clean_start=False, properties=expiry)
    assert sub.subscribe(f"{topic}/t", qos=1) == [1]
    # The publisher's own session lives on n1, where it connects (one on n3 would be closed with 0x9C).
    publisher_id = next(f"paho-pub-{k}" for k in range(1000) if owner_of(f"paho-pub-{k}", names) == names[0])
    publisher = PahoClient(n1.host, n1.mqtt_port, publisher_id, V5)
    publisher.connect()
    for i in range(5):
        assert publisher.publish(f"{topic}/t", f"before-{i}", qos=1, timeout=10) == 0
    assert [m.payload.decode() for m in sub.get_n(5)] == [f"before-{i}" for i in range(5)]

    n3.proc.kill()  # SIGKILL the node with the session and the connection
    n3.proc.wait(5)
    n3.stopped = True
    for i in range(5):  # accepted once the session's replica has taken over (PUBACK waits for it)
        assert publisher.publish(f"{topic}/t", f"during-{i}", qos=1, timeout=15) == 0

    again = PahoClient(n2.host, n2.mqtt_port, client_id, V5, clean=False)
    deadline = time.monotonic() + 15
    while True:  # the survivors may still name n3 as the owner for a moment (CONNACK 0x88): retry, bounded
        ack = again.connect(clean_start=False, properties=expiry, expect_success=False)
        if ack.reason_code == 0:
            break
        assert time.monotonic() < deadline, f"no successful reconnect: {ack}"
        again.c.loop_stop()
        again = PahoClient(n2.host, n2.mqtt_port, client_id, V5, clean=False)
    assert ack.session_present
    wanted = {f"during-{i}" for i in range(5)}
    got: set[str] = set()
    deadline = time.monotonic() + 10
    while not wanted <= got:  # duplicates of earlier messages may come first (at least once)
        assert time.monotonic() < deadline, f"missing {sorted(wanted - got)}; got {sorted(got)}"
        got.add(again.get(timeout=max(deadline - time.monotonic(), 0.01)).payload.decode())
    again.c.disconnect()
    publisher.c.disconnect()
