/**
 * The iperf3 server over tapnet's TCP and UDP on the in-memory link, against
 * a small iperf3 client written here from the protocol (the real iperf3 is in
 * tests/integration/iperf3.test.ts): a whole test each way, then every kind
 * of bad client, each checked by its counter and by the next test still
 * working (no crash, no stuck "busy").
 */
import { describe, expect, it } from 'vitest';
import type { CounterName } from '../../../../src/core/stats.js';
import type { Socket } from '../../../../src/l4/tcp/socket.js';
import { IPERF3_HANDSHAKE_TIMEOUT_MS } from '../../../../src/services/iperf3/control.js';
import { IperfState, encodeJsonBlock } from '../../../../src/services/iperf3/protocol.js';
import { Iperf3Server } from '../../../../src/services/iperf3/server.js';
import { emitUdpTestHeader } from '../../../../src/services/iperf3/udp-stream.js';
import { B, tcpPair, type Pair } from '../../l4/tcp/harness.js';

const COOKIE = Buffer.from('abcdefghijklmnopqrstuvwxyz234567abcd\0', 'latin1');
const OTHER_COOKIE = Buffer.from('zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\0', 'latin1');
const CLIENT_RESULTS = { cpu_util_total: 1, cpu_util_user: 1, cpu_util_system: 0, sender_has_retransmits: 0, streams: [{ id: 1, bytes: 0, retransmits: 0, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: 1 }] };

/** A control or data connection with everything it received. */
function open(p: Pair, first?: Uint8Array): { socket: Socket; received: () => Buffer; closed: () => boolean } {
  const socket = p.a.tcp.connect({ host: B, port: 5201 });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  if (first) socket.write(first);
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed };
}

function setup() {
  const p = tcpPair();
  const server = new Iperf3Server(p.b);
  const stat = (name: Parameters<typeof p.ctxB.stats.get>[0]) => p.ctxB.stats.get(name);
  return { p, server, stat };
}

/** One whole TCP test: the client sends `bytes` on one stream (or the server does, reverse). */
async function tcpTest(p: Pair, server: Iperf3Server, options: { reverse?: boolean; bytes: number }) {
  const control = open(p, COOKIE);
  await p.runUntil(() => control.received().length >= 1);
  expect(control.received()[0]).toBe(IperfState.PARAM_EXCHANGE);
  control.socket.write(encodeJsonBlock({ tcp: true, time: 0, num: options.bytes, parallel: 1, len: 16384, ...(options.reverse ? { reverse: true } : {}), client_version: 'test' }));
  await p.runUntil(() => control.received().length >= 2);
  expect(control.received()[1]).toBe(IperfState.CREATE_STREAMS);
  const data = open(p, COOKIE);
  await p.runUntil(() => control.received().length >= 4);
  expect([...control.received().subarray(2, 4)]).toEqual([IperfState.TEST_START, IperfState.TEST_RUNNING]);
  if (!options.reverse) data.socket.write(Buffer.alloc(options.bytes, 7));
  await p.runUntil(() => (options.reverse ? data.received().length >= options.bytes : server.test!.streams[0]!.bytes >= options.bytes));
  control.socket.write(Uint8Array.of(IperfState.TEST_END));
  await p.runUntil(() => control.received().length >= 5);
  expect(control.received()[4]).toBe(IperfState.EXCHANGE_RESULTS);
  control.socket.write(encodeJsonBlock(CLIENT_RESULTS));
  await p.runUntil(() => control.received().length > 9 && control.received().at(-1) === IperfState.DISPLAY_RESULTS);
  const block = control.received().subarray(5, -1);
  expect(block.readUInt32BE(0)).toBe(block.length - 4);
  const results = JSON.parse(block.subarray(4).toString()) as { streams: { id: number; bytes: number; retransmits: number; tcp_info?: { snd_cwnd: number } }[]; sender_has_retransmits: number };
  control.socket.end(Uint8Array.of(IperfState.IPERF_DONE));
  await p.runUntil(() => server.test === undefined);
  data.socket.destroy();
  return results;
}

