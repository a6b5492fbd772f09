"""paho-mqtt publish/subscribe: QoS 0/1/2, ordering, wildcards, retained messages (MQTT 3.1.1 and 5)."""

import pytest

from paho_util import V3, V5, PacketTypes, elapse, props, sub_opts

VERSIONS = [pytest.param(V3, id="v311"), pytest.param(V5, id="v5")]
# Every byte value, including NUL and invalid UTF-8: payloads are opaque binary.
BINARY = bytes(range(256)) + b"\x00\xff\xfe" + "é✓".encode()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_qos_roundtrip(node, clients, topic, version, qos):
    sub = clients(node, version=version)
    sub.connect()
    assert sub.subscribe(f"{topic}/#", qos) == [qos]
    pub = clients(node, version=version)
    pub.connect()
    rc = pub.publish(f"{topic}/x", BINARY, qos=qos)
    assert rc == 0
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (f"{topic}/x", BINARY, qos, False)
    sub.assert_no_message(0.3)  # exactly once: no duplicate delivery


@pytest.mark.parametrize("version", VERSIONS)
def test_qos_is_downgraded_to_subscription_qos(node, clients, topic, version):
    sub = clients(node, version=version)
    sub.connect()
    assert sub.subscribe([(f"{topic}/zero", 0), (f"{topic}/one", 1)]) == [0, 1]
    pub = clients(node, version=version)
    pub.connect()
    pub.publish(f"{topic}/zero", b"a", qos=2)
    pub.publish(f"{topic}/one", b"b", qos=2)
    got = {m.topic: m.qos for m in sub.get_n(2)}
    assert got == {f"{topic}/zero": 0, f"{topic}/one": 1}


@pytest.mark.parametrize("version", VERSIONS)
def test_200_qos1_in_order(node, clients, topic, version):
    sub = clients(node, version=version)
    sub.connect()
    sub.subscribe(topic, 1)
    pub = clients(node, version=version)
    pub.connect()
    mids = [pub.publish_nowait(topic, str(i).encode(), qos=1) for i in range(200)]
    assert [pub.wait_published(mid, timeout=15) for mid in mids] == [0] * 200
    got = sub.get_n(200, timeout=15)
    assert [m.payload.decode() for m in got] == [str(i) for i in range(200)]
    assert {m.qos for m in got} == {1}


@pytest.mark.parametrize("version", VERSIONS)
def test_wildcards(node, clients, topic, version):
    sub = clients(node, version=version)
    sub.connect()
    assert sub.subscribe([(f"{topic}/+/b", 1), (f"{topic}/a/#", 1)]) == [1, 1]
    pub = clients(node, version=version)
    pub.connect()
    sub.subscribe(f"{topic}/end", 1)
    for t in ["x/b", "a", "a/b/c", "x/c", "x/b/c"]:
        pub.publish(f"{topic}/{t}", t.encode(), qos=1)
    pub.publish(f"{topic}/end", b"end", qos=1)
    got = [m.topic[len(topic) + 1:] for m in sub.get_until(f"{topic}/end")]
    # "a/#" also matches the parent "a" [MQTT-4.7.1-2]; overlapping subscriptions give one copy per client.
    assert got == ["x/b", "a", "a/b/c", "end"]


# ---------------------------------------------------------------------------------------------------------------
# Retained messages


@pytest.mark.parametrize("version", VERSIONS)
def test_retained_received_on_later_subscribe(node, clients, topic, version):
    pub = clients(node, version=version)
    pub.connect()
    # 0x10 (No matching subscribers) is a success code an MQTT 5 server may use here.
    assert pub.publish(f"{topic}/r", b"kept", qos=1, retain=True) in (0, 0x10)
    sub = clients(node, version=version)
    sub.connect()
    assert sub.subscribe(f"{topic}/#", 1) == [1]
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (f"{topic}/r", b"kept", 1, True)
    # A live publish of a retained message to an existing subscriber carries retain=0 in 3.1.1 (and in 5 without
    # Retain As Published) [MQTT-3.3.1-9].
    pub.publish(f"{topic}/r", b"live", qos=1, retain=True)
    m = sub.get()
    assert (m.payload, m.retain) == (b"live", False)


@pytest.mark.parametrize("version", VERSIONS)
def test_retained_replaced_and_cleared(node, clients, topic, version):
    pub = clients(node, version=version)
    pub.connect()
    pub.publish(f"{topic}/r", b"one", qos=1, retain=True)
    pub.publish(f"{topic}/r", b"two", qos=1, retain=True)
    sub = clients(node, version=version)
    sub.connect()
    sub.subscribe(f"{topic}/r", 1)
    m = sub.get()
    assert (m.payload, m.retain) == (b"two", True)
    sub.assert_no_message(0.3)  # only the latest retained message is kept

    pub.publish(f"{topic}/r", b"", qos=1, retain=True)  # empty payload clears it [MQTT-3.3.1-6]
    sub2 = clients(node, version=version)
    sub2.connect()
    sub2.subscribe([(f"{topic}/r", 1), (f"{topic}/marker", 1)])
    pub.publish(f"{topic}/marker", b"m", qos=1)
    got = sub2.get_until(f"{topic}/marker")
    assert [(m.topic, m.payload) for m in got] == [(f"{topic}/marker", b"m")]
    sub2.assert_no_message(0.3)


