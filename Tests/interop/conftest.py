"""Fixtures for the Starling interoperability suite.

Each test gets its own freshly started Node on free loopback ports (startup takes ~50 ms), so tests cannot leak
retained messages, sessions or broken state into one another. The node runs with --log-level debug; its stderr goes
to a file in the test's tmp_path and is attached to the report of any failing test.
"""

from __future__ import annotations

import datetime
import errno
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from paho_util import PahoClient, V5
from mqtt_raw import RawClient

NODE_BIN = os.environ.get("STARLING_NODE_BIN", "/work/main/.build/debug/Node")
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

USERS = {"alice": "wonderland", "bob": "builder", "admin": "s3cret!"}
ACL_RULES = """\
# first match wins, default allow
allow user:admin all #
deny  user:alice subscribe secret/#
deny  user:alice publish   readonly/#
allow all        subscribe users/%u/#
deny  all        subscribe users/#
allow all        all       #
"""


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on the loopback interface (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.2).close()
        return True
    except OSError:
        return False


@dataclass
class Node:
    """A running Starling Node process."""
    args: list[str]
    log_path: Path
    mqtt_port: int
    ws_port: int
    mqtts_port: int = 0
    ca_path: str | None = None
    host: str = HOST
    proc: subprocess.Popen | None = None
    exit_code: int | None = None
    needed_sigkill: bool = False
    start_failed: bool = False
    stopped: bool = False
    extra: dict = field(default_factory=dict)

    def start(self) -> "Node":
        self._log = open(self.log_path, "wb")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.proc = subprocess.Popen([NODE_BIN, *self.args], stdin=subprocess.DEVNULL, stdout=self._log,
                                             stderr=subprocess.STDOUT)
                break
            except OSError as e:
                # ETXTBSY/ENOENT: someone is re-linking the binary right now (`swift build` in the same tree).
                if e.errno not in (errno.ETXTBSY, errno.ENOENT) or time.monotonic() > deadline:
                    raise RuntimeError(f"cannot start {NODE_BIN}: {e} (build it with swift build --product Node, "
                                       f"or set STARLING_NODE_BIN)") from e
                time.sleep(0.2)  # polling interval of a bounded retry loop
        ports = [p for p in (self.mqtt_port, self.ws_port, self.mqtts_port) if p]
        while ports:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Node exited with {self.proc.returncode} during startup:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Node did not open ports {ports} within {START_TIMEOUT}s:\n{self.log_text()}")
            if port_open(ports[0]):
                ports.pop(0)
            else:
                time.sleep(0.02)  # polling interval of a bounded readiness loop
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT. Returns the exit status."""
        if self.proc is None:
            return None
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.needed_sigkill = True
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.exit_code = self.proc.returncode
        self._log.close()
        return self.exit_code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "<no log>"

    # -- client helpers --------------------------------------------------------------------------------------

    def raw(self) -> RawClient:
        return RawClient(self.host, self.mqtt_port)


# --------------------------------------------------------------------------------------------------------------
# Report hook: attach node logs to failing tests


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    nodes: list[Node] = getattr(item, "_interop_nodes", [])
    if rep.failed and nodes:
        for i, n in enumerate(nodes):
            text = n.log_text()
            if len(text) > 60_000:
                text = "...(truncated)...\n" + text[-60_000:]
            rep.sections.append((f"Node #{i} stderr ({n.log_path})", text))


# --------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def start_node(request, tmp_path):
    """Factory: start_node(*extra_args, tls=False) starts a Node and returns it; all are stopped at teardown."""
    nodes: list[Node] = []
    request.node._interop_nodes = nodes

    def _start(*extra: str, tls: bool | str = False, mtls: bool = False, log_level: str = "debug") -> Node:
        """tls=True generates TLS material (key file server-key.pem); tls="name" names the key file; mtls=True
        also passes --tls-ca so clients must present a certificate (client.pem/client-key.pem next to ca.pem)."""
        idx = len(nodes)
        mqtt_port, ws_port, mqtts_port = free_ports(3)
        args = ["--name", f"interop{idx}@127.0.0.1", "--bind", HOST, "--mqtt-port", str(mqtt_port),
                "--ws-port", str(ws_port), "--http-port", "0", "--sys-interval", "1", "--log-level", log_level]
        ca = None
        if tls:
            key_name = tls if isinstance(tls, str) else "server-key.pem"
            ca, cert, key = make_tls_material(tmp_path / f"tls{idx}", key_name)
            args += ["--mqtts-port", str(mqtts_port), "--tls-cert", cert, "--tls-key", key]
            if mtls:
                args += ["--tls-ca", ca]
        else:
            mqtts_port = 0
            args += ["--mqtts-port", "0"]
        args += list(extra)
        node = Node(args=args, log_path=tmp_path / f"node{idx}.log", mqtt_port=mqtt_port, ws_port=ws_port,
                    mqtts_port=mqtts_port, ca_path=ca)
        nodes.append(node)
        try:
            return node.start()
        except Exception:
            node.start_failed = True  # already reported by the exception; not a "died during the test"
            raise

    yield _start

    died = [n for n in nodes if n.proc is not None and n.proc.poll() is not None and not n.start_failed and not n.stopped]
    died_codes = [(n.log_path.name, n.proc.returncode) for n in died]
    for n in nodes:
        n.stop()
        if n.needed_sigkill:
            warnings.warn(f"{n.log_path.name}: Node ignored SIGTERM for {STOP_TIMEOUT}s and was SIGKILLed")
    if died:
        pytest.fail(f"Node process(es) exited during the test (crash?): {died_codes}", pytrace=False)


@pytest.fixture
def node(start_node) -> Node:
    """A default Node: anonymous allowed, no ACL, $SYS every second, --connect-timeout 1."""
    return start_node("--connect-timeout", "1")


def write_password_file(path: Path, users: dict[str, str]) -> Path:
    """A password file written by mosquitto's own `mosquitto_passwd` (the interop point)."""
    first = True
    for user, password in users.items():
        cmd = ["mosquitto_passwd", "-b"] + (["-c"] if first else []) + [str(path), user, password]
        subprocess.run(cmd, check=True, capture_output=True, timeout=10)
        first = False
    return path


