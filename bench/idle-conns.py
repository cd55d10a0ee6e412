#!/usr/bin/env python3
"""Open N idle TCP connections to HOST:PORT (INFLIGHT, default 64, connects in flight, under a
511 SYN backlog), print 'ready OPEN_COUNT SECONDS' once all are established,
then hold them until stdin closes.   idle-conns.py HOST PORT N [INFLIGHT]"""
import resource, select, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
inflight = int(sys.argv[4]) if len(sys.argv) > 4 else 64
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1024, n + 1024))
start = time.monotonic()
done, failed, pending = [], 0, {}
poll = select.poll()
i = 0
while len(done) + failed < n:
    while i < n and len(pending) < inflight:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        pending[s.fileno()] = s
        poll.register(s, select.POLLOUT)
        i += 1
    for fd, ev in poll.poll(5000):
        s = pending.pop(fd)
        poll.unregister(fd)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            done.append(s)
        else:
            failed += 1
            s.close()
print(f"ready {len(done)} {time.monotonic() - start:.2f}", flush=True)
sys.stdin.read()
