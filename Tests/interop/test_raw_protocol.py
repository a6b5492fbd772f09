"""Raw-socket tests: keep-alive enforcement and hostile/malformed input. After each abuse the node must still
serve well-behaved clients."""

import socket
import struct
import time

import pytest

import mqtt_raw as r
from paho_util import V5

VERSIONS = [pytest.param(4, id="v311"), pytest.param(5, id="v5")]


def assert_node_serves(node, clients, topic):
    """A paho pub/sub round trip on a fresh connection pair."""
    sub = clients(node)
    sub.connect()
    sub.subscribe(f"{topic}/alive", 1)
    pub = clients(node)
    pub.connect()
    pub.publish(f"{topic}/alive", b"still here", qos=1)
    assert sub.get().payload == b"still here"


def closed_after(raw: r.RawClient, timeout: float) -> tuple[float, list[r.Packet]]:
    start = time.monotonic()
    closed, got = raw.wait_closed(timeout)
    assert closed, f"connection still open after {timeout}s (received {got})"
    return time.monotonic() - start, got


# ---------------------------------------------------------------------------------------------------------------
# Keep-alive


@pytest.mark.parametrize("version", VERSIONS)
def test_keepalive_timeout(node, version):
    raw = node.raw()
    _, rc, _ = raw.connect("silent", version=version, keepalive=1)
    assert rc == 0
    elapsed, got = closed_after(raw, 5)
    # The server must disconnect after 1.5 x keep-alive without traffic [MQTT-3.1.2-22 / 3.1.2-24].
    assert 1.2 <= elapsed <= 2.5, f"closed after {elapsed:.2f}s, expected ~1.5s"
    if version == 5:
        assert [p.type for p in got] == [r.DISCONNECT], f"expected a DISCONNECT before close, got {got}"
        assert r.disconnect_reason(got[0]) == 0x8D, f"expected Keep Alive timeout (0x8D), got {got[0]!r}"
    else:
        assert got == []


def test_keepalive_kept_by_pings(node):
    raw = node.raw()
    raw.connect("pinger", version=4, keepalive=1)
    start = time.monotonic()
    while time.monotonic() - start < 2.4:  # ping every ~0.6 s for 2.4 s: well past the 1.5 s limit
        raw.send(r.PINGREQ_BYTES)
        raw.expect(r.PINGRESP, timeout=0.6)
        closed, got = raw.wait_closed(0.6)  # the pacing between pings; the connection must stay open
        assert not closed and got == [], f"disconnected despite pings after {time.monotonic() - start:.2f}s"


def test_max_keepalive_caps_server_keepalive(start_node):
    n = start_node("--max-keepalive", "1")
    raw = n.raw()
    _, rc, p = raw.connect("capped", version=5, keepalive=60)
    assert rc == 0
    assert p.get(0x13) == [1], f"CONNACK must carry Server Keep Alive 1, got properties {p}"
    elapsed, got = closed_after(raw, 5)
    assert 1.2 <= elapsed <= 2.5
    assert got and r.disconnect_reason(got[0]) == 0x8D


# ---------------------------------------------------------------------------------------------------------------
# Connection setup abuse


def test_garbage_bytes_closed(node, clients, topic):
    raw = node.raw()
    raw.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
    closed_after(raw, 3)
    raw2 = node.raw()
    raw2.send(b"\x10\xff\xff\xff\xff\x7f")  # CONNECT with a 5-byte (invalid) remaining length
    closed_after(raw2, 3)
    assert_node_serves(node, clients, topic)


def test_first_packet_not_connect(node, clients, topic):
    raw = node.raw()
    raw.send(r.subscribe(1, [("a/b", 0)]))
    _, got = closed_after(raw, 3)
    assert all(p.type != r.SUBACK for p in got)
    assert_node_serves(node, clients, topic)


def test_no_connect_closed_after_connect_timeout(node, clients, topic):
    """The `node` fixture runs with --connect-timeout 1."""
    raw = node.raw()
    elapsed, got = closed_after(raw, 6)
    assert 0.8 <= elapsed <= 2.5, f"closed after {elapsed:.2f}s, expected ~1s"
    assert got == []
    assert_node_serves(node, clients, topic)