@pytest.fixture
def auth_node(start_node, tmp_path) -> Node:
    """Node with a mosquitto_passwd password file, an ACL (ACL_RULES) and --no-allow-anonymous."""
    pw = write_password_file(tmp_path / "passwd", USERS)
    acl = tmp_path / "acl"
    acl.write_text(ACL_RULES)
    return start_node("--password-file", str(pw), "--acl-file", str(acl), "--no-allow-anonymous")


@pytest.fixture
def tls_node(start_node) -> Node:
    """Node with the MQTTS listener on (freshly generated CA + server certificate) and --connect-timeout 1."""
    return start_node("--connect-timeout", "1", tls=True)


def make_tls_material(directory: Path, key_name: str = "server-key.pem") -> tuple[str, str, str]:
    """Generates, with `cryptography`, a CA, a server certificate for 127.0.0.1/localhost signed by it, and a client
    certificate (client.pem / client-key.pem, CN "tls-client") signed by it. Returns (ca, server cert, server key).

    All files are PEM. The server key file name is a parameter because the Node's loader picks the key format from
    the file extension (see test_tls_pem_key_named_dot_key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Starling interop test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))

    def leaf(common_name: str, usage, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    def write(path: Path, key=None, cert=None) -> str:
        if cert is not None:
            path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        else:
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return str(path)

    server_key, server_cert = leaf("localhost", ExtendedKeyUsageOID.SERVER_AUTH,
                                   [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))])
    client_key, client_cert = leaf("tls-client", ExtendedKeyUsageOID.CLIENT_AUTH)
    write(directory / "client.pem", cert=client_cert)
    write(directory / "client-key.pem", key=client_key)
    return (write(directory / "ca.pem", cert=ca_cert), write(directory / "server.pem", cert=server_cert),
            write(directory / key_name, key=server_key))


@pytest.fixture
def clients(request):
    """Factory for PahoClients that are all closed at teardown: clients(node, "id", V5, clean=True, ...)."""
    made: list[PahoClient] = []

    def _make(node: Node, client_id: str | None = None, version: int = V5, *, port: int | None = None,
              **kwargs) -> PahoClient:
        if client_id is None:
            client_id = f"c-{uuid.uuid4().hex[:10]}"
        c = PahoClient(node.host, port or node.mqtt_port, client_id, version, **kwargs)
        made.append(c)
        return c

    yield _make
    for c in made:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - teardown must close every client
            pass


@pytest.fixture
def topic(request) -> str:
    """A topic prefix unique to this test."""
    return f"it/{re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name)}/{uuid.uuid4().hex[:6]}"
