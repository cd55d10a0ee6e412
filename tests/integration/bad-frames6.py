#!/usr/bin/python3
"""Sends malformed and hostile IPv6 frames into a TAP from the kernel side (run inside the TAP's namespace).

usage: bad-frames6.py IFACE TAPNET_MAC KERNEL_ADDRESS CASE
KERNEL_ADDRESS is the kernel end's SLAAC address (the source of most cases); tapnet is fd77::1.
Frames are built with scapy and sent through one AF_PACKET socket, so a flood is fast.
"""
import socket
import struct
import sys

from scapy.all import (  # noqa: E402
    Ether,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrRouting,
    Raw,
    get_if_hwaddr,
)

iface, dst_mac, kernel, case = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
src_mac = get_if_hwaddr(iface)
TAPNET = "fd77::1"
SOLICITED_TAPNET = "ff02::1:ff00:1"
SOLICITED_TAPNET_MAC = "33:33:ff:00:00:01"

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))


def send(frame):
    sock.send(bytes(frame))


def eth(dst=None):
    return Ether(src=src_mac, dst=dst or dst_mac, type=0x86DD)


def echo(ident=7, size=32):
    return ICMPv6EchoRequest(id=ident, seq=1, data=b"x" * size)


if case == "truncated-ipv6":
    send(bytes(eth()) + bytes(IPv6(src=kernel, dst=TAPNET) / echo())[:24])
elif case == "lying-payload-length":
    b = bytearray(bytes(IPv6(src=kernel, dst=TAPNET) / echo()))
    struct.pack_into("!H", b, 4, 1000)  # claims 1000 bytes, carries 40
    send(bytes(eth()) + bytes(b))
elif case == "bad-icmpv6-checksum":
    b = bytearray(bytes(IPv6(src=kernel, dst=TAPNET) / echo()))
    b[42] ^= 0xFF
    send(bytes(eth()) + bytes(b))
elif case == "rh0":
    # RFC 5095: a Type 0 routing header with Segments Left 1 → Parameter Problem code 0, pointer 42.
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=["fd77::99"]) / echo())
elif case == "unknown-next-header":
    send(eth() / IPv6(src=kernel, dst=TAPNET, nh=253) / Raw(b"y" * 8))
elif case == "long-header-chain":
    # 20 empty Destination Options headers before the ICMPv6 header.
    p = IPv6(src=kernel, dst=TAPNET)
    for _ in range(20):
        p = p / IPv6ExtHdrDestOpt()
    send(eth() / p / echo())
elif case == "unknown-option-discard":
    # Option type 0x40 (01xxxxxx): discard silently. Option type 0x80 (10xxxxxx): discard + Parameter Problem code 2.
    from scapy.layers.inet6 import HBHOptUnknown
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x40, optdata=b"ab")]) / echo())
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x80, optdata=b"ab")]) / echo())
elif case == "first-fragment-incomplete":
    # RFC 7112: the first fragment carries a Destination Options header that claims 16 bytes but holds 8.
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=60, offset=0, m=1, id=0x7112) / Raw(bytes([58, 1]) + b"\x01\x04\x00\x00\x00\x00"))
elif case == "overlapping-fragments":
    # The checksum must be right for the payload as first sent: compute it on the whole packet.
    whole = bytes(IPv6(src=kernel, dst=TAPNET) / ICMPv6EchoRequest(id=9, seq=1, data=b"A" * 1600))
    payload = whole[40:]
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=4242) / Raw(payload[:800]))
    # Overlaps bytes 400..1200 of the first fragment with different content (RFC 5722: drop it all).
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=58, offset=50, m=1, id=4242) / Raw(b"B" * 800))
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=58, offset=150, m=0, id=4242) / Raw(payload[1200:]))
elif case == "fragment-not-multiple-of-8":
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=4343) / Raw(bytes(echo(size=31))))
elif case == "fragment-past-65535":
    send(eth() / IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=58, offset=8190, m=0, id=4444) / Raw(b"D" * 104))
