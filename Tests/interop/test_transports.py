"""MQTT over WebSocket (path /mqtt) and over TLS, with paho-mqtt and mosquitto_pub."""

import select
import socket
import ssl
import struct
import subprocess
import time

import pytest

import mqtt_raw as r
from paho_util import V3, V5, PahoClient
from ws_raw import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, WSClient

VERSIONS = [pytest.param(V3, id="v311"), pytest.param(V5, id="v5")]


@pytest.mark.parametrize("version", VERSIONS)
def test_websocket_pubsub(node, clients, topic, version):
    ws_sub = clients(node, version=version, port=node.ws_port, transport="websockets")
    ws_sub.connect()
    assert ws_sub.subscribe(f"{topic}/#", 2) == [2]
    tcp_sub = clients(node, version=version)
    tcp_sub.connect()
    tcp_sub.subscribe(f"{topic}/#", 2)
    ws_pub = clients(node, version=version, port=node.ws_port, transport="websockets")
    ws_pub.connect()
    big = bytes(range(256)) * 300  # 76.8 KB: spans several WebSocket frames / TCP segments
    for qos in (0, 1, 2):
        ws_pub.publish(f"{topic}/q{qos}", big + bytes([qos]), qos=qos)
    for sub in (ws_sub, tcp_sub):
        got = sub.get_n(3)
        assert [(m.topic, m.payload, m.qos) for m in got] == [
            (f"{topic}/q{q}", big + bytes([q]), q) for q in (0, 1, 2)]
    # TCP -> WebSocket direction
    tcp_sub.publish(f"{topic}/from-tcp", b"hello ws", qos=1)
    assert ws_sub.get().payload == b"hello ws"


def test_websocket_will_on_drop(node, clients, topic):
    w = clients(node)
    w.connect()
    w.subscribe(f"{topic}/will", 1)
    ws = clients(node, port=node.ws_port, transport="websockets")
    ws.c.will_set(f"{topic}/will", b"ws-gone", qos=1)
    ws.connect()
    ws.drop()
    assert w.get().payload == b"ws-gone"


@pytest.mark.parametrize("version", VERSIONS)
def test_tls_pubsub(tls_node, clients, topic, version):
    sub = clients(tls_node, version=version, port=tls_node.mqtts_port, tls_ca=tls_node.ca_path)
    sub.connect()
    assert sub.subscribe(f"{topic}/#", 1) == [1]
    pub = clients(tls_node, version=version, port=tls_node.mqtts_port, tls_ca=tls_node.ca_path)
    pub.connect()
    payload = bytes(range(256)) * 100
    assert pub.publish(f"{topic}/tls", payload, qos=1) == 0
    m = sub.get()
    assert (m.topic, m.payload, m.qos) == (f"{topic}/tls", payload, 1)
    # Plain TCP clients on the same node see TLS clients' messages.
    plain = clients(tls_node, version=version)
    plain.connect()
    plain.subscribe(f"{topic}/#", 1)
    pub.publish(f"{topic}/tls2", b"to plain", qos=1)
    assert plain.get().payload == b"to plain"


def test_tls_rejects_untrusted_client_side(tls_node, tmp_path):
    """Sanity check of the test setup: a client that does not trust our CA fails the handshake."""
    from conftest import make_tls_material
    other_ca, _, _ = make_tls_material(tmp_path / "other")
    c = PahoClient(tls_node.host, tls_node.mqtts_port, "untrusting", V5, tls_ca=other_ca)
    with pytest.raises(ssl.SSLError):
        c.c.connect(tls_node.host, tls_node.mqtts_port)


def test_tls_mosquitto_pub_sub(tls_node, clients, topic):
    sub = clients(tls_node)
    sub.connect()
    sub.subscribe(topic, 1)
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls_node.mqtts_port), "--cafile",
                        tls_node.ca_path, "-t", topic, "-m", "via mosquitto_pub tls", "-q", "1", "-V", "mqttv5"],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    m = sub.get()
    assert (m.payload, m.qos) == (b"via mosquitto_pub tls", 1)


