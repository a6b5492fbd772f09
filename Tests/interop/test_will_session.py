"""paho-mqtt: Will messages, persistent sessions, session takeover (MQTT 3.1.1 and 5)."""

import time

import pytest

from paho_util import V3, V5, PacketTypes, elapse, props, sub_opts

VERSIONS = [pytest.param(V3, id="v311"), pytest.param(V5, id="v5")]


def watcher(clients, node, topic, version=V5):
    w = clients(node, version=version)
    w.connect()
    assert w.subscribe(f"{topic}/#", 1) == [1]
    return w


# ---------------------------------------------------------------------------------------------------------------
# Will


@pytest.mark.parametrize("version", VERSIONS)
def test_will_published_on_abrupt_disconnect(node, clients, topic, version):
    w = watcher(clients, node, topic)
    dying = clients(node, version=version)
    dying.c.will_set(f"{topic}/will", b"gone\x00\xff", qos=1, retain=False)
    dying.connect()
    dying.drop()  # TCP close without DISCONNECT
    m = w.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (f"{topic}/will", b"gone\x00\xff", 1, False)


@pytest.mark.parametrize("version", VERSIONS)
def test_will_retained(node, clients, topic, version):
    dying = clients(node, version=version)
    dying.c.will_set(f"{topic}/will", b"retained-will", qos=1, retain=True)
    dying.connect()
    dying.drop()
    # Subscribe after the fact: the will must have been stored as a retained message. Poll with a bounded loop,
    # because the will is published asynchronously after the connection loss; a will that is published while a
    # poll's subscription is already in place reaches it live (retain 0, as it should), so poll again then.
    deadline = time.monotonic() + 5
    while True:
        late = clients(node, version=version)
        late.connect()
        late.subscribe([(f"{topic}/will", 1), (f"{topic}/marker", 1)])
        late.publish(f"{topic}/marker", b"m", qos=1)
        got = [(m.topic, m.payload, m.retain) for m in late.get_until(f"{topic}/marker")]
        late.disconnect()
        if (got[0][0] == f"{topic}/will" and got[0][2]) or time.monotonic() > deadline:
            break
    assert got[0] == (f"{topic}/will", b"retained-will", True)


@pytest.mark.parametrize("version", VERSIONS)
def test_will_not_published_on_normal_disconnect(node, clients, topic, version):
    w = watcher(clients, node, topic)
    polite = clients(node, version=version)
    polite.c.will_set(f"{topic}/will", b"should-not-appear", qos=1)
    polite.connect()
    polite.disconnect()
    # The marker is published after the DISCONNECT completed, but a will would be published asynchronously, so
    # in addition to the marker wait a little to prove the absence.
    other = clients(node, version=version)
    other.connect()
    other.publish(f"{topic}/marker", b"m", qos=1)
    assert [m.topic for m in w.get_until(f"{topic}/marker")] == [f"{topic}/marker"]
    w.assert_no_message(0.7)


def test_v5_disconnect_with_will_message_reason(node, clients, topic):
    w = watcher(clients, node, topic)
    c = clients(node)
    c.c.will_set(f"{topic}/will", b"asked-for", qos=0)
    c.connect()
    c.disconnect(reason=0x04)  # Disconnect with Will Message
    m = w.get()
    assert (m.topic, m.payload) == (f"{topic}/will", b"asked-for")


def test_v5_will_delay_interval(node, clients, topic):
    w = watcher(clients, node, topic)
    c = clients(node)
    c.c.will_set(f"{topic}/will", b"delayed", qos=1, properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=2))
    c.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    dropped_at = time.monotonic()
    c.drop()
    m = w.get(timeout=6)
    elapsed = m.arrived - dropped_at
    assert m.payload == b"delayed"
    assert 1.8 <= elapsed <= 4.0, f"will arrived {elapsed:.2f}s after the drop, expected ~2s"


def test_v5_will_delay_session_expiry_shorter_wins(node, clients, topic):
    """The will is sent when the session ends, if that comes before the Will Delay Interval [MQTT-3.1.3-9]."""
    w = watcher(clients, node, topic)
    c = clients(node)
    c.c.will_set(f"{topic}/will", b"session-ended", qos=1,
                 properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=30))
    c.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=1))
    dropped_at = time.monotonic()
    c.drop()
    m = w.get(timeout=5)
    assert m.payload == b"session-ended"
    assert 0.7 <= m.arrived - dropped_at <= 3.0


