"""A thin synchronous wrapper around a paho-mqtt 2.x client (threaded network loop).

Every wait is for a condition signalled by a paho callback (CONNACK, SUBACK, PUBACK/PUBCOMP, message, disconnect),
bounded by a timeout; nothing sleeps to "let things settle".
"""

from __future__ import annotations

import collections
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

V3 = mqtt.MQTTv311
V5 = mqtt.MQTTv5
DEFAULT_TIMEOUT = 5.0


def elapse(seconds: float) -> None:
    """Lets wall-clock time pass. Only for tests whose condition *is* the passage of time (message or session
    expiry); never used to wait for the broker to do something."""
    threading.Event().wait(max(seconds, 0))


def props(packet_type: int, **values: Any) -> Properties:
    """Properties(packet_type) with the given attributes, e.g. props(PacketTypes.PUBLISH, MessageExpiryInterval=5)."""
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def prop(properties: Properties | None, name: str, default: Any = None) -> Any:
    if properties is None:
        return default
    return getattr(properties, name, default)


@dataclass
class Msg:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties | None
    arrived: float = field(default_factory=time.monotonic)

    def p(self, name: str, default: Any = None) -> Any:
        return prop(self.properties, name, default)


@dataclass
class ConnAck:
    reason_code: int  # the MQTT 5 reason code; for 3.1.1 paho maps the return code onto it (4 -> 0x86, 5 -> 0x87)
    reason_name: str
    session_present: bool
    properties: Properties | None


