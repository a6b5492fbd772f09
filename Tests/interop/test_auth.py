"""Authentication (mosquitto_passwd password file) and ACL enforcement, seen from paho and raw clients."""

import pytest

from conftest import USERS, write_password_file
from paho_util import V3, V5

VERSIONS = [pytest.param(V3, id="v311"), pytest.param(V5, id="v5")]


@pytest.mark.parametrize("version", VERSIONS)
def test_correct_password_accepted(auth_node, clients, version):
    for user, password in USERS.items():
        c = clients(auth_node, version=version, username=user, password=password)
        assert c.connect().reason_code == 0


def test_wrong_password_v311_rc4(auth_node):
    raw = auth_node.raw()
    present, rc, _ = raw.connect("wrong-pw", version=4, username="alice", password="not-it")
    assert (present, rc) == (False, 4), f"expected CONNACK rc 4 (bad user name or password), got {rc}"
    closed, _ = raw.wait_closed(2)
    assert closed


def test_wrong_password_v5_0x86(auth_node, clients):
    c = clients(auth_node, username="alice", password="not-it")
    ack = c.connect(expect_success=False)
    assert ack.reason_code == 0x86, f"expected 0x86 Bad User Name or Password, got {ack.reason_code:#x}"
    c.wait_disconnected(2)


def test_unknown_user_refused(auth_node):
    raw = auth_node.raw()
    _, rc, _ = raw.connect("nobody", version=5, username="mallory", password="x")
    assert rc == 0x86


def test_anonymous_refused(auth_node):
    v3 = auth_node.raw()
    _, rc3, _ = v3.connect("anon3", version=4)
    # 3.1.1 has rc 4 (bad user name or password) and 5 (not authorized); either is a correct refusal.
    assert rc3 in (4, 5), f"anonymous 3.1.1 CONNACK rc {rc3}"
    v5 = auth_node.raw()
    _, rc5, _ = v5.connect("anon5", version=5)
    assert rc5 in (0x86, 0x87), f"anonymous 5.0 CONNACK reason {rc5:#x}"


def test_anonymous_allowed_with_password_file(start_node, tmp_path, clients, topic):
    """Without --no-allow-anonymous a password file only checks clients that give a user name."""
    pw = write_password_file(tmp_path / "passwd", {"alice": "wonderland"})
    n = start_node("--password-file", str(pw))
    anon = clients(n)
    anon.connect()
    bad = clients(n, username="alice", password="nope")
    assert bad.connect(expect_success=False).reason_code == 0x86


@pytest.mark.parametrize("version", VERSIONS)
def test_acl_denied_subscribe(auth_node, clients, version):
    alice = clients(auth_node, version=version, username="alice", password="wonderland")
    alice.connect()
    denied = 0x87 if version == V5 else 0x80
    assert alice.subscribe([("secret/plans", 1), ("public/news", 1), ("secret/#", 0)]) == [denied, 1, denied]
    bob = clients(auth_node, version=version, username="bob", password="builder")
    bob.connect()
    assert bob.subscribe("secret/plans", 1) == [1]


def test_acl_denied_subscribe_gets_nothing(auth_node, clients):
    alice = clients(auth_node, username="alice", password="wonderland")
    alice.connect()
    assert alice.subscribe([("secret/plans", 1), ("public/marker", 1)]) == [0x87, 1]
    bob = clients(auth_node, username="bob", password="builder")
    bob.connect()
    bob.publish("secret/plans", b"classified", qos=1)
    bob.publish("public/marker", b"m", qos=1)
    assert [m.topic for m in alice.get_until("public/marker")] == ["public/marker"]


def test_acl_username_substitution(auth_node, clients):
    alice = clients(auth_node, username="alice", password="wonderland")
    alice.connect()
    assert alice.subscribe([("users/alice/inbox", 1), ("users/bob/inbox", 1)]) == [1, 0x87]


def test_acl_denied_publish_v5_puback_0x87(auth_node, clients):
    bob = clients(auth_node, username="bob", password="builder")
    bob.connect()
    assert bob.subscribe([("readonly/#", 1), ("public/marker", 1)]) == [1, 1]
    alice = clients(auth_node, username="alice", password="wonderland")
    alice.connect()
    assert alice.publish("readonly/data", b"forbidden", qos=1) == 0x87
    assert alice.publish("public/marker", b"m", qos=1) == 0
    assert [m.topic for m in bob.get_until("public/marker")] == ["public/marker"], "denied publish was delivered"
    # The connection stays usable after a denied publish.
    assert alice.publish("public/marker", b"again", qos=1) == 0