describe('iperf3 server', () => {
  it('runs a TCP test the client sends, and reports the bytes it received', async () => {
    const { p, server, stat } = setup();
    const r = await tcpTest(p, server, { bytes: 200_000 });
    expect(r.sender_has_retransmits).toBe(-1);
    expect(r.streams).toMatchObject([{ id: 1, bytes: 200_000, retransmits: -1 }]);
    expect(r.streams[0]!.tcp_info!.snd_cwnd).toBeGreaterThan(0);
    expect([stat('iperf3Tests'), stat('iperf3TestsCompleted'), stat('iperf3BytesReceived')]).toEqual([1, 1, 200_000]);
    expect(server.last?.outcome).toBe('completed');
  });

  it('runs a reverse (-R) test and stops sending at -n bytes', async () => {
    const { p, server, stat } = setup();
    const r = await tcpTest(p, server, { reverse: true, bytes: 100_000 });
    expect(r.sender_has_retransmits).toBe(1);
    // -n 100000 with 16 KB blocks: iperf3 stops at the first block past the budget.
    expect(r.streams[0]!.bytes).toBe(Math.ceil(100_000 / 16384) * 16384);
    expect(stat('iperf3BytesSent')).toBe(r.streams[0]!.bytes);
  });

  it('-O: what arrives during the omitted first seconds does not count', async () => {
    const { p, server } = setup();
    const control = open(p, COOKIE);
    await p.runUntil(() => control.received().length >= 1);
    control.socket.write(encodeJsonBlock({ tcp: true, time: 3, omit: 1, parallel: 1, len: 16384 }));
    await p.runUntil(() => control.received().length >= 2);
    const data = open(p, COOKIE);
    await p.runUntil(() => control.received().length >= 4);
    data.socket.write(Buffer.alloc(50_000, 1));
    await p.runUntil(() => server.test!.streams[0]!.bytes === 50_000);
    await p.runFor(1_000); // the omit period ends: the count starts again
    expect(server.test!.streams[0]!.bytes).toBe(0);
    data.socket.write(Buffer.alloc(20_000, 2));
    await p.runUntil(() => server.test!.streams[0]!.bytes === 20_000);
    control.socket.write(Uint8Array.of(IperfState.TEST_END));
    await p.runUntil(() => control.received().length >= 5);
    control.socket.write(encodeJsonBlock(CLIENT_RESULTS));
    await p.runUntil(() => control.received().at(-1) === IperfState.DISPLAY_RESULTS);
    const results = JSON.parse(control.received().subarray(9, -1).toString()) as { streams: { bytes: number; end_time: number }[] };
    expect(results.streams[0]!.bytes).toBe(20_000);
    expect(results.streams[0]!.end_time).toBeLessThan(1); // seconds since the omit period ended
  });

  it('answers a second client with ACCESS_DENIED while a test runs, then serves it afterwards', async () => {
    const { p, server, stat } = setup();
    const first = open(p, COOKIE);
    await p.runUntil(() => first.received().length >= 1);
    const second = open(p, OTHER_COOKIE);
    await p.runUntil(() => second.received().length >= 1 && second.closed());
    expect(second.received()[0]).toBe(0xff); // ACCESS_DENIED (-1)
    expect(stat('iperf3AccessDenied')).toBe(1);
    first.socket.destroy();
    await p.runUntil(() => server.test === undefined);
    await tcpTest(p, server, { bytes: 10_000 });
    expect(stat('iperf3TestsCompleted')).toBe(1);
  });

  const badClients: [string, (p: Pair) => Uint8Array[], CounterName][] = [
    ['garbage instead of a cookie', () => [Buffer.from('GET / HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\nxxxxxxxxxxxx')], 'iperf3InBadCookie'],
    ['a JSON block claiming 64 KB + 1', () => [COOKIE, Buffer.from('00010001', 'hex')], 'iperf3InJsonTooLong'],
    ['malformed JSON parameters', () => [COOKIE, Buffer.from('00000008', 'hex'), Buffer.from('{"tcp:tr')], 'iperf3InBadJson'],
    ['parameters with an impossible stream count', () => [COOKIE, encodeJsonBlock({ tcp: true, parallel: 100000 })], 'iperf3InBadJson'],
    ['a state byte out of turn', () => [COOKIE, encodeJsonBlock({ tcp: true, time: 1 }), Uint8Array.of(IperfState.TEST_END)], 'iperf3InBadState'],
  ];
  for (const [name, bytes, counter] of badClients) {
    it(`closes a client that sends ${name} (${counter}) and keeps serving`, async () => {
      const { p, server, stat } = setup();
      const bad = open(p);
      for (const b of bytes(p)) bad.socket.write(b);
      await p.runUntil(() => bad.closed() || (bad.received().length > 0 && server.test === undefined && stat(counter) > 0), 30_000);
      await p.runUntil(() => server.test === undefined && stat(counter) === 1);
      bad.socket.destroy();
      await tcpTest(p, server, { bytes: 10_000 });
      expect(stat('iperf3TestsCompleted')).toBe(1);
    });
  }

  it('tells the client why with SERVER_ERROR and iperf3 error 114 (IERECVPARAMS)', async () => {
    const { p } = setup();
    const bad = open(p, COOKIE);
    bad.socket.write(encodeJsonBlock({ tcp: true, parallel: 0 }));
    await p.runUntil(() => bad.received().length >= 10);
    expect(bad.received().subarray(0, 10).toString('hex')).toBe('09' + 'fe' + '00000072' + '00000000');
  });

  it('gives up on a client that opens the control connection and never sends, or stops after the cookie', async () => {
    const { p, server, stat } = setup();
    const silent = open(p);
    await p.runUntil(() => silent.closed(), IPERF3_HANDSHAKE_TIMEOUT_MS + 5_000);
    expect(stat('iperf3Timeouts')).toBe(1);
    const half = open(p, COOKIE);
    await p.runUntil(() => half.received().length >= 1);
    expect(server.test?.phase).toBe('parameters');
    await p.runUntil(() => server.test === undefined, IPERF3_HANDSHAKE_TIMEOUT_MS + 5_000);
    expect([stat('iperf3Timeouts'), stat('iperf3TestsAborted')]).toEqual([2, 1]);
    await tcpTest(p, server, { bytes: 10_000 });
  });

  it('refuses a data connection (or UDP stream) without a control connection', async () => {
    const { p, server, stat } = setup();
    // A UDP hello and a test datagram with no test: dropped and counted.
    const udp = p.a.udp.createSocket('udp4');
    udp.bind(0);
    const got: Buffer[] = [];
    udp.on('message', (m) => got.push(m));
    udp.send(Buffer.from('9876'), 5201, B);
    const datagram = Buffer.alloc(100);
    emitUdpTestHeader({ sec: 1, usec: 2, count: 1 }, datagram, false);
    udp.send(datagram, 5201, B);
    await p.runFor(100);
    expect(got).toEqual([]);
    expect(stat('iperf3InStrayStreams')).toBe(2);
    // A TCP data connection while a test runs but with someone else's cookie: ACCESS_DENIED.
    const control = open(p, COOKIE);
    await p.runUntil(() => control.received().length >= 1);
    control.socket.write(encodeJsonBlock({ tcp: true, time: 1 }));
    await p.runUntil(() => control.received().length >= 2);
    const stray = open(p, OTHER_COOKIE);
    await p.runUntil(() => stray.closed());
    expect(stray.received()[0]).toBe(0xff);
    expect(server.test?.phase).toBe('createStreams');
    control.socket.destroy();
    await p.runUntil(() => server.test === undefined);
    await tcpTest(p, server, { bytes: 10_000 });
  });

  it('runs a UDP test: the hello is answered, loss and out-of-order counted as iperf3 does', async () => {
    const { p, server, stat } = setup();
    const control = open(p, COOKIE);
    await p.runUntil(() => control.received().length >= 1);
    control.socket.write(encodeJsonBlock({ udp: true, time: 1, len: 100, bandwidth: 1_000_000 }));
    await p.runUntil(() => control.received().length >= 2);
    const udp = p.a.udp.createSocket('udp4');
    udp.bind(0);
    const got: Buffer[] = [];
    udp.on('message', (m) => got.push(m));
    udp.send(Buffer.from('9876'), 5201, B);
    await p.runUntil(() => got.length >= 1 && control.received().length >= 4);
    expect(got[0]!.toString()).toBe('6789');
    for (const count of [1, 2, 4, 5, 3, 6]) {
      const d = Buffer.alloc(100);
      emitUdpTestHeader({ sec: 0, usec: count * 1000, count }, d, false);
      udp.send(d, 5201, B);
    }
    udp.send(Buffer.alloc(5), 5201, B); // too short for the header
    await p.runFor(50);
    const s = server.test!.udpStream(`10.0.0.1|${udp.address().port}`)!;
    expect([s.bytes, s.account.packetCount, s.account.errors, s.account.outOfOrder]).toEqual([600, 6, 0, 1]);
    expect(stat('iperf3UdpInShort')).toBe(1);
    control.socket.write(Uint8Array.of(IperfState.TEST_END));
    await p.runUntil(() => control.received().length >= 5);
    control.socket.write(encodeJsonBlock(CLIENT_RESULTS));
    await p.runUntil(() => control.received().at(-1) === IperfState.DISPLAY_RESULTS);
    const block = control.received().subarray(5, -1);
    const results = JSON.parse(block.subarray(4).toString()) as { streams: unknown[] };
    expect(results.streams).toMatchObject([{ id: 1, bytes: 600, retransmits: -1, errors: 0, packets: 6 }]);
  });
});