elif case == "fragment-flood-memory":
    # 120 packets x 40 fragments of 1400 bytes, never completed: 6.7 MB, past the 4 MB cap.
    base = bytes(eth())
    for i in range(120):
        for k in range(1, 41):
            send(base + bytes(IPv6(src=kernel, dst=TAPNET) / IPv6ExtHdrFragment(nh=17, offset=k * 175, m=1, id=20000 + i) / Raw(b"G" * 1400)))
elif case == "ndp-bad-hop-limit":
    send(eth(SOLICITED_TAPNET_MAC) / IPv6(src=kernel, dst=SOLICITED_TAPNET, hlim=64) / ICMPv6ND_NS(tgt=TAPNET) / ICMPv6NDOptSrcLLAddr(lladdr=src_mac))
elif case == "ndp-in-fragment":
    # RFC 6980: an (atomic) fragment carrying a Neighbor Solicitation is ignored.
    whole = bytes(IPv6(src=kernel, dst=SOLICITED_TAPNET, hlim=255) / ICMPv6ND_NS(tgt=TAPNET) / ICMPv6NDOptSrcLLAddr(lladdr=src_mac))
    send(eth(SOLICITED_TAPNET_MAC) / IPv6(src=kernel, dst=SOLICITED_TAPNET, hlim=255) / IPv6ExtHdrFragment(nh=58, offset=0, m=0, id=1) / Raw(whole[40:]))
elif case == "ndp-zero-length-option":
    b = bytearray(bytes(IPv6(src=kernel, dst=SOLICITED_TAPNET, hlim=255) / ICMPv6ND_NS(tgt=TAPNET) / ICMPv6NDOptSrcLLAddr(lladdr=src_mac)))
    b[40 + 24 + 1] = 0  # the option's length octet
    # Fix the checksum so only the option is wrong.
    b[42:44] = b"\0\0"
    pseudo = b[8:40] + struct.pack("!IxxxB", len(b) - 40, 58)
    data = pseudo + b[40:]
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", b, 42, ~total & 0xFFFF)
    send(bytes(eth(SOLICITED_TAPNET_MAC)) + bytes(b))
elif case == "ns-foreign":
    # Unicast to tapnet (as a reachability probe would be) but asking for addresses it does not have.
    for last in (0x50, 0x51, 0x52):
        send(eth() / IPv6(src=kernel, dst=TAPNET, hlim=255) / ICMPv6ND_NS(tgt=f"fd77::{last:x}") / ICMPv6NDOptSrcLLAddr(lladdr=src_mac))
    # To the solicited-node group of fd77::50, which tapnet never joined: dropped before NDP sees it.
    send(eth("33:33:ff:00:00:50") / IPv6(src=kernel, dst="ff02::1:ff00:50", hlim=255) / ICMPv6ND_NS(tgt="fd77::50") / ICMPv6NDOptSrcLLAddr(lladdr=src_mac))
elif case == "na-unsolicited":
    send(eth() / IPv6(src="fd77::66", dst=TAPNET, hlim=255) / ICMPv6ND_NA(tgt="fd77::66", R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr="02:66:66:66:66:66"))
elif case == "ns-flood":
    # 2000 solicitations for fd77::1 from 2000 spoofed sources and MACs: each would create a cache entry.
    base = bytes(eth(SOLICITED_TAPNET_MAC))
    for i in range(2000):
        mac = "02:77:00:00:%02x:%02x" % (i >> 8, i & 0xFF)
        src = "fd77::1:%x" % i
        send(base + bytes(IPv6(src=src, dst=SOLICITED_TAPNET, hlim=255) / ICMPv6ND_NS(tgt=TAPNET) / ICMPv6NDOptSrcLLAddr(lladdr=mac)))
else:
    sys.exit(f"unknown case {case}")