def test_partial_connect_closed_after_connect_timeout(node):
    raw = node.raw()
    full = r.connect("slowloris", version=4)
    raw.send(full[:5])  # a CONNECT that never completes
    elapsed, _ = closed_after(raw, 6)
    assert 0.8 <= elapsed <= 2.5, f"closed after {elapsed:.2f}s, expected ~1s"


def test_unsupported_protocol_version(node):
    raw = node.raw()
    body = r.utf8("MQTT") + bytes([6, 0x02]) + struct.pack("!H", 60) + r.utf8("v6")
    raw.send(r.packet(0x10, body))
    _, got = closed_after(raw, 3)
    # 3.1.1 servers answer rc 1, 5.0 servers 0x84, then close [MQTT-3.1.2-2].
    assert got and got[0].type == r.CONNACK and got[0].body[1] in (0x01, 0x84), got


@pytest.mark.parametrize("version", VERSIONS)
def test_second_connect(node, clients, topic, version):
    raw = node.raw()
    raw.connect("twice", version=version)
    raw.send(r.connect("twice", version=version))
    _, got = closed_after(raw, 3)
    if version == 5:
        assert [(p.type, r.disconnect_reason(p)) for p in got] == [(r.DISCONNECT, 0x82)], got
    else:
        assert got == []
    assert_node_serves(node, clients, topic)


# ---------------------------------------------------------------------------------------------------------------
# Malformed / oversized packets


@pytest.mark.parametrize("version", VERSIONS)
def test_oversized_packet(start_node, clients, topic, version):
    n = start_node("--max-packet-size", "1024")
    raw = n.raw()
    _, rc, p = raw.connect("big", version=version)
    assert rc == 0
    if version == 5:
        assert p.get(r.PROP_MAXIMUM_PACKET_SIZE) == [1024], f"CONNACK Maximum Packet Size, properties {p}"
    # Declare a 10 MB PUBLISH but send only the header and a little of it: the server must not wait for the rest.
    header = bytes([0x30]) + r.varint(10_000_000)
    raw.send(header + r.utf8(f"{topic}/big") + b"x" * 100)
    _, got = closed_after(raw, 3)
    if version == 5:
        assert [(p.type, r.disconnect_reason(p)) for p in got] == [(r.DISCONNECT, 0x95)], got
    else:
        assert got == []
    # A complete packet just over the limit is refused the same way.
    raw2 = n.raw()
    raw2.connect("big2", version=version)
    raw2.send(r.publish(f"{topic}/big", b"y" * 1100, version=version))
    closed_after(raw2, 3)
    assert_node_serves(n, clients, topic)


def test_packet_at_max_size_accepted(start_node, clients, topic):
    n = start_node("--max-packet-size", "1024")
    sub = clients(n)
    sub.connect()
    sub.subscribe(f"{topic}/fit", 0)
    raw = n.raw()
    raw.connect("fits", version=4)
    tname = f"{topic}/fit"
    overhead = 1 + 2 + 2 + len(tname)  # fixed header byte + 2-byte remaining length + topic length + topic
    raw.send(r.publish(tname, b"z" * (1024 - overhead)))
    assert len(r.publish(tname, b"z" * (1024 - overhead))) == 1024
    m = sub.get()
    assert len(m.payload) == 1024 - overhead


@pytest.mark.parametrize("version", VERSIONS)
def test_invalid_utf8_topic(node, clients, topic, version):
    watcher = clients(node)
    watcher.connect()
    watcher.subscribe("#", 0)
    raw = node.raw()
    raw.connect("bad-utf8", version=version)
    raw.send(r.publish(f"{topic}/".encode() + b"\xff\xfe\xc0\x80", b"bad", version=version))
    _, got = closed_after(raw, 3)
    if version == 5:
        # Ill-formed UTF-8 makes the packet Malformed [MQTT-1.5.4-1] -> 0x81.
        assert [(p.type, r.disconnect_reason(p)) for p in got] in ([], [(r.DISCONNECT, 0x81)]), got
    else:
        assert got == []
    assert_node_serves(node, clients, topic)
    assert [m for m in watcher.drain() if m.payload == b"bad"] == [], "malformed PUBLISH was routed"


