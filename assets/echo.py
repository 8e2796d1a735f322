#!/usr/bin/env python3
"""podnet's who-am-I server: answers every TCP connection and every UDP datagram with one line
`pod=<name> client=<ip>:<port>`, so a test sees both which endpoint answered and which source address the
server saw (source-IP preservation, masquerade). Standard library only; one process serves both protocols.

usage: echo.py NAME PORT [PORT...]
"""
import socket, sys, threading

name = sys.argv[1]
ports = [int(p) for p in sys.argv[2:]]

def tcp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(512)
    while True:
        c, addr = s.accept()
        try:
            c.sendall(b"pod=%s client=%s:%d\n" % (name.encode(), addr[0].encode(), addr[1]))
        except OSError:
            pass
        finally:
            c.close()

def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, addr = s.recvfrom(2048)
        try:
            s.sendto(b"pod=%s client=%s:%d\n" % (name.encode(), addr[0].encode(), addr[1]), addr)
        except OSError:
            pass

threads = [threading.Thread(target=f, args=(p,), daemon=True) for p in ports for f in (tcp, udp)]
for t in threads:
    t.start()
print("echo %s listening on %s (tcp+udp)" % (name, ports), flush=True)
for t in threads:
    t.join()