class PahoClient:
    def __init__(self, host: str, port: int, client_id: str = "", version: int = V5, *, clean: bool = True,
                 transport: str = "tcp", tls_ca: str | None = None, tls_cert: str | None = None,
                 tls_key: str | None = None, username: str | None = None,
                 password: str | None = None, keepalive: int = 60):
        self.host, self.port, self.version, self.clean, self.keepalive = host, port, version, clean, keepalive
        self.client_id = client_id
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version, transport=transport,
            clean_session=(clean if version != V5 else None), reconnect_on_failure=False)
        if transport == "websockets":
            self.c.ws_set_options(path="/mqtt")
        if tls_ca is not None:
            self.c.tls_set(ca_certs=tls_ca, certfile=tls_cert, keyfile=tls_key)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.max_inflight_messages_set(1000)
        self.c.max_queued_messages_set(0)
        self.messages: queue.Queue[Msg] = queue.Queue()
        self._cond = threading.Condition()
        self.connack: ConnAck | None = None
        self.disconnect_reason: int | None = None
        self.disconnect_from_server: bool | None = None
        self.disconnect_properties: Properties | None = None
        self.disconnected = threading.Event()
        self._subacks: dict[int, list[int]] = {}
        self._pubacks: dict[int, int] = {}
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_log = self._on_log
        self._log: collections.deque[str] = collections.deque(maxlen=40)
        self._loop_started = False

    # -- callbacks (paho network thread) ----------------------------------------------------------------------

    def _on_log(self, client, userdata, level, buf):
        self._log.append(f"{time.monotonic():.3f} {buf}")

    def diagnostics(self) -> str:
        """Connection state and paho's recent log, for assertion messages."""
        return (f"[{self.client_id}] connack={self.connack} disconnected={self.disconnected.is_set()} "
                f"reason={self.disconnect_reason} from_server={self.disconnect_from_server}\n  paho log:\n    "
                + "\n    ".join(self._log))

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self.connack = ConnAck(reason_code.value, str(reason_code), bool(flags.session_present), properties)
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self.disconnect_reason = reason_code.value if isinstance(reason_code, ReasonCode) else int(reason_code)
            self.disconnect_from_server = flags.is_disconnect_packet_from_server
            self.disconnect_properties = properties
            self.disconnected.set()
            self._cond.notify_all()

    def _on_message(self, client, userdata, message):
        self.messages.put(Msg(message.topic, bytes(message.payload), message.qos, bool(message.retain),
                              getattr(message, "properties", None)))

    def _on_subscribe(self, client, userdata, mid, reason_code_list, properties):
        with self._cond:
            self._subacks[mid] = [rc.value for rc in reason_code_list]
            self._cond.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, reason_code_list, properties):
        with self._cond:
            self._subacks[mid] = [rc.value for rc in reason_code_list]
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._cond:
            self._pubacks[mid] = reason_code.value
            self._cond.notify_all()

    # -- operations -------------------------------------------------------------------------------------------

    def _wait(self, predicate, timeout: float, what: str):
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; {self.diagnostics()}")

    def connect(self, *, clean_start: bool | None = None, properties: Properties | None = None,
                expect_success: bool = True, timeout: float = DEFAULT_TIMEOUT) -> ConnAck:
        """Connects and waits for CONNACK (or for the connection to drop without one)."""
        self.connack = None
        self.disconnected.clear()
        self.disconnect_reason = None
        kwargs: dict[str, Any] = {"keepalive": self.keepalive}
        if self.version == V5:
            kwargs["clean_start"] = self.clean if clean_start is None else clean_start
            if properties is not None:
                kwargs["properties"] = properties
        self.c.connect(self.host, self.port, **kwargs)
        if not self._loop_started:
            self.c.loop_start()
            self._loop_started = True
        self._wait(lambda: self.connack is not None or self.disconnected.is_set(), timeout, "CONNACK")
        if self.connack is None:
            raise AssertionError(f"connection closed before CONNACK (disconnect reason {self.disconnect_reason})")
        if expect_success:
            assert self.connack.reason_code == 0, f"CONNACK refused: {self.connack}"
        return self.connack

    def subscribe(self, topic: str | list, qos: int = 0, *, options: SubscribeOptions | None = None,
                  properties: Properties | None = None, timeout: float = DEFAULT_TIMEOUT) -> list[int]:
        """Subscribes and returns the SUBACK reason codes (for 3.1.1: the granted QoS or 0x80)."""
        if isinstance(topic, list):
            rc, mid = self.c.subscribe(topic, properties=properties)
        elif options is not None:
            rc, mid = self.c.subscribe(topic, options=options, properties=properties)
        else:
            rc, mid = self.c.subscribe(topic, qos, properties=properties)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe() failed locally: {rc}; {self.diagnostics()}"
        self._wait(lambda: mid in self._subacks, timeout, f"SUBACK for {topic!r}")
        with self._cond:
            return self._subacks.pop(mid)

    def unsubscribe(self, topic: str, timeout: float = DEFAULT_TIMEOUT) -> list[int]:
        rc, mid = self.c.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        self._wait(lambda: mid in self._subacks, timeout, f"UNSUBACK for {topic!r}")
        with self._cond:
            return self._subacks.pop(mid)

    def publish_nowait(self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
                       properties: Properties | None = None, refused: bool = False) -> int:
        """Sends a PUBLISH without waiting for its acknowledgement. With `refused`, the broker is expected to close
        the connection over it, which paho may already have seen when publish() returns (then it reports NO_CONN
        although the packet went out); the caller checks the DISCONNECT itself."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        accepted = {mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN} if refused else {mqtt.MQTT_ERR_SUCCESS}
        assert info.rc in accepted, f"publish() failed locally: {info.rc}; {self.diagnostics()}"
        return info.mid

    def wait_published(self, mid: int, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Waits for on_publish (QoS 0: written; QoS 1: PUBACK; QoS 2: PUBCOMP) and returns its reason code."""
        self._wait(lambda: mid in self._pubacks, timeout, f"publish completion (mid {mid})")
        with self._cond:
            return self._pubacks.pop(mid)

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
                properties: Properties | None = None, timeout: float = DEFAULT_TIMEOUT) -> int:
        return self.wait_published(self.publish_nowait(topic, payload, qos, retain, properties), timeout)

    def get(self, timeout: float = DEFAULT_TIMEOUT) -> Msg:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout}s; {self.diagnostics()}") from None

    def get_n(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> list[Msg]:
        deadline = time.monotonic() + timeout
        out: list[Msg] = []
        while len(out) < n:
            remaining = deadline - time.monotonic()
            try:
                out.append(self.messages.get(timeout=max(remaining, 0.001)))
            except queue.Empty:
                raise AssertionError(
                    f"[{self.client_id}] got {len(out)}/{n} messages within {timeout}s: "
                    f"{[(m.topic, m.payload[:40]) for m in out]}") from None
        return out

    def get_until(self, topic: str, timeout: float = DEFAULT_TIMEOUT) -> list[Msg]:
        """All messages up to and including the first one on `topic` (a barrier/marker)."""
        deadline = time.monotonic() + timeout
        out: list[Msg] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                m = self.messages.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"marker on {topic!r} not received within {timeout}s; got "
                                     f"{[(m.topic, m.payload[:40]) for m in out]}") from None
            out.append(m)
            if m.topic == topic:
                return out

    def assert_no_message(self, within: float) -> None:
        """Asserts that nothing arrives for `within` seconds (used only to prove an absence)."""
        try:
            m = self.messages.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message: topic={m.topic!r} payload={m.payload!r} retain={m.retain}")

    def drain(self) -> list[Msg]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def disconnect(self, reason: int | None = None, properties: Properties | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> None:
        """A normal DISCONNECT (optionally with an MQTT 5 reason code), then waits for the socket to close."""
        rc = ReasonCode(PacketTypes.DISCONNECT, identifier=reason) if reason is not None else None
        self.c.disconnect(reasoncode=rc, properties=properties)
        if not self.disconnected.wait(timeout):
            raise AssertionError("disconnect did not complete")
        self.stop()

    def drop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Closes the TCP connection abruptly: no DISCONNECT packet is sent."""
        sock = self.c.socket()
        assert sock is not None, "not connected"
        raw = getattr(sock, "_socket", sock)  # the WebSocket wrapper keeps the real socket here
        try:
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if not self.disconnected.wait(timeout):
            raise AssertionError("drop did not complete")
        self.stop()

    def wait_disconnected(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        if not self.disconnected.wait(timeout):
            raise AssertionError(f"[{self.client_id}] was not disconnected within {timeout}s")
        return self.disconnect_reason

    def stop(self) -> None:
        if self._loop_started:
            self.c.loop_stop()
            self._loop_started = False

    def close(self) -> None:
        """Teardown: disconnect if still connected, stop the network thread."""
        try:
            if self._loop_started and not self.disconnected.is_set() and self.c.is_connected():
                self.c.disconnect()
                self.disconnected.wait(2)
        finally:
            self.stop()


def sub_opts(qos: int = 0, *, no_local: bool = False, retain_as_published: bool = False,
             retain_handling: int = 0) -> SubscribeOptions:
    return SubscribeOptions(qos=qos, noLocal=no_local, retainAsPublished=retain_as_published,
                            retainHandling=retain_handling)


__all__ = ["V3", "V5", "elapse", "PahoClient", "Msg", "ConnAck", "props", "prop", "sub_opts", "PacketTypes", "Properties"]
