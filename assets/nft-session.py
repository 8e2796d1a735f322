#!/usr/bin/env python3
"""A long-lived nftables session: one libnftables context (the library `nft` itself is built on), fed one
request per line on stdin, answering one line per request on stdout. Run inside the node's network namespace
(`nsenter --net=… python3 nft-session.py`). Each request is one `nft -f` script and so one atomic transaction;
what it saves over a new `nft` process per change is process start-up and library loading (half of a
one-element change at 10,000 services here), not kernel work.

request:  {"script": "delete element ...\\nadd element ...\\n"}
answer:   {"rc": 0, "error": "", "ms": 3.2}
"""
import ctypes, json, sys, time

lib = ctypes.CDLL("libnftables.so.1")
lib.nft_ctx_new.restype = ctypes.c_void_p
lib.nft_ctx_new.argtypes = [ctypes.c_uint]
lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
for f in ("nft_ctx_buffer_error", "nft_ctx_buffer_output"):
    getattr(lib, f).argtypes = [ctypes.c_void_p]
lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]

ctx = lib.nft_ctx_new(0)
lib.nft_ctx_buffer_error(ctx)
lib.nft_ctx_buffer_output(ctx)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    script = json.loads(line)["script"]
    t0 = time.perf_counter()
    rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
    ms = (time.perf_counter() - t0) * 1000
    err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
    print(json.dumps({"rc": rc, "error": err, "ms": round(ms, 3)}), flush=True)