def test_plain_mqtt_on_tls_port_is_closed(tls_node, clients, topic):
    from mqtt_raw import connect
    s = socket.create_connection((tls_node.host, tls_node.mqtts_port), timeout=3)
    s.sendall(connect("plain-on-tls", version=4))
    data, deadline = b"", time.monotonic() + 3
    while time.monotonic() < deadline:
        chunk = s.recv(4096)  # bounded by the socket timeout
        if not chunk:
            break
        data += chunk
    else:
        pytest.fail("TLS port kept a plaintext MQTT connection open")
    assert not data.startswith(b"\x20"), "plaintext CONNACK on the TLS port"
    s.close()
    # and the node still serves TLS clients
    c = clients(tls_node, port=tls_node.mqtts_port, tls_ca=tls_node.ca_path)
    c.connect()


def test_tls_pem_key_named_dot_key(start_node, clients, topic):
    """`--tls-key server.key` holding a PEM key (the usual openssl/mosquitto naming) must work."""
    n = start_node(tls="server.key")
    c = clients(n, port=n.mqtts_port, tls_ca=n.ca_path)
    c.connect()


# ---------------------------------------------------------------------------------------------------------------
# Mutual TLS


def test_mtls_client_certificate_required(start_node, clients, topic):
    n = start_node(tls=True, mtls=True)
    tls_dir = n.ca_path.rsplit("/", 1)[0]
    good = clients(n, port=n.mqtts_port, tls_ca=n.ca_path, tls_cert=f"{tls_dir}/client.pem",
                   tls_key=f"{tls_dir}/client-key.pem")
    good.connect()
    good.subscribe(topic, 1)
    good.publish(topic, b"mutual", qos=1)
    assert good.get().payload == b"mutual"
    anonymous_tls = PahoClient(n.host, n.mqtts_port, "no-cert", V5, tls_ca=n.ca_path)
    try:
        # TLS 1.3: the server's rejection arrives after the client-side handshake "succeeded", so the failure shows
        # either as an SSL error here or as the connection dropping before CONNACK.
        with pytest.raises((ssl.SSLError, ConnectionError, AssertionError)):
            anonymous_tls.connect(timeout=3)
    finally:
        anonymous_tls.close()


# ---------------------------------------------------------------------------------------------------------------
# Connect timeout on the WebSocket and TLS listeners (the `node`/`tls_node` fixtures use --connect-timeout 1)


