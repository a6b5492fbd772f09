"""mosquitto_pub / mosquitto_sub (libmosquitto) against the Node, MQTT 3.1.1 and 5."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest

from paho_util import PacketTypes, props

VERSIONS = [pytest.param("mqttv311", id="v311"), pytest.param("mqttv5", id="v5")]
FMT = "MSG|%t|%q|%r|%p"


class Sub:
    """A mosquitto_sub process (line-buffered via stdbuf) whose output is read with deadlines."""

    def __init__(self, node, *args: str):
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-h", node.host, "-p", str(node.mqtt_port), "-d", "-F", FMT, *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.lines: list[str] = []
        self._buf = b""

    def _readline(self, deadline: float) -> str | None:
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                if self._buf:
                    line, self._buf = self._buf, b""
                    return line.decode(errors="replace")
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        text = line.decode(errors="replace")
        self.lines.append(text)
        return text

    def wait_for(self, needle: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            if line is None:
                raise AssertionError(f"mosquitto_sub never printed {needle!r}; output so far: {self.lines}")
            if needle in line:
                return line

    def messages(self, n: int, timeout: float = 5.0) -> list[tuple[str, int, int, str]]:
        out = []
        while len(out) < n:
            line = self.wait_for("MSG|", timeout)
            _, t, q, rt, p = line.split("|", 4)
            out.append((t, int(q), int(rt), p))
        return out

    def wait_exit(self, timeout: float = 5.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mosquitto_sub did not exit; output: {self.lines}") from None

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(5)


@pytest.fixture
def subs():
    made: list[Sub] = []

    def _make(node, *args: str) -> Sub:
        s = Sub(node, *args)
        made.append(s)
        return s

    yield _make
    for s in made:
        s.kill()
        s.proc.stdout.close()


def pub(node, *args: str) -> None:
    r = subprocess.run(["mosquitto_pub", "-h", node.host, "-p", str(node.mqtt_port), *args],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, f"mosquitto_pub {args} failed: {r.stdout!r} {r.stderr!r}"


@pytest.mark.parametrize("proto", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_pub_sub(node, subs, topic, proto, qos):
    s = subs(node, "-V", proto, "-q", str(qos), "-t", f"{topic}/#", "-C", "1")
    s.wait_for("received SUBACK")
    pub(node, "-V", proto, "-q", str(qos), "-t", f"{topic}/x", "-m", f"hello qos{qos} ✓")
    assert s.messages(1) == [(f"{topic}/x", qos, 0, f"hello qos{qos} ✓")]
    assert s.wait_exit() == 0


@pytest.mark.parametrize("proto", VERSIONS)
def test_retained(node, subs, topic, proto):
    pub(node, "-V", proto, "-q", "1", "-r", "-t", f"{topic}/r", "-m", "retained-value")
    s = subs(node, "-V", proto, "-q", "1", "-t", f"{topic}/r", "-C", "1")
    assert s.messages(1) == [(f"{topic}/r", 1, 1, "retained-value")]
    assert s.wait_exit() == 0
    pub(node, "-V", proto, "-q", "1", "-r", "-t", f"{topic}/r", "-n")  # -n: null (empty) message clears it
    s2 = subs(node, "-V", proto, "-q", "1", "-t", f"{topic}/r", "-t", f"{topic}/marker", "-C", "1")
    s2.wait_for("received SUBACK")
    pub(node, "-V", proto, "-q", "1", "-t", f"{topic}/marker", "-m", "marker")
    assert s2.messages(1) == [(f"{topic}/marker", 1, 0, "marker")]


@pytest.mark.parametrize("proto", VERSIONS)
def test_will_on_sigkill(node, subs, topic, proto):
    watcher = subs(node, "-V", proto, "-q", "1", "-t", f"{topic}/will", "-C", "1")
    watcher.wait_for("received SUBACK")
    dying = subs(node, "-V", proto, "-t", f"{topic}/dummy", "--will-topic", f"{topic}/will",
                 "--will-payload", "client died", "--will-qos", "1")
    dying.wait_for("received SUBACK")
    dying.kill(signal.SIGKILL)
    assert watcher.messages(1) == [(f"{topic}/will", 1, 0, "client died")]


@pytest.mark.parametrize("proto", VERSIONS)
def test_no_will_on_clean_exit(node, subs, topic, proto):
    watcher = subs(node, "-V", proto, "-q", "1", "-t", f"{topic}/will", "-t", f"{topic}/marker")
    watcher.wait_for("received SUBACK")
    polite = subs(node, "-V", proto, "-t", f"{topic}/dummy", "-C", "1", "--will-topic", f"{topic}/will",
                  "--will-payload", "should not appear")
    polite.wait_for("received SUBACK")
    pub(node, "-V", proto, "-t", f"{topic}/dummy", "-m", "bye")  # -C 1: exits with DISCONNECT after one message
    assert polite.wait_exit() == 0
    pub(node, "-V", proto, "-q", "1", "-t", f"{topic}/marker", "-m", "marker")
    assert watcher.messages(1) == [(f"{topic}/marker", 1, 0, "marker")]


@pytest.mark.parametrize("proto", VERSIONS)
def test_persistent_session(node, subs, topic, proto):
    cid = f"cli-persist-{proto}"
    # -c: no clean session (v5: Session Expiry "infinite"). -C 1 makes it leave with a normal DISCONNECT after one
    # message. (Not SIGTERM: mosquitto_sub -d can deadlock in its signal handler's printf while writing stdout.)
    s = subs(node, "-V", proto, "-c", "-i", cid, "-q", "1", "-t", topic, "-C", "1")
    s.wait_for("received SUBACK")
    pub(node, "-V", proto, "-q", "1", "-t", topic, "-m", "online")
    assert s.messages(1) == [(topic, 1, 0, "online")]
    assert s.wait_exit() == 0
    for i in range(3):
        pub(node, "-V", proto, "-q", "1", "-t", topic, "-m", f"offline-{i}")
    # Reconnect with the same id (mosquitto_sub always sends its SUBSCRIBE too; re-subscribing to an existing
    # subscription must not drop the queued messages).
    s2 = subs(node, "-V", proto, "-c", "-i", cid, "-q", "1", "-t", topic, "-C", "3")
    assert "CONNACK (0)" in s2.wait_for("received CONNACK")
    assert s2.messages(3) == [(topic, 1, 0, f"offline-{i}") for i in range(3)]
    assert s2.wait_exit() == 0


def test_pub_v311_sub_v5_cross_version(node, subs, topic):
    s = subs(node, "-V", "mqttv5", "-q", "2", "-t", topic, "-C", "2")
    s.wait_for("received SUBACK")
    pub(node, "-V", "mqttv311", "-q", "2", "-t", topic, "-m", "from 3.1.1")
    pub(node, "-V", "mqttv5", "-q", "1", "-t", topic, "-m", "from 5", "-D", "publish", "user-property", "k", "v")
    # Two publishers and two QoS levels: no ordering guarantee between them [MQTT-4.6.0-6], so compare as a set.
    assert sorted(s.messages(2)) == [(topic, 1, 0, "from 5"), (topic, 2, 0, "from 3.1.1")]


def test_mosquitto_pub_file_payload_binary(node, clients, topic, tmp_path):
    payload = bytes(range(256)) * 64
    f = tmp_path / "payload.bin"
    f.write_bytes(payload)
    c = clients(node)
    c.connect()
    c.subscribe(topic, 1)
    pub(node, "-V", "mqttv5", "-q", "1", "-t", topic, "-f", str(f))
    assert c.get().payload == payload


def test_mosquitto_rr_request_response(node, clients, topic):
    """mosquitto_rr sends a request with Response Topic + Correlation Data; a paho responder answers."""
    responder = clients(node)
    responder.connect()
    responder.subscribe(f"{topic}/req", 1)
    rr = subprocess.Popen(["mosquitto_rr", "-h", node.host, "-p", str(node.mqtt_port), "-V", "mqttv5",
                           "-t", f"{topic}/req", "-e", f"{topic}/resp", "-m", "what time is it", "-q", "1",
                           "-W", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        req = responder.get()
        assert req.payload == b"what time is it"
        assert req.p("ResponseTopic") == f"{topic}/resp"
        corr = req.p("CorrelationData")
        responder.publish(req.p("ResponseTopic"), b"tea time", qos=1,
                          properties=props(PacketTypes.PUBLISH, CorrelationData=corr) if corr else None)
        out, err = rr.communicate(timeout=6)
    finally:
        if rr.poll() is None:
            rr.kill()
            rr.wait()
    assert rr.returncode == 0, err
    assert out.decode().strip() == "tea time"


def test_mosquitto_pub_lines_with_topic_alias(node, subs, topic):
    s = subs(node, "-V", "mqttv5", "-q", "1", "-t", f"{topic}/#", "-C", "3")
    s.wait_for("received SUBACK")
    r = subprocess.run(["mosquitto_pub", "-h", node.host, "-p", str(node.mqtt_port), "-V", "mqttv5", "-q", "1",
                        "-t", f"{topic}/aliased", "-l", "-D", "publish", "topic-alias", "1"],
                       input=b"line1\nline2\nline3\n", capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert s.messages(3) == [(f"{topic}/aliased", 1, 0, f"line{i}") for i in (1, 2, 3)]
