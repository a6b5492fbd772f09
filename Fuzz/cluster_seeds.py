#!/usr/bin/env python3
"""Writes the seed corpus for the cluster decoder fuzzer (Fuzz/ClusterDecoderFuzzer.swift). The bytes are written
by hand from the wire formats in the doc comments (ClusterFrame, BinaryTag, CallEnvelope, ReplyEnvelope,
HandshakeHello, HandshakeMessages), not by our encoders, so the seeds do not inherit their mistakes. Compressed
seeds use liblz4 through ctypes, plus one block built by hand.

The first byte of every seed picks the harness target: 0 frames, 1 lz4 payload, 2 BinaryDecoder (the second byte
picks the type), 3 call envelope, 4 reply envelope, 5 handshake frame stream, 6 peer hello (after a bit-index byte).

Usage: cluster_seeds.py <corpus-dir>  (rewrites seed-* files only)."""

import ctypes
import ctypes.util
import struct

FRAMES, LZ4, BINARY, CALL, REPLY, HANDSHAKE, HELLO = range(7)

# Frame kinds.
HELLO_KIND, AUTH, REJECT, CALL_KIND, REPLY_KIND, HEARTBEAT, GOSSIP, LEAVE = 1, 2, 3, 16, 17, 32, 33, 34


def u8(n):
    return struct.pack(">B", n)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def u64(n):
    return struct.pack(">Q", n)


def frame(kind, payload, flags=0):
    """u32 length (kind + flags + payload), u8 kind, u8 flags, payload."""
    return u32(2 + len(payload)) + u8(kind) + u8(flags) + payload


# --- lz4 ---------------------------------------------------------------------------------------------------------

def lz4_block(data):
    """One lz4 block made by liblz4 (LZ4_compress_default)."""
    lib = ctypes.CDLL(ctypes.util.find_library("lz4") or "liblz4.so.1")
    bound = lib.LZ4_compressBound(len(data))
    out = ctypes.create_string_buffer(bound)
    size = lib.LZ4_compress_default(data, out, len(data), bound)
    assert size > 0
    return out.raw[:size]


# By hand, "abc" * 10: token 0x3F (3 literals, match length 4 + 15 + 3 = 22), "abc", offset 3, length byte 3, then
# the last 5 bytes as literals (token 0x50).
HAND_BLOCK = bytes([0x3F]) + b"abc" + bytes([0x03, 0x00, 0x03]) + bytes([0x50]) + b"bcabc"
HAND_PLAIN = b"abc" * 10


def compressed(data, block=None):
    """A compressed frame payload: u32 original size + block."""
    return u32(len(data)) + (block if block is not None else lz4_block(data))


# --- BinaryEncoder format (see BinaryTag) -------------------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


NIL, FALSE, TRUE = b"\x00", b"\x01", b"\x02"


def uint(n):
    return b"\x03" + varint(n)


def sint(n):
    return b"\x04" + varint((n << 1) ^ (n >> 63) if n < 0 else n << 1)


def f32(x):
    return b"\x05" + struct.pack("<f", x)


def f64(x):
    return b"\x06" + struct.pack("<d", x)


def string(text):
    data = text.encode()
    return b"\x07" + varint(len(data)) + data


def blob(data):
    return b"\x08" + varint(len(data)) + data


def array(*values):
    body = b"".join(values)
    return b"\x09" + varint(len(body)) + body


def keyed(**fields):
    body = b"".join(varint(len(k.encode())) + k.encode() + v for k, v in fields.items())
    return b"\x0a" + varint(len(body)) + body


def some(value):
    return b"\x0b" + value


def node_id(name, incarnation):
    return keyed(name=string(name), incarnation=uint(incarnation))


def endpoint(host, port):
    return keyed(host=string(host), port=sint(port))


def member(name, incarnation, host, port, role=1, weight=1.0, status=2, version=1):
    return keyed(id=node_id(name, incarnation), endpoint=endpoint(host, port), role=uint(role), weight=f64(weight),
                 status=uint(status), version=uint(version))


