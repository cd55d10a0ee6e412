#!/usr/bin/python3
"""IPv6 extension-header conformance cases (issue 11 item 11), sent from the kernel side of a link.

usage: ext-headers6.py IFACE DST_MAC SRC DST CASE [LISTEN_SECONDS]

Sends CASE to DST (tapnet, or a Linux namespace when comparing) and prints, one JSON object a line, every
ICMPv6 packet DST sends back to SRC within LISTEN_SECONDS (default 1): {"type", "code", "pointer"} for errors,
{"type", "id", "seq"} for echo replies. NDP is left out.

The cases follow thc-ipv6's atk6-implementation6 (its option 0x1f "NXT_IGNORE" with length 0, then Pad1 to the
end of each header; fragments of 1432 bytes, its size for a 1500-byte MTU), plus the edges around them.
Every echo request carries its own identifier, so a reply names the case that caused it.
"""
import json
import socket
import struct
import sys
import time

from scapy.all import ICMPv6EchoRequest, IPv6, AsyncSniffer, get_if_hwaddr  # noqa: E402

iface, dst_mac, src, dst, case = sys.argv[1:6]
listen = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
src_mac = get_if_hwaddr(iface)

HBH, DSTOPT, FRAG, ICMPV6 = 0, 60, 44, 58
IGNORE = 0x1F  # an unknown option whose top bits are 00: skip it (RFC 8200 §4.2)
THC_FRAGMENT = 1432  # ((1500 - 62) // 8) * 8

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ether(dest_mac=None):
    return mac_bytes(dest_mac or dst_mac) + mac_bytes(src_mac) + b"\x86\xdd"


def multicast_mac(address):
    b = socket.inet_pton(socket.AF_INET6, address)
    return "33:33:" + ":".join("%02x" % x for x in b[12:])


def fixed(next_header, payload_length, destination=None, hop_limit=64):
    """The 40-byte IPv6 header."""
    return (
        struct.pack("!IHBB", 0x60000000, payload_length, next_header, hop_limit)
        + socket.inet_pton(socket.AF_INET6, src)
        + socket.inet_pton(socket.AF_INET6, destination or dst)
    )


def echo(ident, size=64, reply=False):
    """An ICMPv6 echo request (or reply) whose checksum is computed for SRC -> DST."""
    e = ICMPv6EchoRequest(id=ident, seq=1, data=bytes([ident & 0xFF]) * size)
    if reply:
        e.type = 129
    return bytes(IPv6(src=src, dst=dst) / e)[40:]


def checksummed(upper, destination=None):
    """Recomputes the ICMPv6 checksum of `upper` (an ICMPv6 message) for SRC -> destination."""
    b = bytearray(upper)
    b[2:4] = b"\0\0"
    pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, destination or dst) + struct.pack("!IxxxB", len(b), ICMPV6)
    data = pseudo + bytes(b) + (b"\0" if len(b) % 2 else b"")
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", b, 2, ~total & 0xFFFF)
    return bytes(b)


