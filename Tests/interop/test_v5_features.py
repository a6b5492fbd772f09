"""paho-mqtt MQTT 5 features: assigned client id, topic aliases, subscription identifiers, No Local, property
pass-through, shared subscriptions, $SYS, PUBACK reason codes, request/response information."""

from paho_util import V3, PacketTypes, props, sub_opts


def test_assigned_client_identifier(node, clients):
    c = clients(node, "")
    ack = c.connect()
    assigned = ack.properties.AssignedClientIdentifier
    assert isinstance(assigned, str) and assigned, "CONNACK must carry an Assigned Client Identifier"
    other = clients(node, "")
    assert other.connect().properties.AssignedClientIdentifier != assigned


def test_v311_empty_client_id(node, clients, topic):
    """3.1.1: an empty client id is accepted with clean session, and rejected (rc 2) without [MQTT-3.1.3-8]."""
    c = clients(node, "", V3, clean=True)
    c.connect()
    c.subscribe(topic, 1)
    c.publish(topic, b"x", qos=1)
    assert c.get().payload == b"x"
    raw = node.raw()
    present, rc, _ = raw.connect("", version=4, clean=False)
    assert rc == 2, f"expected CONNACK return code 2 (identifier rejected), got {rc}"


def test_connack_properties(node, clients):
    ack = clients(node).connect()
    p = ack.properties
    assert p.TopicAliasMaximum > 0
    assert p.ReceiveMaximum == 1024
    assert getattr(p, "SharedSubscriptionAvailable", 1) == 1
    assert getattr(p, "WildcardSubscriptionAvailable", 1) == 1
    assert getattr(p, "SubscriptionIdentifierAvailable", 1) == 1
    assert getattr(p, "RetainAvailable", 1) == 1