MEMBERS = array(
    member("starling@10.0.0.1", 1732521600000000, "10.0.0.1", 4370),
    member("gw-1", 1732521600000001, "2001:db8::1", 4370, role=2, weight=0.0, status=1, version=3),
    member("node_3", 7, "node-3.local", 65535, weight=2.5, status=5, version=1 << 40),
)


def remote_error(code, detail, file="ClusterTransport/System.swift", line=42):
    return keyed(code=uint(code), detail=string(detail), file=string(file), line=uint(line))


OWNED_ID = keyed(node=node_id("starling@10.0.0.1", 1732521600000000), path=string("/topics/3"))
KEYED_ID = keyed(key=string("session/sensor-17"))

RECORD = keyed(
    id=uint(1), name=string("root"), kind=string("beta"),
    shape=keyed(labelled=keyed(_0=string("L"), tag=uint(7))),
    maybe=NIL, tags=array(string("a"), string("b")), bytes=blob(b"\x00\xff"),
    layers=array(NIL, some(NIL), some(sint(4)), sint(5)), deep=some(NIL),
    ratio=keyed(value=f32(0.5)), precise=f64(-2.25), small=sint(-128), flag=TRUE, blob=blob(b"bytes"),
    children=array(
        keyed(id=uint(2), kind=string("alpha"), shape=keyed(circle=keyed(radius=sint(-3))), maybe=sint(9),
              tags=array(), bytes=blob(b""), small=sint(127), flag=FALSE),
        keyed(id=uint(3), kind=string("gamma"), shape=keyed(point=keyed()), tags=array(string("")), bytes=blob(b"x"),
              small=sint(0), flag=TRUE, children=array()),
    ),
)


def nested_record(levels):
    """A FuzzRecord `levels` records deep. Each level adds two to the coding path (the children key and the array
    index), so 32 levels decode and 33 exceed BinaryDecoder.maxDepth (64)."""
    record = keyed(id=uint(levels), kind=string("alpha"), tags=array(), bytes=blob(b""), small=sint(0), flag=FALSE)
    for level in range(levels - 1):
        record = keyed(id=uint(level), kind=string("alpha"), tags=array(), bytes=blob(b""), small=sint(0), flag=TRUE,
                       children=array(record))
    return record


BINARY_SEEDS = {
    # The second byte is the index in `binaryTargets`.
    "binary-members": (0, MEMBERS),
    "binary-members-empty": (0, array()),
    "binary-remote-call-error": (1, remote_error(8, "owner is starling@10.0.0.2")),
    "binary-actor-id-owned": (2, OWNED_ID),
    "binary-actor-id-keyed": (2, KEYED_ID),
    "binary-string-int-table": (3, keyed(a=array(sint(1), sint(-2), sint(1 << 40)), b=array(), c=array(sint(0)))),
    "binary-record": (4, RECORD),
    "binary-record-nested-32": (4, nested_record(32)),
    "binary-record-nested-33": (4, nested_record(33)),
    "binary-int-string-table": (5, keyed(**{"1": string("one"), "-7": string("minus seven"), "300": string("")})),
    "binary-node-endpoint-table": (6, array(node_id("a", 1), endpoint("10.0.0.1", 1),
                                            node_id("b", 2), endpoint("[::1]", 2))),
    "binary-optional-ids": (7, array(OWNED_ID, NIL, KEYED_ID)),
    "binary-manual": (8, keyed(numbers=array(sint(-300), uint(7)), flags=array(TRUE, NIL, FALSE), super=uint(9),
                               gap=NIL, inner=keyed(value=uint(65535)),
                               list=array(keyed(value=sint(-5)), array(f32(1.5), uint((1 << 64) - 1)), string("n")),
                               single=sint(-(1 << 62)))),
}


# --- Envelopes ----------------------------------------------------------------------------------------------------

def short(text):
    data = text.encode() if isinstance(text, str) else text
    return u16(len(data)) + data


ARGUMENTS = string("hello") + sint(42) + keyed(a=array(sint(1), sint(2)))


