#!/usr/bin/env python3
"""New-connection latency to HOST:PORT from inside a namespace: COUNT connects (socket, connect, close),
timed in-process; prints {"median_us", "p95_us", "errors"}. Used by bench/services.ts."""
import json, socket, sys, time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
samples, errors = [], 0
for _ in range(20):  # warm-up: ARP, caches
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        pass
for _ in range(count):
    t0 = time.perf_counter_ns()
    try:
        s = socket.create_connection((host, port), timeout=2)
        samples.append((time.perf_counter_ns() - t0) / 1000)
        s.close()
    except OSError:
        errors += 1
samples.sort()
pick = lambda q: round(samples[min(len(samples) - 1, int(q * len(samples)))], 1) if samples else None
print(json.dumps({"median_us": pick(0.5), "p95_us": pick(0.95), "errors": errors}))