def test_v5_will_delay_cancelled_by_reconnect(node, clients, topic):
    w = watcher(clients, node, topic)
    c = clients(node, "will-delay-cancel")
    c.c.will_set(f"{topic}/will", b"must-not-arrive", qos=1,
                 properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=2))
    c.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    c.drop()
    again = clients(node, "will-delay-cancel")
    ack = again.connect(clean_start=False, properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    assert ack.session_present
    w.assert_no_message(3.5)  # well past the 2 s delay


def test_will_sent_on_takeover_v5_clean_start(node, clients, topic):
    """A takeover with Clean Start=1 ends the old session, so its will is published at once."""
    w = watcher(clients, node, topic)
    first = clients(node, "takeover-will")
    first.c.will_set(f"{topic}/will", b"taken-over", qos=1,
                     properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=10))
    first.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    second = clients(node, "takeover-will")
    second.connect(clean_start=True)
    m = w.get(timeout=3)
    assert m.payload == b"taken-over"


# ---------------------------------------------------------------------------------------------------------------
# Persistent sessions


def _offline_publish(clients, node, topic, payloads, version):
    pub = clients(node, version=version)
    pub.connect()
    for p in payloads:
        pub.publish(topic, p, qos=1)
    pub.disconnect()


def test_v311_persistent_session(node, clients, topic):
    s = clients(node, "v3-persist", V3, clean=False)
    first = s.connect()
    assert first.session_present is False
    assert s.subscribe(topic, 1) == [1]
    s.disconnect()
    _offline_publish(clients, node, topic, [b"q1", b"q2", b"q3"], V3)
    s2 = clients(node, "v3-persist", V3, clean=False)
    ack = s2.connect()
    assert ack.session_present is True
    got = s2.get_n(3)
    assert [(m.payload, m.qos) for m in got] == [(b"q1", 1), (b"q2", 1), (b"q3", 1)]
    # The subscription itself survived too: a live message arrives without re-subscribing.
    _offline_publish(clients, node, topic, [b"live"], V3)
    assert s2.get().payload == b"live"


def test_v311_clean_session_discards_state(node, clients, topic):
    s = clients(node, "v3-clean", V3, clean=False)
    s.connect()
    s.subscribe(topic, 1)
    s.disconnect()
    s2 = clients(node, "v3-clean", V3, clean=True)
    assert s2.connect().session_present is False
    s2.disconnect()
    s3 = clients(node, "v3-clean", V3, clean=False)
    assert s3.connect().session_present is False
    _offline_publish(clients, node, topic, [b"x"], V3)
    s3.assert_no_message(0.5)


def test_v5_persistent_session(node, clients, topic):
    s = clients(node, "v5-persist")
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=300)
    assert s.connect(clean_start=True, properties=expiry).session_present is False
    assert s.subscribe(topic, 1) == [1]
    s.disconnect()
    _offline_publish(clients, node, topic, [b"q1", b"q2", b"q3"], V5)
    s2 = clients(node, "v5-persist")
    ack = s2.connect(clean_start=False, properties=expiry)
    assert ack.session_present is True
    assert [(m.payload, m.qos) for m in s2.get_n(3)] == [(b"q1", 1), (b"q2", 1), (b"q3", 1)]


def test_v5_session_expiry_zero_keeps_no_session(node, clients, topic):
    s = clients(node, "v5-noexpiry")
    s.connect(clean_start=False, properties=props(PacketTypes.CONNECT, SessionExpiryInterval=0))
    s.subscribe(topic, 1)
    s.disconnect()
    _offline_publish(clients, node, topic, [b"lost"], V5)
    s2 = clients(node, "v5-noexpiry")
    ack = s2.connect(clean_start=False, properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    assert ack.session_present is False
    s2.assert_no_message(0.5)


def test_v5_session_expires_after_interval(node, clients, topic):
    short = clients(node, "v5-expiring")
    short.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=1))
    short.subscribe(topic, 1)
    short.disconnect()
    kept = clients(node, "v5-kept")
    kept.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=60))
    kept.subscribe(topic, 1)
    kept.disconnect()
    elapse(2.0)  # the condition under test is the 1 s Session Expiry Interval running out
    probe = clients(node, "v5-expiring")
    assert probe.connect(clean_start=False).session_present is False, "1 s session still present after 2 s"
    probe2 = clients(node, "v5-kept")
    assert probe2.connect(clean_start=False).session_present is True, "60 s session lost after 2 s"


