#!/usr/bin/env python3
"""podnet trace's probe: one connection or datagram from inside a pod's (or node's) network namespace.

argv: PROTO HOST PORT SPORT SIZE TIMEOUT   (PORT is ignored for icmp; SPORT is the ICMP echo id for icmp)
prints one JSON line: {"verdict": "answered|refused|timeout|unreachable|error", "answer": "...", "ms": 1.2}
The source port (ICMP id) is fixed by the caller, so every namespace's trace rule can match this one probe.
SIZE: bytes of payload (TCP: the request line is padded to SIZE; UDP/ICMP: the datagram's payload).
With a 7th argument `wait`, it starts, then waits for a line on stdin before sending (podnet starts it while the
observers start, so the probe leaves the moment they listen).
"""
import json, os, select, socket, struct, sys, time

proto, host, port, sport, size, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
if len(sys.argv) > 7 and sys.argv[7] == "wait":
    if not sys.stdin.readline():
        sys.exit(0)  # podnet went away before the observers were ready: send nothing
start = time.monotonic()

def done(verdict, answer="", error=""):
    print(json.dumps({"verdict": verdict, "answer": answer, "error": error, "ms": round((time.monotonic() - start) * 1000, 1)}), flush=True)
    sys.exit(0)

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

try:
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close: no TIME_WAIT
        s.bind(("0.0.0.0", sport))
        s.settimeout(timeout)
        s.connect((host, port))
        # Servers that speak first (echo.py answers and closes at once) must not get a request they would
        # answer with a reset: wait a moment for an unsolicited answer before sending an HTTP request.
        data = b""
        if not select.select([s], [], [], 0.03)[0]:
            req = b"GET / HTTP/1.0\r\nX-Podnet-Trace: "
            req += b"x" * max(0, size - len(req) - 4) + b"\r\n\r\n"
            s.sendall(req)
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                if data:
                    break
                raise
            if not chunk:
                break
            data += chunk
        body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
        done("answered", body)
    elif proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", sport))
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(b"podnet-trace".ljust(max(size, 12), b"."))
        data = s.recv(65535)
        done("answered", data.decode(errors="replace").strip())
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.settimeout(timeout)
        payload = b"podnet-trace".ljust(max(size, 12), b".")
        hdr = struct.pack("!BBHHH", 8, 0, 0, sport, 1)
        s.sendto(struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), sport, 1) + payload, (host, 0))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                done("timeout")
            s.settimeout(left)
            pkt, addr = s.recvfrom(65535)
            ihl = (pkt[0] & 0x0F) * 4
            t, code, _, ident, _ = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if t == 0 and ident == sport:
                done("answered", "echo reply from %s" % addr[0])
            if t == 3 and len(pkt) >= ihl + 8 + 28:
                inner = pkt[ihl + 8:]
                iihl = (inner[0] & 0x0F) * 4
                if struct.unpack("!H", inner[iihl + 4:iihl + 6])[0] == sport:
                    done("unreachable", "", "ICMP unreachable code %d from %s" % (code, addr[0]))
except socket.timeout:
    done("timeout")
except ConnectionRefusedError:
    done("refused", "", "connection refused (RST)")
except OSError as e:
    if e.errno in (113, 101, 111):
        done("unreachable" if e.errno != 111 else "refused", "", os.strerror(e.errno))
    done("error", "", str(e))