def _closed_within(sock: socket.socket, timeout: float) -> float | None:
    """Seconds until the peer closed `sock` (reading and discarding anything it sends), or None."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            return None
        try:
            if not sock.recv(4096):
                return time.monotonic() - start
        except (ConnectionResetError, ConnectionAbortedError):
            return time.monotonic() - start


@pytest.mark.parametrize("sent", [pytest.param(b"", id="silent"),
                                  pytest.param(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n", id="partial-http")])
def test_ws_port_connect_timeout_before_upgrade(node, sent):
    s = socket.create_connection((node.host, node.ws_port), timeout=3)
    s.sendall(sent)
    elapsed = _closed_within(s, 3.0)
    s.close()
    assert elapsed is not None, "WebSocket listener kept a connection without a (complete) upgrade open for 3s " \
                                "despite --connect-timeout 1"
    assert elapsed <= 2.5


def test_ws_connect_timeout_after_upgrade(node):
    ws = WSClient(node.host, node.ws_port)
    assert ws.status == 101
    elapsed = _closed_within(ws.sock, 4)
    assert elapsed is not None and 0.8 <= elapsed <= 2.5, elapsed


def test_tls_port_connect_timeout_before_handshake(tls_node):
    s = socket.create_connection((tls_node.host, tls_node.mqtts_port), timeout=3)
    elapsed = _closed_within(s, 3.0)
    s.close()
    assert elapsed is not None, "TLS listener kept a connection that never started the TLS handshake open for 3s " \
                                "despite --connect-timeout 1"
    assert elapsed <= 2.5


def test_tls_connect_timeout_after_handshake(tls_node):
    ctx = ssl.create_default_context(cafile=tls_node.ca_path)
    raw = socket.create_connection((tls_node.host, tls_node.mqtts_port), timeout=3)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    elapsed = _closed_within(s, 3.0)
    s.close()
    assert elapsed is not None and 0.8 <= elapsed <= 2.5, elapsed


# ---------------------------------------------------------------------------------------------------------------
# WebSocket framing (hand-built frames)


def test_ws_handshake_and_subprotocol(node):
    ws = WSClient(node.host, node.ws_port, protocols="mqtt")
    assert ws.status == 101 and ws.headers.get("sec-websocket-protocol") == "mqtt"
    ws31 = WSClient(node.host, node.ws_port, protocols="mqttv3.1")
    assert ws31.status == 101 and ws31.headers.get("sec-websocket-protocol") == "mqttv3.1"
    other = WSClient(node.host, node.ws_port, path="/")
    assert other.status == 404
    query = WSClient(node.host, node.ws_port, path="/mqtt?client=1")
    assert query.status == 101


def test_ws_mqtt_packets_across_and_within_frames(node, clients, topic):
    ws = WSClient(node.host, node.ws_port)
    connect = r.connect("ws-frames", version=4)
    # CONNECT fragmented into a binary frame + continuation frame.
    ws.send(OP_BINARY, connect[:5], fin=False)
    ws.send(OP_CONT, connect[5:])
    assert [p.type for p in ws.mqtt_packets(1)] == [r.CONNACK]
    # SUBSCRIBE and PINGREQ in one frame.
    ws.send(OP_BINARY, r.subscribe(1, [(topic, 0)]) + r.PINGREQ_BYTES)
    assert sorted(p.type for p in ws.mqtt_packets(2)) == [r.SUBACK, r.PINGRESP]
    # One PUBLISH split over two separate (complete) binary frames; it comes back to us as subscriber.
    pub = r.publish(topic, b"split across frames")
    ws.send(OP_BINARY, pub[:3])
    ws.send(OP_BINARY, pub[3:])
    (p,) = ws.mqtt_packets(1)
    assert r.publish_fields(p, 4) == (topic.encode(), 0, b"split across frames")
    # A WebSocket ping is answered with a pong carrying the same data.
    ws.send(OP_PING, b"are you there")
    assert (OP_PONG, b"are you there") in ws.frames(2, until=OP_PONG)


def test_ws_text_frame_closes(node):
    ws = WSClient(node.host, node.ws_port)
    ws.send(OP_TEXT, b"MQTT is binary")  # [MQTT-6.0.0-1]
    frames = ws.frames(3)
    assert frames and frames[-1][0] == OP_CLOSE, frames
    assert ws.frames(3) == [] and ws.closed


def test_ws_close_frame_answered(node):
    ws = WSClient(node.host, node.ws_port)
    ws.send(OP_BINARY, r.connect("ws-close", version=4))
    ws.mqtt_packets(1)
    ws.send(OP_CLOSE, struct.pack("!H", 1000))
    frames = ws.frames(3)
    assert (OP_CLOSE, struct.pack("!H", 1000)) in frames
    ws.frames(3)
    assert ws.closed


def test_ws_unmasked_client_frame_rejected(node):
    """RFC 6455 5.1: "The server MUST close the connection upon receiving a frame that is not masked." """
    ws = WSClient(node.host, node.ws_port)
    ws.send(OP_BINARY, r.connect("unmasked", version=4), mask=False)
    frames = ws.frames(1.5)
    assert ws.closed or (frames and frames[-1][0] == OP_CLOSE), \
        f"unmasked frame was accepted; server answered {frames}"


def test_ws_oversized_packet(start_node, clients, topic):
    n = start_node("--max-packet-size", "1024")
    ws = WSClient(n.host, n.ws_port)
    ws.send(OP_BINARY, r.connect("ws-big", version=5))
    assert [p.type for p in ws.mqtt_packets(1)] == [r.CONNACK]
    ws.send(OP_BINARY, r.publish(f"{topic}/big", b"x" * 2000, version=5))
    (p,) = ws.mqtt_packets(1)
    assert (p.type, r.disconnect_reason(p)) == (r.DISCONNECT, 0x95)
    c = clients(n, port=n.ws_port, transport="websockets")
    c.connect()