def test_acl_denied_publish_v311_dropped(auth_node, clients):
    bob = clients(auth_node, version=V3, username="bob", password="builder")
    bob.connect()
    bob.subscribe([("readonly/#", 1), ("public/marker", 1)])
    alice = clients(auth_node, version=V3, username="alice", password="wonderland")
    alice.connect()
    alice.publish("readonly/data", b"forbidden", qos=1)  # 3.1.1 cannot say no: PUBACK, then drop
    alice.publish("public/marker", b"m", qos=1)
    assert [m.topic for m in bob.get_until("public/marker")] == ["public/marker"], "denied publish was delivered"


def test_acl_denied_will_not_published(auth_node, clients):
    bob = clients(auth_node, username="bob", password="builder")
    bob.connect()
    bob.subscribe([("readonly/#", 1), ("public/marker", 1)])
    alice = clients(auth_node, username="alice", password="wonderland")
    alice.c.will_set("readonly/will", b"forbidden-will", qos=1)
    ack = alice.connect(expect_success=False)
    if ack.reason_code == 0:  # accepting the CONNECT is fine, but the will must then be dropped
        alice.drop()
        admin = clients(auth_node, username="admin", password="s3cret!")
        admin.connect()
        admin.publish("public/marker", b"m", qos=1)
        assert [m.topic for m in bob.get_until("public/marker")] == ["public/marker"]
        bob.assert_no_message(0.5)
    else:
        assert ack.reason_code == 0x87


def test_acl_subscription_overlapping_denied_subtree(auth_node, clients):
    """A deny rule refuses every subscription that could match a denied topic ('#' overlaps 'secret/#')."""
    alice = clients(auth_node, username="alice", password="wonderland")
    alice.connect()
    assert alice.subscribe([("#", 0), ("+/plans", 0), ("public/#", 0)]) == [0x87, 0x87, 0]
    bob = clients(auth_node, username="bob", password="builder")
    bob.connect()
    # For bob, "secret/#" is fine, but "#" and "+/plans" overlap "users/#" (denied beyond users/bob/#).
    assert bob.subscribe([("secret/#", 0), ("#", 0), ("+/plans", 0), ("users/bob/#", 0)]) == [0, 0x87, 0x87, 0]
    admin = clients(auth_node, username="admin", password="s3cret!")
    admin.connect()
    assert admin.subscribe([("#", 0), ("+/plans", 0)]) == [0, 0]


def test_password_file_sha512_hash(start_node, tmp_path, clients):
    """mosquitto 1.x `$6$` lines (one SHA-512 over password+salt) next to a mosquitto_passwd 2.x `$7$` line."""
    import base64
    import hashlib
    pw = write_password_file(tmp_path / "passwd", {"new": "pbkdf2-pass"})
    salt = bytes(range(12))
    digest = hashlib.sha512(b"legacy-pass" + salt).digest()
    with open(pw, "a") as f:
        f.write(f"legacy:$6${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n")
    n = start_node("--password-file", str(pw), "--no-allow-anonymous")
    for user, password, expected in [("legacy", "legacy-pass", 0), ("legacy", "wrong", 0x86),
                                     ("new", "pbkdf2-pass", 0), ("new", "legacy-pass", 0x86)]:
        c = clients(n, username=user, password=password)
        assert c.connect(expect_success=False).reason_code == expected, (user, password)


def test_acl_client_and_anonymous_subjects(start_node, tmp_path, clients):
    acl = tmp_path / "acl"
    acl.write_text("deny client:spy subscribe #\n"
                   "allow anonymous publish anon/%c/#\n"
                   "deny anonymous publish #\n"
                   "allow all subscribe clients/%c/#\n"
                   "deny all subscribe clients/#\n")
    pw = write_password_file(tmp_path / "passwd", {"carol": "c"})
    n = start_node("--acl-file", str(acl), "--password-file", str(pw))
    spy = clients(n, "spy")
    spy.connect()
    assert spy.subscribe("anything", 0) == [0x87]
    anon = clients(n, "anon-1")
    anon.connect()
    assert anon.publish("anon/anon-1/x", b"ok", qos=1) == 0x10  # allowed (nobody subscribed)
    assert anon.publish("anon/anon-2/x", b"no", qos=1) == 0x87  # %c is the client's own id
    assert anon.publish("elsewhere", b"no", qos=1) == 0x87
    assert anon.subscribe([("clients/anon-1/in", 0), ("clients/other/in", 0)]) == [0, 0x87]
    carol = clients(n, "carol-1", username="carol", password="c")
    carol.connect()
    assert carol.publish("elsewhere", b"ok", qos=1) == 0x10  # "anonymous" rules do not apply to carol