def options_header(next_header, options, length=8):
    """A Hop-by-Hop or Destination Options header of `length` bytes: `options`, then Pad1 to the end (as thc does)."""
    body = bytes([next_header, length // 8 - 1]) + options
    assert len(body) <= length
    return body + b"\0" * (length - len(body))


def thc_header(next_header, length=8):
    return options_header(next_header, bytes([IGNORE, 0]), length)


def fragment_header(next_header, offset, more, ident):
    return struct.pack("!BBHI", next_header, 0, offset | (1 if more else 0), ident)


def send_packet(first_header, payload, destination=None, dest_mac=None, hop_limit=64):
    sock.send(ether(dest_mac) + fixed(first_header, len(payload), destination, hop_limit) + payload)


def send_fragments(next_header, fragmentable, ident, size=THC_FRAGMENT, hop_limit=64):
    """`fragmentable` in pieces of `size` bytes (a multiple of 8), each after a Fragment header."""
    for at in range(0, len(fragmentable), size):
        piece = fragmentable[at : at + size]
        more = at + size < len(fragmentable)
        send_packet(FRAG, fragment_header(next_header, at, more, ident) + piece, hop_limit=hop_limit)


def many_dstopts(count, upper):
    return b"".join(thc_header(DSTOPT if i < count - 1 else ICMPV6) for i in range(count)) + upper


def run(case):
    if case == "ping":
        send_packet(ICMPV6, echo(0x100))
    elif case == "dst-128":
        # 128 Destination Options headers of 8 bytes, then the echo request: 1024 bytes of headers in one packet.
        send_packet(DSTOPT, many_dstopts(128, echo(0x101, 150)))
    elif case == "dst-160":
        # 160 headers: 1280 bytes, still in one 1500-byte frame.
        send_packet(DSTOPT, many_dstopts(160, echo(0x102, 64)))
    elif case == "dst-2000-frag":
        # 2000 headers (16000 bytes) and the echo request, in fragments as thc sends them: the first fragment
        # cannot hold the whole chain (RFC 7112).
        send_fragments(DSTOPT, many_dstopts(2000, echo(0x103, 150)), 0x103)
    elif case == "hbh-2k-frag":
        # thc "hop-by-hop ignore option 2kb size": a 2048-byte Hop-by-Hop header inside the fragmentable part,
        # so after reassembly it follows the Fragment header.
        send_fragments(HBH, thc_header(ICMPV6, 2048) + echo(0x104, 150), 0x104)
    elif case == "dst-2k-frag":
        # thc "destination ignore option 2kb size": option 0x1f then 2044 Pad1 octets, fragmented.
        send_fragments(DSTOPT, thc_header(ICMPV6, 2048) + echo(0x105, 150), 0x105)
    elif case == "dst-1k-pad1":
        # One 1024-byte Destination Options header in one packet: 0x1f, then 1020 Pad1.
        send_packet(DSTOPT, thc_header(ICMPV6, 1024) + echo(0x106))
    elif case == "dst-1k-padn":
        # One 1024-byte header of PadN options only (145 of 7 bytes, then one of 7): padding all the way.
        opts = b"".join(bytes([1, 5]) + b"\0" * 5 for _ in range(146))
        send_packet(DSTOPT, options_header(ICMPV6, opts, 1024) + echo(0x107))
    elif case == "dst-padn-nonzero":
        # PadN whose padding is not zero (RFC 4942 §2.1.9.5 asks receivers to check).
        send_packet(DSTOPT, options_header(ICMPV6, bytes([1, 4, 0, 0, 0, 1])) + echo(0x11C))
    elif case == "dst-8172-frag":
        # thc's largest: 8172 headers (65376 bytes), 65534 bytes of payload reassembled.
        send_fragments(DSTOPT, many_dstopts(8172, echo(0x11D, 150)), 0x11D)
    elif case == "dst-2100-frag":
        # 2100 headers (16800 bytes): just past 16 KiB.
        send_fragments(DSTOPT, many_dstopts(2100, echo(0x11E, 150)), 0x11E)
    elif case == "dst-1k-unknown":
        # One 1024-byte header of 127 skippable unknown options (0x1e, 6 bytes of data each), then PadN.
        opts = b"".join(bytes([0x1E, 6]) + b"\0" * 6 for _ in range(127))
        send_packet(DSTOPT, options_header(ICMPV6, opts + bytes([1, 4, 0, 0, 0, 0]), 1024) + echo(0x108))
    elif case in ("dst-8-unknown", "dst-9-unknown"):
        n = int(case.split("-")[1])
        opts = b"".join(bytes([0x1E, 0]) for _ in range(n))
        length = (2 + len(opts) + 7) // 8 * 8
        send_packet(DSTOPT, options_header(ICMPV6, opts + b"\0" * 0, length) + echo(0x109 + n - 8))
    elif case == "hbh-after-dst":
        # RFC 8200 §4.1: Hop-by-Hop only right after the IPv6 header. Here it follows a Destination Options header.
        send_packet(DSTOPT, thc_header(HBH) + thc_header(ICMPV6) + echo(0x10B))
    elif case == "hbh-after-atomic-fragment":
        send_packet(FRAG, fragment_header(HBH, 0, False, 0x10C) + thc_header(ICMPV6) + echo(0x10C))
    elif case == "hbh-twice":
        send_packet(HBH, thc_header(HBH) + thc_header(ICMPV6) + echo(0x10D))
    elif case == "jumbo-nonzero-length":
        # RFC 2675 §3: a Jumbo Payload option (0xc2, length 4, at offset 42: 4n+2 aligned) in a packet whose
        # Payload Length is not 0. Jumbo length 70000.
        send_packet(HBH, options_header(ICMPV6, bytes([0xC2, 4]) + struct.pack("!I", 70000)) + echo(0x10E))
    elif case == "jumbo-small-value":
        # Jumbo Payload Length 1000 (≤ 65535).
        send_packet(HBH, options_header(ICMPV6, bytes([0xC2, 4]) + struct.pack("!I", 1000)) + echo(0x10F))
    elif case == "jumbo-misaligned":
        # The option at offset 43 (not 4n+2).
        send_packet(HBH, options_header(ICMPV6, bytes([0, 0xC2, 4]) + struct.pack("!I", 70000), 16) + echo(0x110))
    elif case == "jumbo-in-dstopt":
        # 0xc2 means Jumbo only in Hop-by-Hop; in Destination Options it is an unknown option of type 11.
        send_packet(DSTOPT, options_header(ICMPV6, bytes([0xC2, 4]) + struct.pack("!I", 70000)) + echo(0x111))
    elif case in ("unknown-01", "unknown-10", "unknown-11"):
        kind = {"unknown-01": 0x5F, "unknown-10": 0x9F, "unknown-11": 0xDF}[case]
        send_packet(DSTOPT, options_header(ICMPV6, bytes([kind, 2, 0, 0])) + echo(0x112))
    elif case in ("unknown-10-multicast", "unknown-11-multicast"):
        kind = 0x9F if case == "unknown-10-multicast" else 0xDF
        group = "ff02::1"
        upper = checksummed(echo(0x113), group)
        send_packet(DSTOPT, options_header(ICMPV6, bytes([kind, 2, 0, 0])) + upper, group, multicast_mac(group))
    elif case in ("overlap-first-zero", "overlap-last-zero", "overlap-first-dst", "overlap-last-dst"):
        # thc's four overlap cases. Each packet: a Destination Options header (0x1f + Pad1) and an echo of
        # 1350 bytes; 22 bytes cut from the end (1344 bytes sent). The "zero" cases name the first header 0
        # (Hop-by-Hop) in the Fragment header, the "dst" cases 60. Hop limit 0, as thc sends them.
        ident = {"overlap-first-zero": 0x114, "overlap-last-zero": 0x115, "overlap-first-dst": 0x116, "overlap-last-dst": 0x117}[case]
        request = (thc_header(ICMPV6) + echo(ident, 1350))[:-22]
        reply = (thc_header(ICMPV6) + echo(ident, 1350, reply=True))[:-22]
        if case.endswith("zero"):
            # Both at offset 0: the first with M=1, the second with M=0, an atomic fragment (RFC 6946).
            first, second = (request, reply) if case == "overlap-first-zero" else (reply, request)
            send_packet(FRAG, fragment_header(HBH, 0, True, ident) + first, hop_limit=0)
            send_packet(FRAG, fragment_header(HBH, 0, False, ident) + second, hop_limit=0)
        else:
            # Offset 0 with M=1, then offset 8 with M=0 carrying the other packet from its byte 8: they overlap.
            later = fragment_header(DSTOPT, 8, False, ident) + (reply if case == "overlap-first-dst" else request)[8:]
            head = fragment_header(DSTOPT, 0, True, ident) + (request if case == "overlap-first-dst" else reply)
            if case == "overlap-first-dst":
                send_packet(FRAG, head, hop_limit=0)
                send_packet(FRAG, later, hop_limit=0)
            else:
                send_packet(FRAG, later, hop_limit=0)
                send_packet(FRAG, head, hop_limit=0)
    elif case == "atomic-fragment":
        send_packet(FRAG, fragment_header(ICMPV6, 0, False, 0x118) + echo(0x118))
    elif case == "atomic-after-queued":
        # A first fragment (M=1) waits for the rest; an atomic fragment with the same Identification and a
        # whole echo request is processed on its own (RFC 6946 §4).
        whole = echo(0x119, 200)
        send_packet(FRAG, fragment_header(ICMPV6, 0, True, 0x119) + whole[:96])
        send_packet(FRAG, fragment_header(ICMPV6, 0, False, 0x119) + whole)
    elif case == "first-fragment-chain-cut":
        # A first fragment whose Destination Options header (1024 bytes) runs past the fragment's end, then
        # the rest: RFC 7112 says discard; see what the peer does with the whole.
        send_fragments(DSTOPT, thc_header(ICMPV6, 1024) + echo(0x11A), 0x11A, size=512)
    elif case == "first-fragment-upper-cut":
        # The chain is whole in the first fragment but the ICMPv6 header is cut (4 of 8 bytes).
        send_packet(FRAG, fragment_header(DSTOPT, 0, True, 0x11B) + thc_header(ICMPV6))
    elif case == "hbh-after-fragment":
        # Hop-by-Hop first in the fragmentable part of a datagram in two fragments: after reassembly it follows
        # the fixed header in the buffer, but it came after a Fragment header on the wire.
        send_fragments(HBH, thc_header(ICMPV6) + echo(0x121, 600), 0x121, size=304)
    elif case == "jumbo-zero-length":
        # Payload Length 0 (RFC 2675: "a jumbogram") and a Jumbo Payload Length of 1000 (<= 65535).
        body = options_header(ICMPV6, bytes([0xC2, 4]) + struct.pack("!I", 1000)) + echo(0x122)
        sock.send(ether() + fixed(HBH, 0) + body)
    elif case == "jumbo-zero-length-big":
        # Payload Length 0 and a Jumbo Payload Length of 70000, far more than arrived.
        body = options_header(ICMPV6, bytes([0xC2, 4]) + struct.pack("!I", 70000)) + echo(0x123)
        sock.send(ether() + fixed(HBH, 0) + body)
    elif case == "zero-length-no-jumbo":
        # Payload Length 0 and a Hop-by-Hop header without a Jumbo Payload option.
        sock.send(ether() + fixed(HBH, 0) + thc_header(ICMPV6) + echo(0x124))
    elif case == "zero-length-dstopt":
        # Payload Length 0 and no Hop-by-Hop header: an empty packet, whatever follows is link padding.
        sock.send(ether() + fixed(DSTOPT, 0) + thc_header(ICMPV6) + echo(0x125))
    elif case.startswith("dst-n-"):
        n = int(case[6:])
        send_fragments(DSTOPT, many_dstopts(n, echo(0x120, 150)), 0x120)
    else:
        sys.exit(f"unknown case {case}")


def answers():
    def keep(p):
        if IPv6 not in p:
            return False
        ip = p[IPv6]
        # From DST, or (an error about a packet sent to a group) from any address of the peer but ours.
        return ip.dst == src and ip.src != src

    sniffer = AsyncSniffer(iface=iface, lfilter=keep, store=True)
    sniffer.start()
    time.sleep(0.3)
    run(case)
    time.sleep(listen)
    packets = sniffer.stop() or []
    for p in packets:
        raw = bytes(p[IPv6])
        # Walk to the ICMPv6 header.
        nh, off = raw[6], 40
        while nh in (HBH, DSTOPT, 43, FRAG) and off + 8 <= len(raw):
            nh, off = raw[off], off + (8 if nh == FRAG else (raw[off + 1] + 1) * 8)
        if nh != ICMPV6 or off + 8 > len(raw):
            print(json.dumps({"next_header": nh}))
            continue
        icmp = raw[off:]
        t, code = icmp[0], icmp[1]
        # NDP and MLD are not answers; neither is Time Exceeded, which a fragment left waiting by an earlier case
        # brings 60 s later (RFC 8200 §4.5).
        if t in (3, 133, 134, 135, 136, 143):
            continue
        if t == 129:
            print(json.dumps({"type": t, "id": struct.unpack("!H", icmp[4:6])[0], "seq": struct.unpack("!H", icmp[6:8])[0]}))
        elif t < 128:
            print(json.dumps({"type": t, "code": code, "pointer": struct.unpack("!I", icmp[4:8])[0], "length": len(raw)}))
        else:
            print(json.dumps({"type": t, "code": code}))


answers()
