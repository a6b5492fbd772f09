"""A minimal RFC 6455 client for raw WebSocket tests (handshake, hand-built frames, frame reader with deadlines)."""

from __future__ import annotations

import base64
import os
import select
import socket
import struct
import time

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class WSClient:
    def __init__(self, host: str, port: int, *, path: str = "/mqtt", protocols: str | None = "mqtt",
                 timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if protocols is not None:
            request += f"Sec-WebSocket-Protocol: {protocols}\r\n"
        self.sock.sendall((request + "\r\n").encode())
        response = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in response and time.monotonic() < deadline:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            response += chunk
        head, _, self.buf = response.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        self.closed = False

    @staticmethod
    def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            header = bytes([b0, m | n])
        elif n < 65536:
            header = bytes([b0, m | 126]) + struct.pack("!H", n)
        else:
            header = bytes([b0, m | 127]) + struct.pack("!Q", n)
        if not mask:
            return header + payload
        key = os.urandom(4)
        return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send(self, opcode: int, payload: bytes, **kwargs) -> None:
        self.sock.sendall(self.frame(opcode, payload, **kwargs))

    def frames(self, timeout: float = 1.0, until: int | None = None) -> list[tuple[int, bytes]]:
        """Reads frames for up to `timeout` seconds (or until a frame with opcode `until`, or the close of the
        connection). Returns [(opcode, payload)]; sets self.closed on EOF."""
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buf) >= 2:
                n, pos = self.buf[1] & 0x7F, 2
                if n == 126:
                    if len(self.buf) < 4:
                        break
                    n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127:
                    if len(self.buf) < 10:
                        break
                    n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
                if len(self.buf) < pos + n:
                    break
                out.append((self.buf[0] & 0x0F, self.buf[pos:pos + n]))
                self.buf = self.buf[pos + n:]
                if until is not None and out[-1][0] == until:
                    return out
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return out
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                return out
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ConnectionAbortedError):
                chunk = b""
            if not chunk:
                self.closed = True
                return out
            self.buf += chunk

    def mqtt_packets(self, count: int, timeout: float = 3.0) -> list:
        """Reads binary frames until `count` complete MQTT packets have arrived (a packet may span frames and a
        frame may hold several). Returns mqtt_raw.Packet objects; raises AssertionError on timeout/close."""
        import mqtt_raw

        stream = getattr(self, "_mqtt_stream", b"")
        packets: list = []
        deadline = time.monotonic() + timeout
        while True:
            while len(packets) < count and len(stream) >= 2:
                try:
                    length, pos = mqtt_raw.decode_varint(stream, 1)
                except IndexError:
                    break
                if len(stream) < pos + length:
                    break
                packets.append(mqtt_raw.Packet(stream[0] >> 4, stream[0] & 0x0F, stream[pos:pos + length]))
                stream = stream[pos + length:]
            if len(packets) >= count:
                self._mqtt_stream = stream
                return packets
            remaining = deadline - time.monotonic()
            frames = self.frames(remaining, until=OP_BINARY) if remaining > 0 else []
            stream += b"".join(p for op, p in frames if op in (OP_BINARY, OP_CONT))
            if remaining <= 0 or (self.closed and not frames):
                raise AssertionError(f"got {len(packets)}/{count} MQTT packets over WebSocket "
                                     f"(closed={self.closed}): {packets}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
