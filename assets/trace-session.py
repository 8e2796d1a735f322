#!/usr/bin/env python3
"""podnet trace's kernel session: adds the trace tables in every namespace on a probe's path, and removes them
when podnet is done -- or dies. One process for all namespaces: it enters each with setns(2) and runs the
nft script through libnftables (the library `nft` is built on), which opens its netlink socket in the
namespace the thread is in.

stdin, first line: {"tag": "p123x9", "namespaces": [{"path": "/run/netns/x", "setup": "...", "cleanup": "..."}]}
stdout: {"ready": true, "errors": {path: message}, "stale": [tables removed]}
Then it waits for stdin to close (podnet finished, or was killed: the pipe closes either way), runs every
cleanup script, prints {"cleaned": n} and exits. SIGINT and SIGHUP are ignored so a Ctrl-C that kills podnet
still leaves this process to clean up.
"""
import ctypes, json, os, re, signal, sys

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)

libc = ctypes.CDLL("libc.so.6", use_errno=True)
lib = ctypes.CDLL("libnftables.so.1")
lib.nft_ctx_new.restype = ctypes.c_void_p
lib.nft_ctx_new.argtypes = [ctypes.c_uint]
lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
for f in ("nft_ctx_buffer_error", "nft_ctx_buffer_output"):
    getattr(lib, f).argtypes = [ctypes.c_void_p]
for f in ("nft_ctx_get_error_buffer", "nft_ctx_get_output_buffer"):
    getattr(lib, f).restype = ctypes.c_char_p
    getattr(lib, f).argtypes = [ctypes.c_void_p]
CLONE_NEWNET = 0x40000000
TRACE_TABLE = re.compile(r"^table (inet|bridge) (podnet-trace-p(\d+)x\w+)", re.M)


def enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % path)
    finally:
        os.close(fd)


def nft(script):
    ctx = lib.nft_ctx_new(0)
    lib.nft_ctx_buffer_error(ctx)
    lib.nft_ctx_buffer_output(ctx)
    rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
    out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
    err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
    lib.nft_ctx_free(ctx)
    return rc, out, err


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


req = json.loads(sys.stdin.readline())
errors, stale = {}, []
for ns in req["namespaces"]:
    try:
        enter(ns["path"])
        # Tables of an earlier trace whose podnet (and session) died without cleaning up.
        rc, out, _ = nft("list tables")
        for fam, name, pid in TRACE_TABLE.findall(out):
            if not alive(int(pid)):
                nft("delete table %s %s" % (fam, name))
                stale.append("%s: %s %s" % (ns["path"], fam, name))
        rc, _, err = nft(ns["setup"])
        if rc != 0:
            errors[ns["path"]] = err.strip()
    except OSError as e:
        errors[ns["path"]] = str(e)
print(json.dumps({"ready": True, "errors": errors, "stale": stale}), flush=True)

def cleanup(*_):
    n = 0
    for ns in req["namespaces"]:
        try:
            enter(ns["path"])
            if nft(ns["cleanup"])[0] == 0:
                n += 1
        except OSError:
            pass
    try:
        print(json.dumps({"cleaned": n}), flush=True)
    except OSError:
        pass
    os._exit(0)

signal.signal(signal.SIGTERM, cleanup)
while sys.stdin.readline():
    pass
cleanup()
