"""N connections to SERVER:PORT that each ask for /bytes/SIZE and never read the answer.

usage: tcp-hold.py SERVER PORT N SIZE HOLD_SECONDS
Prints {"connected": c} once every request is written, holds the sockets for
HOLD_SECONDS without reading, closes them all (unread data: the kernel resets),
then prints {"closed": c}.
"""
import json
import resource
import socket
import sys
import time

server, port, n, size, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))

socks = []
for _ in range(n):
    s = socket.socket()
    s.settimeout(30)
    try:
        s.connect((server, port))
        s.sendall(f"GET /bytes/{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    except OSError:
        s.close()
print(json.dumps({"connected": len(socks)}), flush=True)
time.sleep(hold)
for s in socks:
    s.close()
print(json.dumps({"closed": len(socks)}), flush=True)
