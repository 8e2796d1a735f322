#!/usr/bin/env python3
"""Test client for services: makes COUNT connections (TCP) or exchanges (UDP) to HOST:PORT from inside a
namespace and prints one JSON object: answers by pod, client addresses the servers saw, errors.

usage: svc-client.py tcp|udp|http HOST PORT COUNT [--timeout S] [--src-port P] [--interval S]
  tcp:  reads the who-am-I line of assets/echo.py   (pod=NAME client=IP:PORT)
  http: GET / from the lab's identity httpd          (pod=NAME container=web ...)
  udp:  one datagram per exchange from a new socket; --src-port pins one source port (one conntrack entry)
"""
import json, socket, sys, time

kind, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
opts = dict(zip(sys.argv[5::2], sys.argv[6::2]))
timeout = float(opts.get("--timeout", "2"))
src_port = int(opts.get("--src-port", "0"))
interval = float(opts.get("--interval", "0"))
pods, clients, errors, seq = {}, {}, [], []

def record(text):
    fields = dict(f.split("=", 1) for f in text.split() if "=" in f)
    pod = fields.get("pod", "?")
    pods[pod] = pods.get(pod, 0) + 1
    seq.append(pod)
    if "client" in fields:
        ip = fields["client"].rsplit(":", 1)[0]
        clients[ip] = clients.get(ip, 0) + 1

t0 = time.monotonic()
udp = None
if kind == "udp":
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(timeout)
    if src_port:
        udp.bind(("0.0.0.0", src_port))
for i in range(count):
    try:
        if kind == "udp":
            if not src_port:
                # A new socket (so a new source port and conntrack entry) per exchange, as for TCP.
                udp.close()
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.settimeout(timeout)
            udp.sendto(b"x", (host, port))
            data, _ = udp.recvfrom(2048)
            record(data.decode())
        else:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.settimeout(timeout)
                if kind == "http":
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                chunks = []
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    chunks.append(b)
                text = b"".join(chunks).decode(errors="replace")
                record(text.split("\r\n\r\n", 1)[-1])
    except OSError as e:
        errors.append("%d: %s" % (i, e.strerror or str(e)))
    if interval:
        time.sleep(interval)
print(json.dumps({"pods": pods, "clients": clients, "errors": errors, "seq": seq,
                  "seconds": round(time.monotonic() - t0, 3)}))
