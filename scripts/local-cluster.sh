# Sourced by scripts/start and scripts/rolling-restart: probes of the local cluster's HTTP endpoints (python3's
# urllib, so that nothing beyond Debian's python3 is needed).

# The HTTP status code of GET $1, or 0 when nothing answers.
local_http_status() {
    python3 - "$1" <<'PY' 2>/dev/null || echo 0
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
        print(response.status)
except urllib.error.HTTPError as error:
    print(error.code)
PY
}

# How many backends the gateway on 127.0.0.1:$1 sees up (from /stats?format=json), or 0.
local_backends_up() {
    python3 - "$1" <<'PY' 2>/dev/null || echo 0
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/stats?format=json", timeout=2) as response:
    print(sum(1 for b in json.load(response)["backends"] if b["state"] == "up"))
PY
}
