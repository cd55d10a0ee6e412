/**
 * The RFC small services: their bytes (chargen's rotating lines, RFC 868's
 * 1900 epoch, ctime's form), and their behaviour over tapnet's TCP and UDP on
 * the in-memory link, including a chargen client that never reads.
 */
import { describe, expect, it } from 'vitest';
import { CHARGEN_LINE_CHARS, chargenLine } from '../../../../src/services/small/chargen.js';
import { daytimeText } from '../../../../src/services/small/daytime.js';
import { RFC868_EPOCH_OFFSET, timeBytes } from '../../../../src/services/small/time.js';
import { SMALL_IDLE_TIMEOUT_MS, parseSmallServices, startSmallServices } from '../../../../src/services/small/index.js';
import { B, tcpPair } from '../../l4/tcp/harness.js';

describe('small services: the bytes', () => {
  it('chargen: 72 printable characters a line, each line one further along, CR LF', () => {
    expect(chargenLine(0).toString('latin1')).toBe(' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n');
    expect(chargenLine(1).toString('latin1').slice(0, 3)).toBe('!"#');
    expect(chargenLine(94).toString('latin1').slice(0, 2)).toBe('~ '); // wraps after '~'
    expect(chargenLine(95).equals(chargenLine(0))).toBe(true);
    expect(chargenLine(5).length).toBe(CHARGEN_LINE_CHARS + 2);
  });

  it('time: seconds since 1900 as 32 bits big-endian (RFC 868: 2,208,988,800 is 1970)', () => {
    expect(Buffer.from(timeBytes(new Date(0))).toString('hex')).toBe('83aa7e80'); // 2208988800
    expect(RFC868_EPOCH_OFFSET).toBe(2_208_988_800);
    expect(Buffer.from(timeBytes(new Date('2026-12-03T08:00:00Z'))).readUInt32BE(0)).toBe(Date.UTC(2026, 11, 3, 8) / 1000 + 2_208_988_800);
    expect(Buffer.from(timeBytes(new Date('2036-02-07T06:28:16Z'))).toString('hex')).toBe('00000000'); // the 32-bit wrap
  });

  it('daytime: ctime(3) form in UTC with CR LF', () => {
    expect(daytimeText(new Date('2026-12-03T08:05:09Z'))).toBe('Thu Dec  3 08:05:09 2026\r\n');
    expect(daytimeText(new Date('2025-01-21T23:59:59Z'))).toBe('Tue Jan 21 23:59:59 2025\r\n');
  });

  it('parses --small-services, naming an unknown service', () => {
    expect(parseSmallServices('echo,time')).toEqual({ ok: true, value: ['echo', 'time'] });
    expect(parseSmallServices('all')).toEqual({ ok: true, value: ['echo', 'discard', 'chargen', 'daytime', 'time'] });
    expect(parseSmallServices('echo,qotd')).toEqual({ ok: false, error: "'qotd': expected all, or some of echo, discard, chargen, daytime, time" });
    expect(parseSmallServices('')).toMatchObject({ ok: false });
  });
});

describe('small services over TCP and UDP', () => {
  function setup() {
    const p = tcpPair();
    startSmallServices(p.b, ['echo', 'discard', 'chargen', 'daytime', 'time']);
    return p;
  }

  it('echo echoes over TCP until the client closes, and over UDP one datagram for one', async () => {
    const p = setup();
    const c = p.a.tcp.connect({ host: B, port: 7, allowHalfOpen: true });
    const got: Buffer[] = [];
    let ended = false;
    c.on('data', (d: Buffer) => got.push(d));
    c.on('end', () => (ended = true));
    c.end('hello, echo\n');
    await p.runUntil(() => ended);
    expect(Buffer.concat(got).toString()).toBe('hello, echo\n');
    const u = p.a.udp.createSocket('udp4');
    const replies: Buffer[] = [];
    u.on('message', (m) => replies.push(m));
    u.bind(40000);
    u.send(Buffer.from('ping'), 7, B);
    await p.runFor(50);
    expect(replies.map(String)).toEqual(['ping']);
    expect(p.ctxB.stats.get('smallEchoBytes')).toBe(12 + 4);
  });

  it('discard answers nothing; time and daytime answer and close; a datagram from a service port gets no answer', async () => {
    const p = setup();
    const u = p.a.udp.createSocket('udp4');
    const replies: Buffer[] = [];
    u.on('message', (m) => replies.push(m));
    u.bind(40001);
    u.send(Buffer.from('x'), 9, B);
    u.send(Buffer.alloc(0), 37, B);
    await p.runFor(50);
    expect(replies.map((r) => r.length)).toEqual([4]);
    const loop = p.a.udp.createSocket('udp4');
    loop.bind(19); // as if chargen on the other side were aiming at our echo
    loop.send(Buffer.from('x'), 7, B);
    await p.runFor(50);
    expect(p.ctxB.stats.get('smallUdpLoopDrops')).toBe(1);
    const t = p.a.tcp.connect({ host: B, port: 13 });
    let text = '';
    let closed = false;
    t.on('data', (d: Buffer) => (text += d.toString()));
    t.on('close', () => (closed = true));
    await p.runUntil(() => closed);
    expect(text).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \d{4}\r\n$/);
  });

  it('chargen to a client that never reads stops at the socket buffers, then the idle timeout closes it', async () => {
    const p = setup();
    const c = p.a.tcp.connect({ host: B, port: 19 });
    c.pause(); // never read: the window closes
    await p.runFor(2_000);
    const generated = p.ctxB.stats.get('smallChargenBytes');
    await p.runFor(5_000);
    expect(p.ctxB.stats.get('smallChargenBytes')).toBe(generated); // stalled, not queueing
    // What chargen made is at most what the peer's receive buffer took plus our send buffer and one stream buffer.
    const server = [...(p.b.tcp.layer as unknown as { connections: Map<string, { info(): { sendBuffer: number } }> }).connections.values()][0]!;
    const client = c.connection!.info();
    expect(generated).toBeLessThanOrEqual(client.receiveBuffer + server.info().sendBuffer + 64 * 1024 + 7030);
    await p.runFor(SMALL_IDLE_TIMEOUT_MS + 5_000);
    expect(p.ctxB.stats.get('smallIdleTimeouts')).toBe(1);
  });
});