def test_topic_alias_from_client(node, clients, topic):
    sub = clients(node)
    sub.connect()
    sub.subscribe(f"{topic}/#", 1)
    pub = clients(node)
    ack = pub.connect()
    assert ack.properties.TopicAliasMaximum >= 1
    t = f"{topic}/aliased/long/topic/name"
    pub.publish(t, b"first", qos=1, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    pub.publish("", b"second", qos=1, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    # Re-map alias 1 to another topic, then use it again.
    pub.publish(f"{topic}/other", b"third", qos=1, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    pub.publish("", b"fourth", qos=0, properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    msgs = sub.get_n(4)
    got = [(m.topic, m.payload) for m in msgs]
    assert got == [(t, b"first"), (t, b"second"), (f"{topic}/other", b"third"), (f"{topic}/other", b"fourth")]
    # The subscriber did not allow aliases (no Topic Alias Maximum), so it must get no TopicAlias property.
    assert [m.p("TopicAlias") for m in msgs] == [None] * 4


def test_topic_alias_out_of_range_is_protocol_error(node, clients, topic):
    pub = clients(node)
    ack = pub.connect()
    too_big = ack.properties.TopicAliasMaximum + 1
    pub.publish_nowait(f"{topic}/x", b"bad", qos=0, properties=props(PacketTypes.PUBLISH, TopicAlias=too_big),
                       refused=True)
    assert pub.wait_disconnected() == 0x94, "expected DISCONNECT Topic Alias invalid (0x94)"


def test_subscription_identifiers(node, clients, topic):
    sub = clients(node)
    sub.connect()
    sub.subscribe(f"{topic}/a/#", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42))
    sub.subscribe(f"{topic}/+/b", 1, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=268_435_455))
    sub.subscribe(f"{topic}/c", 1)  # no identifier
    pub = clients(node)
    pub.connect()
    pub.publish(f"{topic}/a/x", b"one", qos=1)
    m = sub.get()
    assert (m.payload, m.p("SubscriptionIdentifier")) == (b"one", [42])
    pub.publish(f"{topic}/c", b"none", qos=1)
    m = sub.get()
    assert (m.payload, m.p("SubscriptionIdentifier")) == (b"none", None)
    pub.publish(f"{topic}/a/b", b"both", qos=1)
    # Overlapping subscriptions: either one copy carrying both identifiers, or one copy per subscription.
    first = sub.get()
    ids = list(first.p("SubscriptionIdentifier") or [])
    if len(ids) == 1:
        ids += sub.get().p("SubscriptionIdentifier") or []
    assert sorted(ids) == [42, 268_435_455]


def test_no_local(node, clients, topic):
    me = clients(node)
    me.connect()
    me.subscribe(topic, options=sub_opts(1, no_local=True))
    me.subscribe(f"{topic}/marker", 1)
    other = clients(node)
    other.connect()
    other.subscribe(topic, 1)
    me.publish(topic, b"mine", qos=1)
    assert other.get().payload == b"mine"  # the message was routed...
    other.publish(f"{topic}/marker", b"m", qos=1)
    got = [(m.topic, m.payload) for m in me.get_until(f"{topic}/marker")]
    assert got == [(f"{topic}/marker", b"m")], "...but not back to its publisher"
    other.publish(topic, b"theirs", qos=1)  # No Local only filters our own messages
    assert me.get().payload == b"theirs"


def test_properties_passed_through_unchanged(node, clients, topic):
    sub = clients(node)
    sub.connect()
    sub.subscribe(topic, 2)
    pub = clients(node)
    pub.connect()
    user = [("key", "v1"), ("key", "v2"), ("ünïcode", "✓"), ("empty", "")]
    correlation = bytes(range(256))
    p = props(PacketTypes.PUBLISH, UserProperty=user, ResponseTopic=f"{topic}/reply", CorrelationData=correlation,
              ContentType="application/x-test; charset=utf-8", PayloadFormatIndicator=1)
    pub.publish(topic, "utf-8 payload ✓".encode(), qos=2, properties=p)
    m = sub.get()
    assert m.payload == "utf-8 payload ✓".encode()
    assert m.p("UserProperty") == user  # order and duplicates preserved [MQTT-3.3.2-18]
    assert m.p("ResponseTopic") == f"{topic}/reply"
    assert m.p("CorrelationData") == correlation
    assert m.p("ContentType") == "application/x-test; charset=utf-8"
    assert m.p("PayloadFormatIndicator") == 1


def test_shared_subscription_round_robin(node, clients, topic):
    members = []
    for _ in range(2):
        c = clients(node)
        c.connect()
        assert c.subscribe(f"$share/g/{topic}", 1) == [1]
        members.append(c)
    plain = clients(node)
    plain.connect()
    plain.subscribe(topic, 1)
    pub = clients(node)
    pub.connect()
    for i in range(10):
        pub.publish(topic, str(i).encode(), qos=1)
    assert [m.payload for m in plain.get_n(10)] == [str(i).encode() for i in range(10)]
    a = [int(m.payload) for m in members[0].get_n(5)]
    b = [int(m.payload) for m in members[1].get_n(5)]
    members[0].assert_no_message(0.2)
    members[1].assert_no_message(0.01)
    assert sorted(a + b) == list(range(10)), "each message to exactly one group member"
    assert {x % 2 for x in a} in ({0}, {1}) and {x % 2 for x in b} in ({0}, {1}), f"not round-robin: {a} / {b}"


def test_queue_subscription(node, clients, topic):
    members = []
    for _ in range(2):
        c = clients(node)
        c.connect()
        assert c.subscribe(f"$queue/{topic}", 1) == [1]
        members.append(c)
    pub = clients(node)
    pub.connect()
    for i in range(10):
        pub.publish(topic, str(i).encode(), qos=1)
    a = [int(m.payload) for m in members[0].get_n(5)]
    b = [int(m.payload) for m in members[1].get_n(5)]
    assert sorted(a + b) == list(range(10))
    members[0].assert_no_message(0.2)
    members[1].assert_no_message(0.01)


def test_shared_subscription_no_retained(node, clients, topic):
    pub = clients(node)
    pub.connect()
    pub.publish(topic, b"retained", qos=1, retain=True)
    s = clients(node)
    s.connect()
    s.subscribe([(f"$share/g/{topic}", 1), (f"{topic}/marker", 1)])
    pub.publish(f"{topic}/marker", b"m", qos=1)
    assert [m.topic for m in s.get_until(f"{topic}/marker")] == [f"{topic}/marker"]


def test_sys_topics(node, clients, topic):
    hash_sub = clients(node)
    hash_sub.connect()
    assert hash_sub.subscribe("#", 0) == [0]
    sys_sub = clients(node)
    sys_sub.connect()
    sys_sub.subscribe("$SYS/brokers/+/uptime", 0)
    first = sys_sub.get(timeout=5)
    second = sys_sub.get(timeout=5)  # a live publication (sys interval 1 s), after hash_sub subscribed
    assert first.topic == "$SYS/brokers/interop0@127.0.0.1/uptime"
    assert int(first.payload) >= 0 and int(second.payload) >= int(first.payload)
    pub = clients(node)
    pub.connect()
    pub.publish(f"{topic}/marker", b"m", qos=1)
    got = [m.topic for m in hash_sub.get_until(f"{topic}/marker")]
    assert [t for t in got if t.startswith("$")] == [], "'#' must not match $-topics [MQTT-4.7.2-1]"


def test_puback_no_matching_subscribers(node, clients, topic):
    pub = clients(node)
    pub.connect()
    assert pub.publish(f"{topic}/nobody", b"x", qos=1) == 0x10
    sub = clients(node)
    sub.connect()
    sub.subscribe(f"{topic}/somebody", 1)
    assert pub.publish(f"{topic}/somebody", b"x", qos=1) == 0x00


def test_response_information(node, clients):
    asked = clients(node, "resp-info")
    ack = asked.connect(properties=props(PacketTypes.CONNECT, RequestResponseInformation=1))
    info = getattr(ack.properties, "ResponseInformation", None)
    assert isinstance(info, str) and info, "CONNACK must carry Response Information when requested"
    not_asked = clients(node)
    ack = not_asked.connect()
    assert getattr(ack.properties, "ResponseInformation", None) is None


def test_request_problem_information_0(node, clients, topic):
    """With Request Problem Information = 0 the server may not send a Reason String or User Property on anything
    but PUBLISH, CONNACK or DISCONNECT [MQTT-3.1.2-29]."""
    c = clients(node)
    c.connect(properties=props(PacketTypes.CONNECT, RequestProblemInformation=0))
    mid = c.publish_nowait(f"{topic}/nobody", b"x", qos=1)
    assert c.wait_published(mid) == 0x10
    # The paho wrapper keeps only the reason code, so check the PUBACK bytes with a raw client as well.
    from mqtt_raw import PROP_REASON_STRING, PROP_USER_PROPERTY, PUBACK, parse_properties, publish
    raw = node.raw()
    raw.connect("rpi0", version=5, props=bytes([0x17, 0]))  # Request Problem Information = 0
    raw.send(publish(f"{topic}/nobody", b"x", qos=1, packet_id=7, version=5))
    ack = raw.expect(PUBACK)
    assert ack.body[:2] == b"\x00\x07" and ack.body[2] == 0x10
    if len(ack.body) > 3:
        p, _ = parse_properties(ack.body, 3)
        assert PROP_REASON_STRING not in p and PROP_USER_PROPERTY not in p
