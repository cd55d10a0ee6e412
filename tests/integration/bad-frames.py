#!/usr/bin/python3
"""Sends malformed frames into a TAP from the kernel side (run inside the TAP's namespace).

usage: bad-frames.py IFACE TAPNET_MAC CASE
Frames are built with scapy and sent through one AF_PACKET socket, so a flood is fast.
"""
import socket
import struct
import sys

from scapy.all import ARP, ICMP, IP, Ether, Raw, get_if_hwaddr  # noqa: E402

iface, dst_mac, case = sys.argv[1], sys.argv[2], sys.argv[3]
src_mac = get_if_hwaddr(iface)
TAPNET, KERNEL = "10.77.0.1", "10.77.0.2"

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))


def send(frame):
    sock.send(bytes(frame))


def eth():
    return Ether(src=src_mac, dst=dst_mac, type=0x0800)


def ip_bytes(**kw):
    """A valid IPv4+ICMP echo request as bytes, so fields can be broken after checksumming."""
    return bytearray(bytes(IP(src=KERNEL, dst=TAPNET, **kw) / ICMP(id=7, seq=1) / Raw(b"x" * 32)))


def fix_ip_checksum(b):
    """Recomputes the header checksum so only the broken field is wrong."""
    ihl = min((b[0] & 0x0F) * 4, len(b))
    b[10:12] = b"\0\0"
    total = sum(struct.unpack("!%dH" % (ihl // 2), bytes(b[:ihl - ihl % 2])))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", b, 10, ~total & 0xFFFF)
    return b


if case == "truncated-ethernet":
    # The kernel will not send a frame shorter than 14 bytes, but it will send an 802.1Q
    # frame cut inside its tag: EtherType 0x8100 followed by 0, 1 or 2 of the 4 tag bytes.
    header = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + b"\x81\x00"
    for n in (0, 1, 2):
        send(header + b"\x00" * n)
elif case == "truncated-ip":
    send(bytes(eth()) + ip_bytes()[:12])
elif case == "lying-total-length":
    b = ip_bytes()
    struct.pack_into("!H", b, 2, 1000)  # claims 1000 bytes, carries 60
    fix_ip_checksum(b)
    send(bytes(eth()) + bytes(b))
elif case == "total-length-below-header":
    b = ip_bytes()
    struct.pack_into("!H", b, 2, 12)
    fix_ip_checksum(b)
    send(bytes(eth()) + bytes(b))
elif case == "bad-ip-checksum":
    b = ip_bytes()
    b[10] ^= 0xFF
    send(bytes(eth()) + bytes(b))
elif case == "bad-icmp-checksum":
    b = ip_bytes()
    b[22] ^= 0xFF  # ICMP checksum, first byte
    send(bytes(eth()) + bytes(b))
elif case == "bad-version":
    b = ip_bytes()
    b[0] = 0x65  # version 6, IHL 5
    fix_ip_checksum(b)
    send(bytes(eth()) + bytes(b))
elif case == "bad-ihl":
    b = ip_bytes()
    b[0] = 0x43  # IHL 3 (12 bytes) is below the minimum 5
    send(bytes(eth()) + bytes(b))
elif case == "ihl-past-end":
    b = ip_bytes()[:24]
    b[0] = 0x4F  # IHL 15 = 60 bytes, frame holds 24
    struct.pack_into("!H", b, 2, 24)
    send(bytes(eth()) + bytes(b))
elif case == "overlapping-fragments":
    payload = bytes(ICMP(id=9, seq=1) / Raw(b"A" * 1600))
    send(eth() / IP(src=KERNEL, dst=TAPNET, id=4242, flags="MF", frag=0, proto=1) / Raw(payload[:800]))
    # Overlaps bytes 400..1200 of the first fragment with different content.
    send(eth() / IP(src=KERNEL, dst=TAPNET, id=4242, flags="MF", frag=50, proto=1) / Raw(b"B" * 800))
    send(eth() / IP(src=KERNEL, dst=TAPNET, id=4242, frag=150, proto=1) / Raw(payload[1200:]))
elif case == "oversized-fragment":
    # Offset 65528 bytes + 100 bytes of data ends past 65535 (the "ping of death").
    send(eth() / IP(src=KERNEL, dst=TAPNET, id=4343, flags="MF", frag=0, proto=1) / Raw(b"C" * 800))
    send(eth() / IP(src=KERNEL, dst=TAPNET, id=4343, frag=8191, proto=1) / Raw(b"D" * 100))
elif case == "fragment-flood-memory":
    # 120 datagrams x 40 fragments of 1376 bytes, never completed: 6.6 MB, past the memory cap.
    base = bytes(eth())
    for i in range(120):
        for k in range(40):
            send(base + bytes(IP(src=KERNEL, dst=TAPNET, id=10000 + i, flags="MF", frag=k * 172, proto=17) / Raw(b"G" * 1376)))
elif case == "fragment-flood-datagrams":
    # 3000 datagrams of one small fragment each: past the cap on datagrams in progress.
    base = bytes(eth())
    for i in range(3000):
        send(base + bytes(IP(src=KERNEL, dst=TAPNET, id=i, flags="MF", frag=0, proto=17) / Raw(b"F" * 64)))
elif case == "arp-foreign":
    for last in (50, 51, 52):
        send(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=src_mac, psrc=KERNEL, pdst=f"10.77.0.{last}"))
elif case == "arp-unsolicited-reply":
    send(Ether(src=src_mac, dst=dst_mac) / ARP(op=2, hwsrc="02:66:66:66:66:66", psrc="10.77.0.66", hwdst=dst_mac, pdst=TAPNET))
elif case == "arp-garbage":
    send(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"\x00\x01\x08\x00\x06"))
    send(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwlen=8, plen=4, psrc=KERNEL, pdst=TAPNET))
else:
    sys.exit(f"unknown case {case}")
