#!/usr/bin/env python3
"""podnet's probe: runs inside one pod's network namespace and checks many targets at once.

One process per source pod (not one per probe): reads a JSON list of probes on stdin, runs them all
concurrently, prints one JSON result per probe. ICMP echo needs a raw socket, which Node.js cannot open;
this is why the probe is Python (standard library only).

Probe kinds:
  {"id": ..., "kind": "icmp", "host": "10.200.0.3"}
  {"id": ..., "kind": "tcp",  "host": "10.200.0.3", "port": 8080}   -> sends an HTTP GET, returns the body
  {"id": ..., "kind": "udp",  "host": "10.96.0.2",  "port": 53}      -> sends "probe", returns the reply
"""
import json, os, select, socket, struct, sys, time, threading

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

def icmp_all(probes, timeout, results):
    if not probes:
        return
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except OSError as e:
        for p in probes:
            results[p["id"]] = {"ok": False, "error": "raw socket: %s" % e}
        return
    ident = os.getpid() & 0xFFFF
    pending = {}
    for seq, p in enumerate(probes):
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        payload = b"podnet-probe-%08d" % seq
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident, seq) + payload
        pending[seq] = (p, time.monotonic())
        try:
            sock.sendto(pkt, (p["host"], 0))
        except OSError as e:
            results[p["id"]] = {"ok": False, "error": str(e)}
            del pending[seq]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], max(0, deadline - time.monotonic()))
        if not r:
            break
        data, addr = sock.recvfrom(2048)
        ihl = (data[0] & 0x0F) * 4
        typ, code, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if typ == 0 and rid == ident and rseq in pending:
            p, t0 = pending.pop(rseq)
            if addr[0] == p["host"]:
                results[p["id"]] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 3)}
    for seq, (p, _) in pending.items():
        results[p["id"]] = {"ok": False, "error": "no echo reply within %.1fs" % timeout}

def tcp_one(p, timeout, results):
    t0 = time.monotonic()
    try:
        with socket.create_connection((p["host"], p["port"]), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
            data = b"".join(chunks).decode(errors="replace")
            body = data.split("\r\n\r\n", 1)[-1]
            results[p["id"]] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 3), "answer": body.strip()}
    except OSError as e:
        results[p["id"]] = {"ok": False, "error": e.strerror or str(e)}

def udp_one(p, timeout, results):
    t0 = time.monotonic()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(b"probe", (p["host"], p["port"]))
            data, _ = s.recvfrom(4096)
            results[p["id"]] = {"ok": True, "ms": round((time.monotonic() - t0) * 1000, 3), "answer": data.decode(errors="replace").strip()}
    except OSError as e:
        results[p["id"]] = {"ok": False, "error": e.strerror or str(e)}

def main():
    req = json.load(sys.stdin)
    timeout = float(req.get("timeout", 2.0))
    probes = req["probes"]
    results = {}
    threads = []
    for p in probes:
        fn = {"tcp": tcp_one, "udp": udp_one}.get(p["kind"])
        if fn:
            t = threading.Thread(target=fn, args=(p, timeout, results))
            t.start()
            threads.append(t)
    icmp_all([p for p in probes if p["kind"] == "icmp"], timeout, results)
    for t in threads:
        t.join()
    json.dump([dict(id=p["id"], **results.get(p["id"], {"ok": False, "error": "not run"})) for p in probes], sys.stdout)

if __name__ == "__main__":
    main()