def test_v5_retain_handling(node, clients, topic):
    pub = clients(node)
    pub.connect()
    pub.publish(f"{topic}/r", b"R", qos=1, retain=True)

    def retained_on_subscribe(c, rh):
        """Subscribes with Retain Handling rh; returns the retained payloads received before a marker."""
        c.subscribe(f"{topic}/r", options=sub_opts(1, retain_handling=rh))
        c.subscribe(f"{topic}/marker-{c.client_id}", 1)
        pub.publish(f"{topic}/marker-{c.client_id}", b"m", qos=1)
        return [m.payload for m in c.get_until(f"{topic}/marker-{c.client_id}") if m.topic == f"{topic}/r"]

    c0 = clients(node)
    c0.connect()
    assert retained_on_subscribe(c0, 0) == [b"R"]
    assert retained_on_subscribe(c0, 0) == [b"R"], "RH=0: retained message sent on every SUBSCRIBE"
    c1 = clients(node)
    c1.connect()
    assert retained_on_subscribe(c1, 1) == [b"R"], "RH=1: sent when the subscription is new"
    assert retained_on_subscribe(c1, 1) == [], "RH=1: not sent when the subscription already existed"
    c2 = clients(node)
    c2.connect()
    assert retained_on_subscribe(c2, 2) == [], "RH=2: never sent"


def test_v5_retain_as_published(node, clients, topic):
    rap = clients(node)
    rap.connect()
    rap.subscribe(f"{topic}/r", options=sub_opts(1, retain_as_published=True))
    plain = clients(node)
    plain.connect()
    plain.subscribe(f"{topic}/r", options=sub_opts(1, retain_as_published=False))
    pub = clients(node)
    pub.connect()
    pub.publish(f"{topic}/r", b"live-retained", qos=1, retain=True)
    pub.publish(f"{topic}/r", b"live-plain", qos=1, retain=False)
    assert [(m.payload, m.retain) for m in rap.get_n(2)] == [(b"live-retained", True), (b"live-plain", False)]
    assert [(m.payload, m.retain) for m in plain.get_n(2)] == [(b"live-retained", False), (b"live-plain", False)]
    # Messages sent because of a new subscription always have retain=1, whatever RAP says [MQTT-3.3.1-9/10].
    late = clients(node)
    late.connect()
    late.subscribe(f"{topic}/r", options=sub_opts(1, retain_as_published=False))
    m = late.get()
    assert (m.payload, m.retain) == (b"live-retained", True)


def test_v5_retained_message_keeps_properties(node, clients, topic):
    pub = clients(node)
    pub.connect()
    p = props(PacketTypes.PUBLISH, UserProperty=[("k", "v")], ContentType="text/plain", MessageExpiryInterval=300)
    pub.publish(f"{topic}/r", b"with-props", qos=1, retain=True, properties=p)
    sub = clients(node)
    sub.connect()
    sub.subscribe(f"{topic}/r", 1)
    m = sub.get()
    assert m.payload == b"with-props"
    assert m.p("UserProperty") == [("k", "v")]
    assert m.p("ContentType") == "text/plain"
    assert 0 < m.p("MessageExpiryInterval") <= 300


def test_v5_retained_message_expires(node, clients, topic):
    pub = clients(node)
    pub.connect()
    pub.publish(f"{topic}/short", b"short", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish(f"{topic}/long", b"long", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=100))
    elapse(2.1)  # the condition under test is the 1 s Message Expiry Interval running out
    sub = clients(node)
    sub.connect()
    sub.subscribe([(f"{topic}/#", 1)])
    m = sub.get()
    assert (m.topic, m.payload, m.retain) == (f"{topic}/long", b"long", True)
    assert m.p("MessageExpiryInterval") <= 98
    sub.assert_no_message(0.3)


def test_v311_subscriber_gets_v5_message(node, clients, topic):
    sub = clients(node, version=V3)
    sub.connect()
    sub.subscribe(topic, 2)
    pub = clients(node)
    pub.connect()
    pub.publish(topic, b"from v5", qos=2, properties=props(PacketTypes.PUBLISH, UserProperty=[("k", "v")]))
    m = sub.get()
    assert (m.payload, m.qos) == (b"from v5", 2)


def test_fanout_50_subscribers_in_order(node, clients, topic):
    subs = []
    for i in range(50):
        c = clients(node, version=V5 if i % 2 else V3)
        c.connect()
        c.subscribe(f"{topic}/#", 1)
        subs.append(c)
    pub = clients(node)
    pub.connect()
    mids = [pub.publish_nowait(f"{topic}/{i % 3}", str(i).encode(), qos=1) for i in range(100)]
    for mid in mids:
        assert pub.wait_published(mid, timeout=15) == 0
    for c in subs:
        assert [int(m.payload) for m in c.get_n(100, timeout=15)] == list(range(100)), c.client_id