def test_v5_message_expiry_while_offline(node, clients, topic):
    s = clients(node, "v5-msg-expiry")
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=300)
    s.connect(properties=expiry)
    s.subscribe(topic, 1)
    s.disconnect()
    pub = clients(node)
    pub.connect()
    pub.publish(topic, b"short-lived", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish(topic, b"long-lived", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=600))
    pub.publish(topic, b"immortal", qos=1)
    elapse(2.2)  # the condition under test is the 1 s Message Expiry Interval running out
    s2 = clients(node, "v5-msg-expiry")
    assert s2.connect(clean_start=False, properties=expiry).session_present
    got = s2.get_n(2)
    assert [m.payload for m in got] == [b"long-lived", b"immortal"]
    # The forwarded Message Expiry Interval is reduced by the time spent waiting [MQTT-3.3.2-6].
    assert got[0].p("MessageExpiryInterval") is not None and got[0].p("MessageExpiryInterval") <= 598
    assert got[1].p("MessageExpiryInterval") is None
    s2.assert_no_message(0.3)


# ---------------------------------------------------------------------------------------------------------------
# Takeover


def test_v5_takeover_disconnects_first_with_0x8e(node, clients, topic):
    first = clients(node, "dup-id")
    first.connect()
    second = clients(node, "dup-id")
    second.connect()
    reason = first.wait_disconnected()
    assert first.disconnect_from_server is True, "expected a DISCONNECT packet from the server"
    assert reason == 0x8E, f"expected Session taken over (0x8E), got {reason:#x}"
    # The new connection is fully functional.
    second.subscribe(topic, 1)
    p = clients(node)
    p.connect()
    p.publish(topic, b"to-second", qos=1)
    assert second.get().payload == b"to-second"


def test_v311_takeover_closes_first(node, clients, topic):
    first = clients(node, "dup-id-3", V3)
    first.connect()
    second = clients(node, "dup-id-3", V3)
    second.connect()
    first.wait_disconnected()
    assert first.disconnect_from_server is False  # 3.1.1 has no server DISCONNECT: the socket is just closed
    second.subscribe(topic, 1)
    p = clients(node, version=V3)
    p.connect()
    p.publish(topic, b"to-second", qos=1)
    assert second.get().payload == b"to-second"


def test_v5_takeover_keeps_session_when_clean_start_0(node, clients, topic):
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    first = clients(node, "dup-session")
    first.connect(properties=expiry)
    first.subscribe(topic, options=sub_opts(1))
    second = clients(node, "dup-session")
    assert second.connect(clean_start=False, properties=expiry).session_present is True
    assert first.wait_disconnected() == 0x8E
    p = clients(node)
    p.connect()
    p.publish(topic, b"inherited-subscription", qos=1)
    assert second.get().payload == b"inherited-subscription"


def test_session_queue_is_bounded(start_node, clients, topic):
    n = start_node("--session-queue", "5")
    s = clients(n, "bounded")
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    s.connect(properties=expiry)
    s.subscribe(topic, 1)
    s.disconnect()
    pub = clients(n)
    pub.connect()
    for i in range(8):
        assert pub.publish(topic, str(i).encode(), qos=1) in (0x00, 0x10, 0x97)
    s2 = clients(n, "bounded")
    assert s2.connect(clean_start=False, properties=expiry).session_present
    got = [int(m.payload) for m in s2.get_n(5)]
    assert got == sorted(got) and len(set(got)) == 5
    s2.assert_no_message(0.3)


@pytest.mark.parametrize("version", VERSIONS)
def test_takeover_of_clean_session_does_not_resume_it(node, clients, topic, version):
    """The live connection's session is non-persistent (3.1.1 CleanSession=1 / 5.0 Session Expiry 0), so it ends
    when the takeover closes that connection [MQTT-3.1.2-6, 3.1.2-11.2]: a new connection with CleanSession=0 /
    Clean Start=0 must get session_present=0 and none of the old session's subscriptions."""
    first = clients(node, "clean-then-resume", version, clean=True)
    first.connect()
    assert first.subscribe(f"{topic}/inherited", 1) == [1]
    second = clients(node, "clean-then-resume", version, clean=False)
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=60) if version == V5 else None
    ack = second.connect(clean_start=False, properties=expiry)
    first.wait_disconnected()
    second.subscribe(f"{topic}/marker", 1)
    pub = clients(node, version=version)
    pub.connect()
    pub.publish(f"{topic}/inherited", b"must not arrive", qos=1)
    pub.publish(f"{topic}/marker", b"m", qos=1)
    got = [m.topic for m in second.get_until(f"{topic}/marker")]
    assert (ack.session_present, got) == (False, [f"{topic}/marker"]), \
        f"session_present={ack.session_present}; received {got}"
