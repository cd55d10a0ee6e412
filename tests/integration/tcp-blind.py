"""Blind RST/SYN/data injection against a live connection (RFC 5961), run inside the kernel-side netns.

usage: tcp-blind.py SERVER_IP SERVER_PORT
Opens a connection with a kernel socket, learns its ports and sequence numbers
the way an on-path observer would (we only use them to stay *near* the window,
as the RFC's blind attacker guesses), injects with scapy, then checks that the
connection still works. Prints one JSON line.
"""
import json
import socket
import sys

from scapy.all import IP, TCP, Raw, send, sniff, conf  # noqa: E402

conf.verb = 0
server, port = sys.argv[1], int(sys.argv[2])
iface = conf.route.route(server)[0]  # the TAP's kernel end: the only way to tapnet from this namespace

s = socket.create_connection((server, port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
local_port = s.getsockname()[1]

# One request/response to learn the current sequence numbers from a sniffed segment.
def capture():
    return sniff(filter=f"tcp and src host {server} and src port {port} and dst port {local_port}", count=1, timeout=5, iface=iface,
                 lfilter=lambda p: TCP in p and len(p[TCP].payload) > 0,
                 started_callback=lambda: s.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n"))


pkts = capture()
s.recv(4096)
seg = pkts[0][TCP]
server_seq = seg.seq + len(seg.payload)  # the server's next sequence number
our_seq = seg.ack  # what the server expects from us next (RCV.NXT)

# RFC 5961 §3: RSTs that are in the window but not exactly RCV.NXT -> challenge ACK, no reset.
for off in (1, 100, 1000):
    send(IP(dst=server) / TCP(sport=local_port, dport=port, flags="R", seq=(our_seq + off) % 2**32))
# RFC 5961 §4: a SYN on an established connection -> challenge ACK.
send(IP(dst=server) / TCP(sport=local_port, dport=port, flags="S", seq=(our_seq + 5) % 2**32))
# RFC 5961 §5: data with an ACK far in the past -> challenge ACK, data dropped.
send(IP(dst=server) / TCP(sport=local_port, dport=port, flags="PA", seq=our_seq, ack=(server_seq - 0x20000000) % 2**32) / Raw(b"GET /evil HTTP/1.1\r\n\r\n"))
# Out-of-window data -> duplicate ACK, dropped.
send(IP(dst=server) / TCP(sport=local_port, dport=port, flags="PA", seq=(our_seq + 0x10000000) % 2**32, ack=server_seq) / Raw(b"junk"))

# The real connection still works.
s.sendall(b"GET /bytes/20 HTTP/1.1\r\nHost: x\r\n\r\n")
reply = b""
while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < 20:
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
print(json.dumps({"ok": reply.startswith(b"HTTP/1.1 200"), "localPort": local_port}))
s.close()
