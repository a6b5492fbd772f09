#!/usr/bin/env python3
"""Writes the seed corpus for the MQTT decoder fuzzer: small, valid byte streams covering every packet type in
MQTT 3.1, 3.1.1 and 5. Built by hand from the spec (and a few mosquitto captures) rather than by our encoder, so
the seeds do not inherit its mistakes. Usage: seeds.py <corpus-dir>  (rewrites seed-* files only)."""

import pathlib
import sys


def vbi(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def b(data):
    return len(data).to_bytes(2, "big") + data


def pkt(first, body):
    return bytes([first]) + vbi(len(body)) + body


def props(raw):
    return vbi(len(raw)) + raw


def u16(n):
    return n.to_bytes(2, "big")


def u32(n):
    return n.to_bytes(4, "big")


USER = b"\x26" + s("k") + s("v") + b"\x26" + s("k") + s("w")


def connect(level, flags=0x02, body_props=b"", payload=None):
    name = "MQIsdp" if level == 3 else "MQTT"
    prop_block = props(body_props) if level == 5 else b""
    return pkt(0x10, s(name) + bytes([level, flags]) + u16(60) + prop_block + (payload or s("seed")))


C311 = connect(4)
C5 = connect(5)
C31 = connect(3)

SEEDS = {
    # Client to server, 3.1.1 (each stream starts with CONNECT so the server role gets past it).
    "v311-connect-will-user-password": connect(
        4, 0xEE, payload=s("starling-pub") + s("will/t") + b(b"bye") + s("alice") + b(b"secret")),
    "v311-publish-qos0-qos1-qos2": C311 + pkt(0x30, s("a/b") + b"hi") + pkt(0x32, s("a/b") + u16(1) + b"hello")
    + pkt(0x3D, s("a/b") + u16(2) + b"x"),
    "v311-acks": C311 + pkt(0x40, u16(1)) + pkt(0x50, u16(2)) + pkt(0x62, u16(2)) + pkt(0x70, u16(2)),
    "v311-subscribe-unsubscribe": C311
    + pkt(0x82, u16(3) + s("a/+") + b"\x00" + s("b/#") + b"\x02" + s("$share/g/c") + b"\x01")
    + pkt(0xA2, u16(4) + s("a/+") + s("b/#")),
    "v311-ping-disconnect": C311 + pkt(0xC0, b"") + pkt(0xE0, b""),
    # Server to client, 3.1.1 (for the client-role decoders).
    "v311-server-stream": pkt(0x20, b"\x01\x00") + pkt(0x90, u16(3) + b"\x00\x01\x02\x80") + pkt(0xB0, u16(4))
    + pkt(0x31, s("x/y") + b"retained") + pkt(0xD0, b""),
    "v311-connack-refused": pkt(0x20, b"\x00\x05"),
    # 3.1.
    "v31-connect-subscribe": C31 + pkt(0x82, u16(1) + s("a/+") + b"\x02" + s("b/#") + b"\x02"),
    "v31-connect-will": connect(3, 0x2E, payload=s("c31") + s("w") + b(b"gone")),
    # Client to server, 5.
    "v5-connect-properties": connect(
        5, 0xC2,
        b"\x11" + u32(3600) + b"\x21" + u16(20) + b"\x22" + u16(10) + b"\x27" + u32(65536) + b"\x17\x01\x19\x01"
        + b"\x15" + s("SCRAM") + b"\x16" + b(b"\x00\x01") + USER,
        payload=s("c5") + s("user") + b(b"pw")),
    "v5-connect-will-properties": connect(
        5, 0x36,
        payload=s("c5w") + props(b"\x18" + u32(5) + b"\x01\x01" + b"\x02" + u32(60) + b"\x03" + s("text/plain")
                                 + b"\x08" + s("reply/t") + b"\x09" + b(b"corr") + USER) + s("will/t") + b(b"bye")),
    "v5-connect-password-only": connect(5, 0x42, payload=s("") + b(b"token")),
    "v5-publish-properties": C5 + pkt(0x33, s("sensors/temp") + u16(1) + props(
        b"\x01\x01\x02" + u32(60) + b"\x03" + s("text/plain") + b"\x08" + s("r/t") + b"\x09" + b(b"id")
        + b"\x23" + u16(3) + USER) + b"21.5"),
    "v5-publish-topic-alias": C5 + pkt(0x30, s("") + props(b"\x23" + u16(3)) + b"aliased"),
    "v5-publish-qos2-dup": C5 + pkt(0x3C, s("q/2") + u16(65535) + props(b"") + b"\x00\xff"),
    "v5-acks-with-reasons": C5 + pkt(0x40, u16(1)) + pkt(0x40, u16(2) + b"\x10")
    + pkt(0x50, u16(3) + b"\x80" + props(b"\x1f" + s("no"))) + pkt(0x62, u16(3) + b"\x92" + props(USER))
    + pkt(0x70, u16(3) + b"\x00" + props(b"")),
    "v5-subscribe-options": C5 + pkt(0x82, u16(7) + props(b"\x0b\x80\x01" + USER) + s("a/+") + b"\x2d" + s("#")
                                     + b"\x1a" + s("$share/g/x/#") + b"\x01" + s("$queue/jobs") + b"\x22"),
    "v5-unsubscribe": C5 + pkt(0xA2, u16(8) + props(USER) + s("a/+") + s("$share/g/x/#")),
    "v5-ping-disconnect-reason": C5 + pkt(0xC0, b"") + pkt(0xE0, b"\x04" + props(
        b"\x11" + u32(0) + b"\x1f" + s("bye") + USER)),
    "v5-auth": C5 + pkt(0xF0, b"\x18" + props(b"\x15" + s("SCRAM") + b"\x16" + b(b"nonce") + b"\x1f" + s("more")))
    + pkt(0xF0, b""),
    "v5-disconnect-empty": C5 + pkt(0xE0, b""),
    # Server to client, 5.
    "v5-connack-properties": pkt(0x20, b"\x01\x00" + props(
        b"\x11" + u32(7200) + b"\x12" + s("auto-1") + b"\x13" + u16(30) + b"\x1a" + s("resp/") + b"\x1c" + s("other")
        + b"\x21" + u16(100) + b"\x22" + u16(5) + b"\x24\x01\x25\x00\x27" + u32(1 << 20)
        + b"\x28\x01\x29\x00\x2a\x01" + b"\x1f" + s("ok") + USER)),
    "v5-server-stream": pkt(0x20, b"\x00\x00\x00") + pkt(0x90, u16(7) + props(b"\x1f" + s("partly")) + b"\x01\x02\x87")
    + pkt(0xB0, u16(8) + props(b"") + b"\x00\x11") + pkt(0x32, s("a/b") + u16(9) + props(
        b"\x0b\x01\x0b\xff\xff\xff\x7f") + b"p") + pkt(0xD0, b""),
    "v5-server-disconnect": pkt(0xE0, b"\x9c" + props(b"\x1c" + s("node-2:1883"))),
    # A 2-byte remaining length.
    "v311-publish-200-bytes": C311 + pkt(0x30, s("big") + bytes(range(200))),
    # A few deliberately bad streams, so error paths start covered.
    "bad-first-not-connect": pkt(0xC0, b""),
    "bad-protocol-level": connect(6),
    "bad-reserved-flag": connect(4, 0x03),
    "bad-oversize-header": C311 + b"\x30\xff\xff\xff\x7f",
    "bad-five-byte-length": C311 + b"\x30\xff\xff\xff\xff\x7f",
    "bad-publish-qos3": C311 + pkt(0x36, s("a") + u16(1)),
    "bad-utf8-surrogate": C5 + pkt(0x30, b(b"\xed\xa0\x80") + props(b"")),
    "bad-duplicate-property": C5 + pkt(0x30, s("t") + props(b"\x02" + u32(1) + b"\x02" + u32(2))),
}


def write_seeds(seeds: dict, default_directory: str) -> None:
    """Replaces the seed-* files of the corpus directory (argv[1], else Fuzz/<default_directory>) with `seeds`."""
    corpus = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / default_directory)
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        (corpus / f"seed-{name}").write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {corpus}")


def main():
    write_seeds(SEEDS, "corpus")


if __name__ == "__main__":
    main()
