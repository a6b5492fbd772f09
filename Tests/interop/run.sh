#!/usr/bin/env bash
# Runs the Starling interoperability suite (paho-mqtt, mosquitto_pub/sub, raw sockets) against the Node binary.
#   Tests/interop/run.sh [extra pytest args...]
# The binary is $STARLING_NODE_BIN (default /work/main/.build/debug/Node); build it first with
#   swift build --product Node
set -u
cd "$(dirname "$0")/../.." || exit 2
python3 -m pytest -q -p no:cacheprovider Tests/interop "$@"
exit $?