@pytest.mark.parametrize("version", VERSIONS)
def test_utf8_null_character_in_topic(node, clients, topic, version):
    raw = node.raw()
    raw.connect("nul-topic", version=version)
    raw.send(r.publish(f"{topic}/a\x00b", b"nul", version=version))  # U+0000 is forbidden [MQTT-1.5.4-2]
    _, got = closed_after(raw, 3)
    if version == 5:
        assert [(p.type, r.disconnect_reason(p)) for p in got] in ([], [(r.DISCONNECT, 0x81)]), got
    assert_node_serves(node, clients, topic)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("bad_topic", ["+/wild", "wild/#", "a/b+"])
def test_wildcard_in_publish_topic(node, clients, topic, version, bad_topic):
    sub = clients(node)
    sub.connect()
    sub.subscribe("#", 0)
    raw = node.raw()
    raw.connect("wild-pub", version=version)
    raw.send(r.publish(f"{topic}/{bad_topic}", b"wild", qos=1, version=version))
    _, got = closed_after(raw, 3)
    assert all(p.type != r.PUBACK for p in got), f"PUBLISH with wildcard topic was acknowledged: {got}"
    if version == 5:
        # Topic Name invalid (0x90); Malformed (0x81) / Protocol Error (0x82) are also defensible.
        assert len(got) == 1 and got[0].type == r.DISCONNECT and r.disconnect_reason(got[0]) in (0x90, 0x81, 0x82), got
    assert_node_serves(node, clients, topic)
    assert [m for m in sub.drain() if m.payload == b"wild"] == []


def test_invalid_subscribe_filter(node, clients, topic):
    raw = node.raw()
    raw.connect("bad-filter", version=5)
    raw.send(r.subscribe(1, [(f"{topic}/a#", 0)], version=5))
    p = raw.read(3)
    # Either SUBACK 0x8F (Topic Filter invalid) or DISCONNECT (0x81/0x82/0x8F) + close.
    if p.type == r.SUBACK:
        assert r.suback_codes(p, 5) == [0x8F], p
    else:
        assert p.type == r.DISCONNECT and r.disconnect_reason(p) in (0x81, 0x82, 0x8F), p
    assert_node_serves(node, clients, topic)


def test_reserved_flags_in_subscribe_closed(node, clients, topic):
    raw = node.raw()
    raw.connect("bad-flags", version=4)
    raw.send(bytes([0x80]) + r.subscribe(1, [("a", 0)])[1:])  # SUBSCRIBE must have flags 0b0010
    _, got = closed_after(raw, 3)
    assert all(p.type != r.SUBACK for p in got)
    assert_node_serves(node, clients, topic)


def test_qos3_publish_closed(node, clients, topic):
    raw = node.raw()
    raw.connect("qos3", version=4)
    raw.send(bytes([0x36]) + r.publish(f"{topic}/x", b"q3", qos=1)[1:])
    _, got = closed_after(raw, 3)
    assert got == []
    assert_node_serves(node, clients, topic)


def test_many_abrupt_connections(node, clients, topic):
    """100 clients that connect and vanish without DISCONNECT must not wedge or crash the node."""
    for i in range(100):
        s = socket.create_connection((node.host, node.mqtt_port), timeout=3)
        s.sendall(r.connect(f"hit-and-run-{i}", version=4 if i % 2 else 5))
        if i % 3 == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST instead of FIN
        s.close()
    assert_node_serves(node, clients, topic)


def test_graceful_shutdown_with_clients_connected(start_node, clients, topic):
    n = start_node()
    for _ in range(3):
        c = clients(n, version=V5)
        c.connect()
    started = time.monotonic()
    code = n.stop()
    assert not n.needed_sigkill, "Node ignored SIGTERM"
    assert code == 0, f"Node exited with {code} on SIGTERM"
    assert time.monotonic() - started < 3


# ---------------------------------------------------------------------------------------------------------------
# A client that stops reading (its TCP window fills up)


def _server_side_tcp_state(node_port: int, client_port: int) -> str | None:
    """The kernel state (hex, /proc/net/tcp) of the node's socket for the connection from `client_port`;
    '01' = ESTABLISHED, '04' = FIN_WAIT1 (the node closed it but unsent data remains), None = gone."""
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if int(local.split(":")[1], 16) == node_port and int(remote.split(":")[1], 16) == client_port:
            return state
    return None