def call_owned(call_id=1, target="$s10ClusterProbe5EchoC4echoyS2SYaKFTE", substitutions=(), arguments=ARGUMENTS):
    return (u64(call_id) + u32(5000) + u8(1) + short("starling@10.0.0.1") + u64(1732521600000000)
            + short("/topics/3") + short(target) + u8(len(substitutions))
            + b"".join(short(s) for s in substitutions) + arguments)


def call_keyed(call_id=2, key="session/sensor-17", target="deliver", arguments=b""):
    return u64(call_id) + u32(250) + u8(2) + short(key) + short(target) + u8(0) + arguments


def reply(call_id, tag, rest=b""):
    return u64(call_id) + u8(tag) + rest


# --- Handshake ----------------------------------------------------------------------------------------------------

def hello(name="starling@10.0.0.2", incarnation=1732521600000000, host="10.0.0.2", port=4370, role=1, weight=1.0,
          features=1, nonce=bytes(range(32)), major=1, minor=0, trailing=b""):
    name, host = name.encode(), host.encode()
    return (b"STRL" + u16(major) + u16(minor) + u8(len(name)) + name + u64(incarnation) + u8(len(host)) + host
            + u16(port) + u8(role) + struct.pack(">d", weight) + u32(features) + nonce + trailing)


def reject(code, reason):
    data = reason if isinstance(reason, bytes) else reason.encode()
    return u8(code) + u16(len(data)) + data


PEER_HELLO = hello()
FAKE_TAG = bytes(range(100, 132))

