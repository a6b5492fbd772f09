#!/usr/bin/env python3
"""Runs mosquitto in place of the Starling Node, to cross-check the *tests* against a reference broker:

    STARLING_NODE_BIN=Tests/interop/mosquitto_shim.py python3 -m pytest -q -p no:cacheprovider \
        Tests/interop/test_pubsub.py Tests/interop/test_will_session.py Tests/interop/test_v5_features.py

It accepts the Node's command-line flags, writes an equivalent mosquitto.conf into a temp directory and execs
`mosquitto`. Only the flags with a mosquitto equivalent are honoured (ports, --max-packet-size, --max-keepalive,
--password-file, --no-allow-anonymous, TLS cert/key); ACL files (different format), --connect-timeout,
--session-queue, --receive-maximum and the $SYS layout are not, so tests of those fail under the shim by design.
See docs/interop.md for the expected differences (mosquitto 2.0.11).
"""
import os
import sys
import tempfile

args, opts, flags = sys.argv[1:], {}, set()
i = 0
while i < len(args):
    if args[i] == "--no-allow-anonymous":
        flags.add(args[i])
        i += 1
    else:
        opts[args[i][2:]] = args[i + 1]
        i += 2
conf = ["per_listener_settings false", "sys_interval 1",
        f"allow_anonymous {'false' if '--no-allow-anonymous' in flags else 'true'}",
        f"listener {opts['mqtt-port']} {opts.get('bind', '127.0.0.1')}"]
if "max-packet-size" in opts:
    conf.append(f"max_packet_size {opts['max-packet-size']}")
if "max-keepalive" in opts:
    conf.append(f"max_keepalive {opts['max-keepalive']}")
if "password-file" in opts:
    conf.append(f"password_file {opts['password-file']}")
if opts.get("ws-port", "0") != "0":
    conf += [f"listener {opts['ws-port']} {opts.get('bind', '127.0.0.1')}", "protocol websockets"]
if opts.get("mqtts-port", "0") != "0" and "tls-cert" in opts:
    conf += [f"listener {opts['mqtts-port']} {opts.get('bind', '127.0.0.1')}",
             f"certfile {opts['tls-cert']}", f"keyfile {opts['tls-key']}"]
directory = tempfile.mkdtemp(prefix="mosquitto-shim-")
with open(os.path.join(directory, "mosquitto.conf"), "w") as f:
    f.write("\n".join(conf) + "\n")
os.execvp("mosquitto", ["mosquitto", "-c", os.path.join(directory, "mosquitto.conf"), "-v"])
