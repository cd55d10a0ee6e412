/**
 * Real DNS messages (UDP payloads), captured with `tcpdump -w` on a veth pair
 * between two private network namespaces: dig 9.18 (192.0.2.1) querying
 * dnsmasq 2.90 (192.0.2.53, port 53533/53534) configured with
 *
 *   address=/www.example.test/192.0.2.10
 *   host-record=host.example.test,192.0.2.20,2001:db8::20
 *   txt-record=txt.example.test,"v=spf1 -all","second string"
 *   txt-record=big.example.test,"a…200","a…200","a…200"
 *   srv-host=_sip._udp.example.test,sip.example.test,5060,10,20
 *   mx-host=example.test,mail.example.test,10
 *   ptr-record=20.2.0.192.in-addr.arpa,host.example.test
 *   cname=alias.example.test,host.example.test
 *   (port 53534) auth-server=ns1.example.test, auth-zone=example.test,
 *   auth-soa=2026112301,hostmaster.example.test,1200,120,604800, auth-sec-servers=ns2.example.test
 *
 * The `dig` lines are what dig printed for the same exchange.
 */
import { fromHex } from '../../../../src/core/bytes.js';

/** Hex with `// comments`. */
export const wire = (text: string): Uint8Array => fromHex(text.replace(/\/\/.*$/gm, ''));

/** `dig www.example.test A +noedns +norec`: the query. */
export const A_QUERY = wire(`
  d7e2                 // id 55266
  0020                 // flags: QUERY, AD (dig sets AD on queries, RFC 6840 §5.7)
  0001 0000 0000 0000  // 1 question
  03 777777 07 6578616d706c65 04 74657374 00  // +12 www.example.test.
  0001 0001            // A IN
`);

/** dig: `www.example.test. 0 IN A 192.0.2.10`, flags: qr aa ra. */
export const A_RESPONSE = wire(`
  d7e2                 // id 55266
  8480                 // qr aa ra, NOERROR
  0001 0001 0000 0000  // 1 question, 1 answer
  03 777777 07 6578616d706c65 04 74657374 00  // +12 www.example.test.
  0001 0001            // A IN
  c00c                 // +34 owner: pointer to +12
  0001 0001            // A IN
  00000000             // TTL 0
  0004 c000020a        // RDLENGTH 4, 192.0.2.10
`);

/** `dig host.example.test AAAA` (EDNS, cookie on by default): the query with an OPT carrying a COOKIE option. */
export const AAAA_QUERY_EDNS = wire(`
  c098 0020 0001 0000 0000 0001              // id 49304, AD, 1 question, 1 additional
  04 686f7374 07 6578616d706c65 04 74657374 00  // +12 host.example.test.
  001c 0001                                  // AAAA IN
  00                                         // OPT owner: root
  0029                                       // type OPT (41)
  04d0                                       // CLASS = UDP payload size 1232
  00 00 0000                                 // TTL = extended rcode 0, version 0, DO 0, Z 0
  000c                                       // RDLENGTH 12
  000a 0008 b16515d6066d7828                 // option COOKIE (10), 8 octets: the client cookie
`);

/** dig: `host.example.test. 0 IN AAAA 2001:db8::20`, `EDNS: version: 0, flags:; udp: 1232`. */
export const AAAA_RESPONSE_EDNS = wire(`
  c098 8480 0001 0001 0000 0001              // qr aa ra; 1 answer, 1 additional
  04 686f7374 07 6578616d706c65 04 74657374 00  // +12 host.example.test.
  001c 0001                                  // AAAA IN
  c00c 001c 0001 00000000 0010               // owner → +12, AAAA IN, TTL 0, RDLENGTH 16
  20010db8000000000000000000000020           // 2001:db8::20
  00 0029 04d0 00000000 0000                 // OPT: root, udp 1232, TTL 0, no options (dnsmasq drops the cookie)
`);

/** dig: `txt.example.test. 0 IN TXT "v=spf1 -all" "second string"`. */
export const TXT_RESPONSE = wire(`
  c723 8480 0001 0001 0000 0000
  03 747874 07 6578616d706c65 04 74657374 00  // txt.example.test.
  0010 0001                                  // TXT IN
  c00c 0010 0001 00000000 001a               // RDLENGTH 26
  0b 763d73706631202d616c6c                  // 11 "v=spf1 -all"
  0d 7365636f6e6420737472696e67              // 13 "second string"
`);

/** dig: `_sip._udp.example.test. 0 IN SRV 10 20 5060 sip.example.test.` (target not compressed, RFC 2782). */
export const SRV_RESPONSE = wire(`
  6d60 8480 0001 0001 0000 0000
  04 5f736970 04 5f756470 07 6578616d706c65 04 74657374 00  // _sip._udp.example.test.
  0021 0001                                  // SRV IN
  c00c 0021 0001 00000000 0018               // RDLENGTH 24
  000a 0014 13c4                             // priority 10, weight 20, port 5060
  03 736970 07 6578616d706c65 04 74657374 00 // sip.example.test. in full
`);