SEEDS = {
    # 0: frame streams.
    "frames-handshake": bytes([FRAMES]) + frame(HELLO_KIND, PEER_HELLO) + frame(AUTH, FAKE_TAG)
    + frame(REJECT, reject(6, "wrong cookie")),
    "frames-call-reply": bytes([FRAMES]) + frame(CALL_KIND, call_owned()) + frame(REPLY_KIND, reply(1, 1, sint(42))),
    "frames-gossip-heartbeat-leave": bytes([FRAMES]) + frame(GOSSIP, MEMBERS) + frame(HEARTBEAT, b"")
    + frame(LEAVE, b""),
    "frames-gossip-lz4": bytes([FRAMES]) + frame(GOSSIP, compressed(MEMBERS * 4), flags=1)
    + frame(HEARTBEAT, compressed(HAND_PLAIN, HAND_BLOCK), flags=1),
    "frames-unknown-kind-and-partial": bytes([FRAMES]) + frame(0x7F, b"future") + frame(CALL_KIND, call_keyed())[:9],
    "bad-frame-flags": bytes([FRAMES]) + frame(GOSSIP, b"x", flags=0x03),
    "bad-frame-too-short": bytes([FRAMES]) + u32(1) + u8(GOSSIP),
    "bad-frame-too-large": bytes([FRAMES]) + u32(1 << 20) + u8(GOSSIP) + u8(0),
    # 1: compressed payloads.
    "lz4-members": bytes([LZ4]) + compressed(MEMBERS * 4),
    "lz4-hand-block": bytes([LZ4]) + compressed(HAND_PLAIN, HAND_BLOCK),
    "lz4-literals-only": bytes([LZ4]) + compressed(b"hello", b"\x50hello"),
    "lz4-empty": bytes([LZ4]) + compressed(b"", b"\x00"),
    "bad-lz4-size-mismatch": bytes([LZ4]) + u32(31) + HAND_BLOCK,
    "bad-lz4-declared-too-large": bytes([LZ4]) + u32(1 << 24) + HAND_BLOCK,
    # 3: call envelopes.
    "call-owned-generic": bytes([CALL]) + call_owned(substitutions=("Swift.Int", "Swift.String")),
    "call-keyed": bytes([CALL]) + call_keyed(arguments=string("t") + sint(-1) + keyed()),
    "bad-call-recipient-kind": bytes([CALL]) + u64(3) + u32(1) + u8(9) + short("x"),
    "bad-call-node-name": bytes([CALL]) + u64(4) + u32(1) + u8(1) + short("no spaces") + u64(1) + short("/p")
    + short("t") + u8(0),
    # 4: reply envelopes.
    "reply-void": bytes([REPLY]) + reply(1, 0),
    "reply-value": bytes([REPLY]) + reply(2, 1, string("pong")),
    "reply-error": bytes([REPLY]) + reply(3, 2, short("Starling.BrokerError") + keyed(reason=string("full"))),
    "reply-system-error": bytes([REPLY]) + reply(4, 3, remote_error(3, "no actor /topics/9")),
    "reply-system-error-unreadable": bytes([REPLY]) + reply(5, 3, b"\x0a\x05\x01"),
    # 5: handshake frame streams.
    "handshake-hello-then-forged-auth": bytes([HANDSHAKE]) + frame(HELLO_KIND, PEER_HELLO) + frame(AUTH, FAKE_TAG),
    "handshake-hello-then-reject": bytes([HANDSHAKE]) + frame(HELLO_KIND, PEER_HELLO)
    + frame(REJECT, reject(6, "wrong cookie\x1b[31m")),
    "handshake-duplicate-hello": bytes([HANDSHAKE]) + frame(HELLO_KIND, PEER_HELLO) + frame(HELLO_KIND, PEER_HELLO),
    "handshake-auth-before-hello": bytes([HANDSHAKE]) + frame(AUTH, FAKE_TAG),
    "handshake-reject-first": bytes([HANDSHAKE]) + frame(REJECT, reject(2, "incompatible version 2.0")),
    # Invalid UTF-8 grows as U+FFFD, and a cut at 256 bytes can fall inside a character.
    "handshake-reject-invalid-utf8": bytes([HANDSHAKE]) + frame(REJECT, reject(0, b"\xff" * 90 + b"\xc3")),
    "handshake-reject-long-reason": bytes([HANDSHAKE]) + frame(REJECT, reject(200, "r" * 255 + "\u00e9\u2028")),
    "handshake-unexpected-call": bytes([HANDSHAKE]) + frame(CALL_KIND, call_keyed()),
    "handshake-compressed-hello": bytes([HANDSHAKE]) + frame(HELLO_KIND, compressed(PEER_HELLO), flags=1),
    "handshake-bad-magic": bytes([HANDSHAKE]) + frame(HELLO_KIND, b"STRX" + PEER_HELLO[4:]),
    "handshake-major-2": bytes([HANDSHAKE]) + frame(HELLO_KIND, hello(major=2)),
    "handshake-self": bytes([HANDSHAKE]) + frame(HELLO_KIND, hello(name="fuzz-local", incarnation=1)),
    "handshake-reflected-nonce": bytes([HANDSHAKE]) + frame(HELLO_KIND, hello(nonce=b"\xa5" * 32)),
    "handshake-bad-node-name": bytes([HANDSHAKE]) + frame(HELLO_KIND, hello(name="bad name")),
    "handshake-minor-0-trailing": bytes([HANDSHAKE]) + frame(HELLO_KIND, hello(trailing=b"\x00")),
    # 6: a peer hello, answered by the harness as a peer that knows the cookie (the first byte picks a MAC bit).
    "hello-v1.0": bytes([HELLO, 0]) + PEER_HELLO,
    "hello-v1.3-extension": bytes([HELLO, 77]) + hello(minor=3, trailing=b"\x01\x02\x03"),
    "hello-gateway-ipv6": bytes([HELLO, 255]) + hello(name="gw-1", host="2001:db8::2", port=1, role=2, weight=0.0,
                                                      features=0xFFFFFFFF),
    "hello-heavy-node": bytes([HELLO, 128]) + hello(name="a" * 64, host="h" * 255, port=65535, weight=1e300,
                                                     incarnation=(1 << 64) - 1),
}
for name, (which, value) in BINARY_SEEDS.items():
    SEEDS[name] = bytes([BINARY, which]) + value


def main():
    from seeds import write_seeds  # Fuzz/seeds.py, beside this script

    write_seeds(SEEDS, "corpus-cluster")


if __name__ == "__main__":
    main()
