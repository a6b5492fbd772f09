"""A tiny hand-rolled MQTT 3.1.1 / 5.0 packet codec and blocking socket client.

Used for the tests that need to send what no well-behaved client library would send (garbage, a second CONNECT,
oversized or malformed packets) or to observe exactly what the broker writes back (CONNACK bytes, DISCONNECT reason
codes, the moment the socket is closed). Everything here is bounded by explicit deadlines.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

PACKET_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
    8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "AUTH",
}

# MQTT 5 property identifiers used below.
PROP_PAYLOAD_FORMAT = 0x01
PROP_MESSAGE_EXPIRY = 0x02
PROP_SESSION_EXPIRY = 0x11
PROP_ASSIGNED_CLIENT_ID = 0x12
PROP_REASON_STRING = 0x1F
PROP_RECEIVE_MAXIMUM = 0x21
PROP_TOPIC_ALIAS_MAXIMUM = 0x22
PROP_TOPIC_ALIAS = 0x23
PROP_USER_PROPERTY = 0x26
PROP_MAXIMUM_PACKET_SIZE = 0x27


# --------------------------------------------------------------------------------------------------------------
# Encoding


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s: str | bytes) -> bytes:
    raw = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("!H", len(raw)) + raw


def prop_u32(pid: int, value: int) -> bytes:
    return bytes([pid]) + struct.pack("!I", value)


def prop_u16(pid: int, value: int) -> bytes:
    return bytes([pid]) + struct.pack("!H", value)


def properties(*encoded: bytes) -> bytes:
    body = b"".join(encoded)
    return varint(len(body)) + body


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect(client_id: str | bytes = "", *, version: int = 4, keepalive: int = 60, clean: bool = True,
            props: bytes = b"", username: str | None = None, password: str | bytes | None = None) -> bytes:
    """CONNECT; version 4 = MQTT 3.1.1, 5 = MQTT 5.0. `props` is a pre-encoded property list *without* its length."""
    flags = 0x02 if clean else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = utf8("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        body += properties(props)
    body += utf8(client_id)
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += utf8(password)
    return packet(0x10, body)


def subscribe(packet_id: int, filters: list[tuple[str | bytes, int]], *, version: int = 4, props: bytes = b"") -> bytes:
    body = struct.pack("!H", packet_id)
    if version == 5:
        body += properties(props)
    for topic_filter, options in filters:
        body += utf8(topic_filter) + bytes([options])
    return packet(0x82, body)


def publish(topic: str | bytes, payload: bytes = b"", *, qos: int = 0, packet_id: int = 1, retain: bool = False,
            version: int = 4, props: bytes = b"") -> bytes:
    body = utf8(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    if version == 5:
        body += properties(props)
    return packet(0x30 | (qos << 1) | int(retain), body + payload)


def disconnect(*, version: int = 4, reason: int | None = None) -> bytes:
    if version == 5 and reason is not None:
        return packet(0xE0, bytes([reason, 0]))
    return packet(0xE0, b"")


PINGREQ_BYTES = packet(0xC0, b"")


# --------------------------------------------------------------------------------------------------------------
# Decoding


@dataclass
class Packet:
    type: int
    flags: int
    body: bytes

    @property
    def name(self) -> str:
        return PACKET_NAMES.get(self.type, f"type{self.type}")

    def __repr__(self) -> str:
        return f"<{self.name} flags={self.flags:#x} body={self.body.hex()}>"


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    for i in range(4):
        byte = data[pos + i]
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos + i + 1
    raise ValueError("malformed variable byte integer")


def parse_properties(data: bytes, pos: int) -> tuple[dict[int, list], int]:
    """Returns ({property id: [values...]}, position after the property list). Good enough for the ids we read."""
    length, pos = decode_varint(data, pos)
    end = pos + length
    props: dict[int, list] = {}
    while pos < end:
        pid = data[pos]
        pos += 1
        if pid in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):
            value, pos = data[pos], pos + 1
        elif pid in (0x13, 0x21, 0x22, 0x23):
            value, pos = struct.unpack_from("!H", data, pos)[0], pos + 2
        elif pid in (0x02, 0x11, 0x18, 0x27):
            value, pos = struct.unpack_from("!I", data, pos)[0], pos + 4
        elif pid == 0x0B:
            value, pos = decode_varint(data, pos)
        elif pid == 0x26:
            klen = struct.unpack_from("!H", data, pos)[0]
            key = data[pos + 2:pos + 2 + klen]
            pos += 2 + klen
            vlen = struct.unpack_from("!H", data, pos)[0]
            value = (key, data[pos + 2:pos + 2 + vlen])
            pos += 2 + vlen
        else:  # strings and binary data
            slen = struct.unpack_from("!H", data, pos)[0]
            value, pos = data[pos + 2:pos + 2 + slen], pos + 2 + slen
        props.setdefault(pid, []).append(value)
    return props, end


def connack(p: Packet, version: int) -> tuple[bool, int, dict[int, list]]:
    """(session_present, return/reason code, properties)."""
    assert p.type == CONNACK, f"expected CONNACK, got {p!r}"
    props: dict[int, list] = {}
    if version == 5 and len(p.body) > 2:
        props, _ = parse_properties(p.body, 2)
    return bool(p.body[0] & 1), p.body[1], props


def disconnect_reason(p: Packet) -> int:
    assert p.type == DISCONNECT, f"expected DISCONNECT, got {p!r}"
    return p.body[0] if p.body else 0


def suback_codes(p: Packet, version: int) -> list[int]:
    assert p.type == SUBACK, f"expected SUBACK, got {p!r}"
    pos = 2
    if version == 5:
        _, pos = parse_properties(p.body, pos)
    return list(p.body[pos:])


def publish_fields(p: Packet, version: int) -> tuple[bytes, int, bytes]:
    """(topic bytes, qos, payload)."""
    assert p.type == PUBLISH, f"expected PUBLISH, got {p!r}"
    qos = (p.flags >> 1) & 3
    tlen = struct.unpack_from("!H", p.body, 0)[0]
    topic = p.body[2:2 + tlen]
    pos = 2 + tlen + (2 if qos else 0)
    if version == 5:
        _, pos = parse_properties(p.body, pos)
    return topic, qos, p.body[pos:]


# --------------------------------------------------------------------------------------------------------------
# Blocking client


class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


class RawClient:
    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.received: list[Packet] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes; False on timeout; raises Closed on EOF/reset."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            chunk = b""
        if not chunk:
            self.closed = True
            raise Closed()
        self.buf += chunk
        return True

    def _try_parse(self) -> Packet | None:
        if len(self.buf) < 2:
            return None
        try:
            length, pos = decode_varint(bytes(self.buf), 1)
        except IndexError:
            return None
        if len(self.buf) < pos + length:
            return None
        p = Packet(self.buf[0] >> 4, self.buf[0] & 0x0F, bytes(self.buf[pos:pos + length]))
        del self.buf[:pos + length]
        self.received.append(p)
        return p

    def read(self, timeout: float = 5.0) -> Packet:
        """The next packet; raises TimeoutError, or Closed if the connection ends first."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._try_parse()
            if p is not None:
                return p
            if self.closed:
                raise Closed()
            if not self._fill(deadline):
                raise TimeoutError(f"no complete packet within {timeout}s (buffered: {bytes(self.buf).hex()})")

    def expect(self, ptype: int, timeout: float = 5.0) -> Packet:
        """The next packet, which must be of type `ptype` (PINGRESPs are skipped)."""
        while True:
            p = self.read(timeout)
            if p.type == PINGRESP and ptype != PINGRESP:
                continue
            assert p.type == ptype, f"expected {PACKET_NAMES[ptype]}, got {p!r}"
            return p

    def wait_closed(self, timeout: float) -> tuple[bool, list[Packet]]:
        """Reads until the peer closes or `timeout` passes. Returns (closed, packets read meanwhile)."""
        deadline = time.monotonic() + timeout
        got: list[Packet] = []
        while True:
            try:
                p = self._try_parse()
                if p is not None:
                    got.append(p)
                    continue
                if self.closed:
                    return True, got
                if not self._fill(deadline):
                    return False, got
            except Closed:
                # Parse whatever complete packets were buffered before the close.
                while (p := self._try_parse()) is not None:
                    got.append(p)
                return True, got

    def connect(self, client_id: str = "", *, version: int = 4, **kwargs) -> tuple[bool, int, dict[int, list]]:
        self.send(connect(client_id, version=version, **kwargs))
        return connack(self.expect(CONNACK), version)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
