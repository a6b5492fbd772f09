"""docker-compose.yml, run without Docker: each service's command and environment, as the compose file gives them,
started from the built executables. Each service gets its own loopback address in place of its host name, so every
service keeps the compose file's ports (1883, 4370, 18083, 8080) as it would in its own container."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ADDRESSES = {"node1": "127.0.0.11", "node2": "127.0.0.12", "node3": "127.0.0.13", "gateway": "127.0.0.20"}


def binaries() -> dict:
    node = Path(os.environ.get("STARLING_NODE_BIN", ROOT / ".build/debug/Node"))
    return {"Node": str(node), "Gateway": str(node.with_name("Gateway"))}


def secrets(node_binary: str) -> dict:
    """The variables .env would hold, from `Node gen-secrets`, as the compose file's comment says."""
    out = subprocess.run([node_binary, "gen-secrets"], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def interpolate(value: str, env: dict) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} forms."""
    def replace(match):
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env and env[name] != "":
            return env[name]
        if op == ":-":
            return arg
        assert op != ":?", f"${{{name}}} is required: {arg}"
        return ""
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", replace, str(value))


def localise(text: str) -> str:
    """Host names of the compose network → each service's own loopback address."""
    for host, address in ADDRESSES.items():
        text = re.sub(rf"\b{host}\b", address, text)
    return text


def http_get(url: str, auth: tuple | None = None):
    request = urllib.request.Request(url)
    if auth:
        import base64
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def wait_for(what: str, condition, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_compose_services_form_a_cluster_behind_the_gateway(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == set(ADDRESSES), "the test maps every service of the compose file to an address"
    bins = binaries()
    variables = secrets(bins["Node"])
    processes = []
    try:
        for name, service in services.items():
            entrypoint = service.get("entrypoint", ["/usr/local/bin/Node"])
            binary = bins[Path(entrypoint[0]).name]
            args = [localise(interpolate(arg, variables)) for arg in service.get("command", [])]
            env = {k: v for k, v in os.environ.items() if not k.startswith("STARLING_")}
            for key, value in (service.get("environment") or {}).items():
                env[key] = localise(interpolate(value, variables))
            env["STARLING_BIND"] = ADDRESSES[name]  # the image's ENV STARLING_BIND=:: , on this service's address
            if "STARLING_DATA_DIR" in env:
                env["STARLING_DATA_DIR"] = str(tmp_path / name)
            env["STARLING_LOG_LEVEL"] = "info"
            log = open(tmp_path / f"{name}.log", "w")
            processes.append((name, subprocess.Popen([binary, *args], env=env, stdout=log, stderr=log)))

        gateway = ADDRESSES["gateway"]
        http_front = int(interpolate("${PORT:-8080}", {k: v for k, v in os.environ.items() if k == "PORT"}))

        def weights():
            status, body = http_get(f"http://{gateway}:{http_front}/stats?format=json")
            if status != 200:
                return {}
            return {b["name"]: b["weight"] for b in json.loads(body)["backends"] if b["state"] == "up"}

        wait_for("the gateway to see the three nodes up", lambda: len(weights()) == 3)
        assert weights() == {"n1@127.0.0.11": 5, "n2@127.0.0.12": 2, "n3@127.0.0.13": 3}
        admin = ("admin", variables["STARLING_ADMIN_PASSWORD"])
        for node in ("node1", "node2", "node3"):
            assert http_get(f"http://{ADDRESSES[node]}:18083/api/v5/status")[0] == 200
        status, body = http_get(f"http://{ADDRESSES['node1']}:18083/api/v5/cluster", auth=admin)
        assert status == 200
        roles = sorted(member["role"] for member in json.loads(body)["members"])
        assert roles == ["broker", "broker", "broker", "gateway"]

        # MQTT through the gateway's published port, with the stock clients: publish once a second until the
        # subscriber (which has no "subscribed" signal) has the message.
        sub = subprocess.Popen(["mosquitto_sub", "-h", gateway, "-p", "1883", "-t", "compose/t", "-q", "1", "-C", "1",
                                "-W", "20", "-i", "compose-sub"], stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while sub.poll() is None and time.time() < deadline:
            subprocess.run(["mosquitto_pub", "-h", gateway, "-p", "1883", "-t", "compose/t", "-m", "hello", "-q", "1"],
                           check=True, timeout=10)
            try:
                sub.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        output, _ = sub.communicate(timeout=5)
        assert output.strip() == "hello"
    finally:
        for name, process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for name, process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