def _stuck_subscriber(node, client_id: str, topic: str, keepalive: int) -> socket.socket:
    """A v5 client with a tiny receive buffer that subscribes to `topic` and then never reads or writes again,
    after a publisher has pushed ~12 MB at it, so the node's socket send buffer is full."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect, so the window stays small
    s.settimeout(3)
    s.connect((node.host, node.mqtt_port))
    raw = r.RawClient.__new__(r.RawClient)
    raw.sock, raw.buf, raw.closed, raw.received = s, bytearray(), False, []
    raw.connect(client_id, version=5, keepalive=keepalive)
    raw.send(r.subscribe(1, [(topic, 0)], version=5))
    raw.expect(r.SUBACK)
    flooder = node.raw()
    flooder.connect(f"{client_id}-flooder", version=4)
    chunk = b"".join(r.publish(topic, b"x" * 60_000) for _ in range(10))
    for _ in range(20):
        flooder.send(chunk)
    # Make sure the flood has been routed (the flooder's own round trip) and the stuck socket is backed up.
    flooder.send(r.PINGREQ_BYTES)
    flooder.expect(r.PINGRESP, timeout=10)
    return s


def _wait_server_closed(node, s: socket.socket, timeout: float) -> tuple[float | None, str | None]:
    client_port = s.getsockname()[1]
    start = time.monotonic()
    state = _server_side_tcp_state(node.mqtt_port, client_port)
    while time.monotonic() - start < timeout:
        state = _server_side_tcp_state(node.mqtt_port, client_port)
        if state != "01":
            return time.monotonic() - start, state
        time.sleep(0.05)  # polling interval of a bounded loop over kernel socket state
    return None, state


def test_keepalive_closes_client_that_stopped_reading(node, clients, topic):
    s = _stuck_subscriber(node, "stuck-ka", f"{topic}/flood", keepalive=1)
    elapsed, state = _wait_server_closed(node, s, 4)
    s.close()
    assert elapsed is not None, (
        f"keep-alive 1 s: the node's socket to a client that stopped reading is still ESTABLISHED after 4 s "
        f"(kernel state {state}); the connection and its buffers are never released")
    assert_node_serves(node, clients, topic)


def test_takeover_closes_client_that_stopped_reading(node, clients, topic):
    s = _stuck_subscriber(node, "stuck-takeover", f"{topic}/flood", keepalive=0)
    new = node.raw()
    assert new.connect("stuck-takeover", version=5)[1] == 0
    elapsed, state = _wait_server_closed(node, s, 3)
    s.close()
    assert elapsed is not None, (
        f"takeover: the node's socket to the old (non-reading) connection is still ESTABLISHED after 3 s "
        f"(kernel state {state})")


# ---------------------------------------------------------------------------------------------------------------
# QoS 1/2 state across reconnects, flow control


def _pid(p: r.Packet) -> bytes:
    topic, _, _ = r.publish_fields(p, 5)
    return p.body[2 + len(topic):4 + len(topic)]


@pytest.mark.parametrize("version", VERSIONS)
def test_unacked_qos1_redelivered_with_dup_on_reconnect(node, version):
    session = r.prop_u32(r.PROP_SESSION_EXPIRY, 60) if version == 5 else b""
    a = node.raw()
    a.connect("redeliver", version=version, clean=False, props=session)
    a.send(r.subscribe(1, [("rd/t", 1)], version=version))
    a.expect(r.SUBACK)
    pub = node.raw()
    pub.connect("rd-pub", version=4)
    pub.send(r.publish("rd/t", b"ack me", qos=1, packet_id=5))
    pub.expect(r.PUBACK)
    first = a.expect(r.PUBLISH)
    assert first.flags & 0x08 == 0
    a.close()  # no PUBACK
    b = node.raw()
    assert b.connect("redeliver", version=version, clean=False, props=session)[0] is True
    again = b.expect(r.PUBLISH)
    assert again.flags & 0x08, "redelivered PUBLISH must have DUP=1 [MQTT-3.3.1-1]"
    assert r.publish_fields(again, version)[1:] == (1, b"ack me")


def test_qos2_pubrel_resent_on_reconnect(node):
    expiry = r.prop_u32(r.PROP_SESSION_EXPIRY, 60)
    a = node.raw()
    a.connect("q2-resume", version=5, clean=False, props=expiry)
    a.send(r.subscribe(1, [("q2/t", 2)], version=5))
    a.expect(r.SUBACK)
    pub = node.raw()
    pub.connect("q2-pub", version=5)
    pub.send(r.publish("q2/t", b"exactly once", qos=2, packet_id=9, version=5))
    pub.expect(r.PUBREC)
    pub.send(r.packet(0x62, b"\x00\x09"))
    pub.expect(r.PUBCOMP)
    p = a.expect(r.PUBLISH)
    a.send(r.packet(0x50, _pid(p)))  # PUBREC
    assert a.expect(r.PUBREL).body[:2] == _pid(p)
    a.close()  # before PUBCOMP
    b = node.raw()
    assert b.connect("q2-resume", version=5, clean=False, props=expiry)[0] is True
    rel = b.read(3)
    assert (rel.type, rel.flags, rel.body[:2]) == (r.PUBREL, 0x2, _pid(p)), f"expected PUBREL resent, got {rel!r}"
    b.send(r.packet(0x70, rel.body[:2]))
    closed, got = b.wait_closed(0.5)
    assert not closed and [x for x in got if x.type == r.PUBLISH] == [], "message re-sent after PUBREC"


def test_qos2_duplicate_publish_delivered_once(node, clients, topic):
    sub = clients(node)
    sub.connect()
    sub.subscribe(topic, 2)
    raw = node.raw()
    raw.connect("q2-dup", version=4)
    pkt = r.publish(topic, b"once", qos=2, packet_id=77)
    raw.send(pkt)
    raw.expect(r.PUBREC)
    raw.send(bytes([pkt[0] | 0x08]) + pkt[1:])  # retransmission with DUP=1 before PUBREL
    raw.expect(r.PUBREC)
    raw.send(r.packet(0x62, b"\x00\x4d"))
    raw.expect(r.PUBCOMP)
    raw.send(r.publish(topic, b"marker", qos=1, packet_id=78))
    raw.expect(r.PUBACK)
    got = [m.payload for m in sub.get_n(2)]
    assert sorted(got) == [b"marker", b"once"]  # different QoS: no relative order guaranteed
    sub.assert_no_message(0.3)


def test_pubrel_for_unknown_packet_id(node):
    raw = node.raw()
    raw.connect("pubrel-unknown", version=5)
    raw.send(r.packet(0x62, b"\x01\x00"))
    p = raw.expect(r.PUBCOMP)
    assert p.body[:3] == b"\x01\x00\x92", f"expected PUBCOMP 0x92 Packet Identifier not found, got {p!r}"


def test_server_respects_client_receive_maximum(node, clients, topic):
    raw = node.raw()
    raw.connect("rm2", version=5, props=r.prop_u16(r.PROP_RECEIVE_MAXIMUM, 2))
    raw.send(r.subscribe(1, [(topic, 1)], version=5))
    raw.expect(r.SUBACK)
    pub = clients(node)
    pub.connect()
    for i in range(5):
        pub.publish(topic, str(i).encode(), qos=1)
    first = [raw.expect(r.PUBLISH), raw.expect(r.PUBLISH)]
    closed, extra = raw.wait_closed(0.5)
    assert extra == [], f"more than Receive Maximum (2) unacknowledged PUBLISHes: {extra}"
    for p in first:
        raw.send(r.packet(0x40, _pid(p)))
    rest = [raw.expect(r.PUBLISH) for _ in range(2)]
    assert [r.publish_fields(p, 5)[2] for p in first + rest] == [b"0", b"1", b"2", b"3"]


def test_client_receive_maximum_exceeded(start_node):
    n = start_node("--receive-maximum", "2")
    raw = n.raw()
    assert raw.connect("too-many", version=5)[2].get(r.PROP_RECEIVE_MAXIMUM) == [2]
    for i in range(3):  # three QoS 2 PUBLISHes without PUBREL
        raw.send(r.publish("rm/t", b"q2", qos=2, packet_id=i + 1, version=5))
    _, got = closed_after(raw, 3)
    assert got and (got[-1].type, r.disconnect_reason(got[-1])) == (r.DISCONNECT, 0x93), got


def test_server_respects_client_maximum_packet_size(node, clients, topic):
    raw = node.raw()
    raw.connect("small-mps", version=5, props=r.prop_u32(r.PROP_MAXIMUM_PACKET_SIZE, 100))
    raw.send(r.subscribe(1, [(topic, 1)], version=5))
    raw.expect(r.SUBACK)
    pub = clients(node)
    pub.connect()
    pub.publish(topic, b"x" * 200, qos=1)  # would exceed 100 bytes: must be discarded [MQTT-3.1.2-25]
    pub.publish(topic, b"small", qos=1)
    p = raw.expect(r.PUBLISH)
    assert r.publish_fields(p, 5)[2] == b"small"


def test_server_topic_aliases_to_client(node, clients, topic):
    raw = node.raw()
    raw.connect("alias-rx", version=5, props=r.prop_u16(r.PROP_TOPIC_ALIAS_MAXIMUM, 5))
    raw.send(r.subscribe(1, [(f"{topic}/#", 0)], version=5))
    raw.expect(r.SUBACK)
    pub = clients(node)
    pub.connect()
    for i in range(3):
        pub.publish(f"{topic}/aliased", str(i).encode(), qos=1)
    resolved, aliases = {}, []
    for _ in range(3):
        p = raw.expect(r.PUBLISH)
        t, _, payload = r.publish_fields(p, 5)
        props, _ = r.parse_properties(p.body, 2 + len(t))
        alias = props.get(r.PROP_TOPIC_ALIAS, [None])[0]
        assert alias is None or 1 <= alias <= 5
        if t:
            if alias:
                resolved[alias] = t
        else:
            assert alias in resolved, f"empty topic with unknown alias {alias}"
            t = resolved[alias]
        aliases.append((t.decode(), payload))
    assert aliases == [(f"{topic}/aliased", str(i).encode()) for i in range(3)]


# ---------------------------------------------------------------------------------------------------------------
# More MQTT 5 protocol errors


def test_disconnect_session_expiry_after_zero_is_protocol_error(node):
    raw = node.raw()
    raw.connect("dse", version=5)  # Session Expiry 0
    raw.send(r.packet(0xE0, bytes([0]) + r.properties(r.prop_u32(r.PROP_SESSION_EXPIRY, 60))))
    _, got = closed_after(raw, 3)
    assert [(p.type, r.disconnect_reason(p)) for p in got] == [(r.DISCONNECT, 0x82)]  # [MQTT-3.14.2-2]


def test_shared_subscription_with_no_local_is_protocol_error(node):
    raw = node.raw()
    raw.connect("share-nolocal", version=5)
    raw.send(r.subscribe(1, [("$share/g/x", 0x04)], version=5))  # No Local on a shared subscription
    _, got = closed_after(raw, 3)
    assert [(p.type, r.disconnect_reason(p)) for p in got] == [(r.DISCONNECT, 0x82)]  # [MQTT-3.8.3-4]


def test_unsupported_authentication_method(node):
    raw = node.raw()
    raw.send(r.connect("auth-method", version=5, props=bytes([0x15]) + r.utf8("SCRAM-SHA-1")))
    p = raw.expect(r.CONNACK)
    assert r.connack(p, 5)[1] == 0x8C  # Bad authentication method
    closed_after(raw, 3)


def test_unsubscribe_reason_codes(node):
    raw = node.raw()
    raw.connect("unsub", version=5)
    raw.send(r.subscribe(1, [("u/1", 1)], version=5))
    raw.expect(r.SUBACK)
    raw.send(r.packet(0xA2, b"\x00\x02" + b"\x00" + r.utf8("u/1") + r.utf8("u/2")))
    p = raw.expect(r.UNSUBACK)
    assert p.body == b"\x00\x02\x00\x00\x11"  # Success, No subscription existed


def test_mqtt31_mqisdp_accepted(node):
    raw = node.raw()
    body = r.utf8("MQIsdp") + bytes([3, 0x02]) + struct.pack("!H", 60) + r.utf8("v31-client")
    raw.send(r.packet(0x10, body))
    assert r.connack(raw.expect(r.CONNACK), 3) == (False, 0, {})