/** dig: `example.test. 0 IN MX 10 mail.example.test.` (dnsmasq does not compress the exchange). */
export const MX_RESPONSE = wire(`
  b0c6 8480 0001 0001 0000 0000
  07 6578616d706c65 04 74657374 00           // +12 example.test.
  000f 0001                                  // MX IN
  c00c 000f 0001 00000000 0015               // RDLENGTH 21
  000a                                       // preference 10
  04 6d61696c 07 6578616d706c65 04 74657374 00  // mail.example.test.
`);

/** dig: `20.2.0.192.in-addr.arpa. 0 IN PTR host.example.test.`. */
export const PTR_RESPONSE = wire(`
  062d 8480 0001 0001 0000 0000
  02 3230 01 32 01 30 03 313932 07 696e2d61646472 04 61727061 00  // 20.2.0.192.in-addr.arpa.
  000c 0001                                  // PTR IN
  c00c 000c 0001 00000000 0013               // RDLENGTH 19
  04 686f7374 07 6578616d706c65 04 74657374 00  // host.example.test.
`);

/**
 * dig: `alias.example.test. 0 IN CNAME host.example.test.` then
 * `host.example.test. 0 IN A 192.0.2.20`: the A owner points into the CNAME RDATA.
 */
export const CNAME_RESPONSE = wire(`
  ffc9 8480 0001 0002 0000 0000              // 2 answers
  05 616c696173 07 6578616d706c65 04 74657374 00  // +12 alias.example.test.
  0001 0001                                  // A IN
  c00c 0005 0001 00000000 0013               // +36 CNAME, RDLENGTH 19
  04 686f7374 07 6578616d706c65 04 74657374 00  // +48 host.example.test.
  c030 0001 0001 00000000 0004 c0000214      // +67 owner → +48, A IN, 192.0.2.20
`);

/** `dig www.example.test A +dnssec +bufsize=1232 +nocookie`: DO set, no options. */
export const DO_QUERY = wire(`
  ad6c 0020 0001 0000 0000 0001
  03 777777 07 6578616d706c65 04 74657374 00 0001 0001
  00 0029 04d0                               // OPT, udp 1232
  00 00 8000                                 // extended rcode 0, version 0, DO = 1
  0000                                       // no options
`);

/** dig: `EDNS: version: 0, flags: do; udp: 1232` and the A answer. */
export const DO_RESPONSE = wire(`
  ad6c 8480 0001 0001 0000 0001
  03 777777 07 6578616d706c65 04 74657374 00 0001 0001
  c00c 0001 0001 00000000 0004 c000020a
  00 0029 04d0 00008000 0000                 // OPT with DO echoed
`);

/** `dig big.example.test TXT +noedns +ignore`: 660 octets do not fit 512, dnsmasq answers with TC and no records. */
export const TC_RESPONSE = wire(`
  7291 8680 0001 0000 0000 0000              // qr aa TC ra, 0 answers
  03 626967 07 6578616d706c65 04 74657374 00 0010 0001  // big.example.test. TXT IN
`);

/** `dig big.example.test TXT +bufsize=1232 +nocookie`: the full 660-octet answer (three 200-octet strings). */
export const BIG_TXT_RESPONSE = wire(`
  9638 8480 0001 0001 0000 0001
  03 626967 07 6578616d706c65 04 74657374 00 0010 0001
  c00c 0010 0001 00000000 025b               // RDLENGTH 603 = 3 × (1 + 200)
  c8 ${'61'.repeat(200)} c8 ${'61'.repeat(200)} c8 ${'61'.repeat(200)}
  00 0029 04d0 00000000 0000
`);

/**
 * dig (port 53534, authoritative mode): `example.test. 600 IN SOA ns1.example.test.
 * hostmaster.example.test. 2026112301 1200 120 604800 600` and, in the
 * authority section, `example.test. 600 IN NS ns2.example.test.`. dnsmasq
 * writes the SOA owner in full and points the NS owner at it.
 */
export const SOA_RESPONSE = wire(`
  32c6 8480 0001 0001 0001 0000              // 1 answer, 1 authority
  07 6578616d706c65 04 74657374 00 0006 0001 // +12 example.test. SOA IN
  07 6578616d706c65 04 74657374 00           // +30 owner, uncompressed
  0006 0001 00000258 003f                    // SOA IN TTL 600 RDLENGTH 63
  03 6e7331 07 6578616d706c65 04 74657374 00 // mname ns1.example.test.
  0a 686f73746d6173746572 07 6578616d706c65 04 74657374 00  // rname hostmaster.example.test.
  78c4052d                                   // serial 2026112301
  000004b0 00000078 00093a80 00000258        // refresh 1200, retry 120, expire 604800, minimum 600
  c01e 0002 0001 00000258 0012               // owner → +30, NS IN TTL 600 RDLENGTH 18
  03 6e7332 07 6578616d706c65 04 74657374 00 // ns2.example.test.
`);

/** `dig nothere.example.test A` (port 53534): NXDOMAIN (rcode 3), no records. */
export const NXDOMAIN_RESPONSE = wire(`
  e1bb 8083 0001 0000 0000 0000              // qr ra, NXDOMAIN
  07 6e6f7468657265 07 6578616d706c65 04 74657374 00 0001 0001
`);
