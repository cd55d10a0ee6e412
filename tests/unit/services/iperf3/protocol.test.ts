/**
 * iperf3's control framing with byte vectors: the cookie, state bytes, the
 * length-prefixed JSON blocks, SERVER_ERROR, and the UDP hello, as captured
 * from iperf3 3.12 (Debian's client) talking to `iperf3 -s`.
 */
import { describe, expect, it } from 'vitest';
import {
  ControlReader,
  IPERF3_COOKIE_SIZE,
  IPERF3_JSON_MAX,
  IperfState,
  UDP_CONNECT_REPLY,
  encodeJsonBlock,
  encodeServerError,
  encodeState,
  parseCookie,
  stateName,
  udpConnectReply,
} from '../../../../src/services/iperf3/protocol.js';
import { parseParameters } from '../../../../src/services/iperf3/params.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A cookie as make_cookie() writes it: 36 characters of [a-z2-7], then a NUL. */
const COOKIE = 'qeyqdrtbnwxzkmrnx4e2ppuhz7vabqfhgswa';
const cookieBytes = (text = COOKIE): Buffer => Buffer.concat([Buffer.from(text, 'latin1'), Buffer.of(0)]);

describe('iperf3 protocol constants', () => {
  it('has the state numbers of iperf_api.h', () => {
    expect(IperfState).toMatchObject({ TEST_START: 1, TEST_RUNNING: 2, TEST_END: 4, PARAM_EXCHANGE: 9, CREATE_STREAMS: 10, SERVER_TERMINATE: 11, CLIENT_TERMINATE: 12, EXCHANGE_RESULTS: 13, DISPLAY_RESULTS: 14, IPERF_START: 15, IPERF_DONE: 16, ACCESS_DENIED: -1, SERVER_ERROR: -2 });
    expect(stateName(13)).toBe('EXCHANGE_RESULTS');
    expect(stateName(99)).toBe('unknown(99)');
  });

  it('writes state bytes as signed chars: ACCESS_DENIED is 0xff', () => {
    expect(hex(encodeState(IperfState.PARAM_EXCHANGE))).toBe('09');
    expect(hex(encodeState(IperfState.ACCESS_DENIED))).toBe('ff');
    expect(hex(encodeState(IperfState.SERVER_ERROR))).toBe('fe');
  });

  it('SERVER_ERROR carries i_errno and errno, 4 bytes each, big-endian', () => {
    // -2, IERECVPARAMS (114 = 0x72), errno 0
    expect(hex(encodeServerError(114))).toBe('fe' + '00000072' + '00000000');
  });

  it('frames JSON with a 4-byte big-endian length and no NUL (JSON_write)', () => {
    const block = encodeJsonBlock({ tcp: true, time: 2 });
    // {"tcp":true,"time":2} is 21 bytes = 0x15
    expect(hex(block.subarray(0, 4))).toBe('00000015');
    expect(Buffer.from(block.subarray(4)).toString()).toBe('{"tcp":true,"time":2}');
  });
});

describe('cookies', () => {
  it('accepts make_cookie output and rejects anything else', () => {
    expect(IPERF3_COOKIE_SIZE).toBe(37);
    expect(parseCookie(cookieBytes())).toBe(COOKIE);
    expect(parseCookie(cookieBytes().subarray(0, 36))).toBeUndefined(); // short
    expect(parseCookie(Buffer.concat([Buffer.from(COOKIE), Buffer.from('x')]))).toBeUndefined(); // no NUL
    expect(parseCookie(cookieBytes('GET / HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\n\r\n'))).toBeUndefined(); // 36 bytes of HTTP
    expect(parseCookie(cookieBytes('qeyqdrtbnwxzkmrnx4e2ppuhz7vabqfhgsw1'))).toBeUndefined(); // '1' is not in base32
  });
});

describe('ControlReader', () => {
  it('takes a cookie, then a JSON block split across chunks, then state bytes', () => {
    const r = new ControlReader();
    const params = encodeJsonBlock({ tcp: true, omit: 0, time: 2, num: 0, blockcount: 0, parallel: 1, len: 131072, pacing_timer: 1000, client_version: '3.12' });
    const all = Buffer.concat([cookieBytes(), params, Buffer.of(4, 16)]);
    r.push(all.subarray(0, 20));
    expect(r.cookie()).toBeUndefined(); // need 37
    r.push(all.subarray(20, 45));
    expect(r.cookie()).toEqual({ ok: true, value: COOKIE });
    expect(r.json()).toBeUndefined(); // only 8 of the block's bytes so far
    r.push(all.subarray(45));
    const json = r.json();
    expect(json?.ok && json.value.len).toBe(131072);
    expect(r.state()).toEqual({ ok: true, value: IperfState.TEST_END });
    expect(r.state()).toEqual({ ok: true, value: IperfState.IPERF_DONE });
    expect(r.state()).toBeUndefined();
  });

  it('refuses a length over 64 KB before any of the text arrives', () => {
    const r = new ControlReader();
    r.push(Buffer.from('00010001', 'hex')); // 65537
    expect(r.json()).toMatchObject({ ok: false, error: 'jsonTooLong' });
    const at = new ControlReader();
    at.push(Buffer.concat([Buffer.from('00010000', 'hex'), Buffer.alloc(IPERF3_JSON_MAX, 0x20)])); // exactly 64 KB of spaces: allowed, then not JSON
    expect(at.json()).toMatchObject({ ok: false, error: 'badJson' });
  });

  it('refuses text that is not a JSON object', () => {
    for (const text of ['{"tcp":tru', '[1,2]', '42', 'null']) {
      const r = new ControlReader();
      const body = Buffer.from(text);
      r.push(Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]));
      expect(r.json()).toMatchObject({ ok: false, error: 'badJson' });
    }
  });

  it('reports a bad cookie with the bytes it saw', () => {
    const r = new ControlReader();
    r.push(Buffer.alloc(37, 0x41));
    expect(r.cookie()).toMatchObject({ ok: false, error: 'badCookie', detail: expect.stringContaining('AAAA') });
  });
});

describe('the UDP hello', () => {
  it('answers "9876" with "6789" (iperf 3.11+ on a little-endian client) and the legacy numbers in kind', () => {
    expect(hex(udpConnectReply(Buffer.from('9876'))!)).toBe(hex(Buffer.from('6789')));
    expect(UDP_CONNECT_REPLY).toEqual(Uint8Array.from(Buffer.from('6789')));
    expect(hex(udpConnectReply(Buffer.from('6789'))!)).toBe(hex(Buffer.from('9876'))); // a big-endian client
    expect(hex(udpConnectReply(Buffer.from('15cd5b07', 'hex'))!)).toBe('b168de3a'); // 123456789 → 987654321, little-endian
    expect(hex(udpConnectReply(Buffer.from('075bcd15', 'hex'))!)).toBe('3ade68b1');
    expect(udpConnectReply(Buffer.from('98765'))).toBeUndefined();
    expect(udpConnectReply(Buffer.from('abcd'))).toBeUndefined();
  });
});

describe('parameters', () => {
  it('reads what iperf3 3.12 sends for -u -b 10M -R -P 2 -l 1400', () => {
    const r = parseParameters(JSON.parse('{"udp":true,"omit":0,"time":2,"num":0,"blockcount":0,"parallel":2,"reverse":true,"len":1400,"bandwidth":10000000,"pacing_timer":1000,"client_version":"3.12"}'));
    expect(r).toEqual({
      ok: true,
      value: { protocol: 'udp', direction: 'serverSends', durationSeconds: 2, omitSeconds: 0, bytes: 0, blocks: 0, streams: 2, blockSize: 1400, bitsPerSecond: 10_000_000, pacingTimerUs: 1000, window: 0, udpCounters64bit: false, getServerOutput: false, noDelay: false, clientVersion: '3.12' },
    });
  });

  it('defaults like iperf3: 128 KB TCP blocks, 1 Mbit/s UDP', () => {
    const tcp = parseParameters({ tcp: true });
    expect(tcp.ok && [tcp.value.blockSize, tcp.value.bitsPerSecond, tcp.value.direction]).toEqual([131072, 0, 'clientSends']);
    const udp = parseParameters({ udp: true, bidirectional: true });
    expect(udp.ok && [udp.value.blockSize, udp.value.bitsPerSecond, udp.value.direction]).toEqual([1460, 1048576, 'bidirectional']);
  });

  it('names the key that is wrong', () => {
    expect(parseParameters({ tcp: true, parallel: 500 })).toEqual({ ok: false, error: '"parallel": expected an integer from 1 to 128, got 500' });
    expect(parseParameters({ tcp: true, len: 'big' })).toMatchObject({ ok: false, error: expect.stringContaining('"len"') });
    expect(parseParameters({ udp: true, len: 8 })).toMatchObject({ ok: false, error: expect.stringContaining('"len": expected an integer from 16') });
    expect(parseParameters({ time: 2 })).toMatchObject({ ok: false, error: expect.stringContaining('which protocol') });
    expect(parseParameters({ sctp: true })).toMatchObject({ ok: false, error: expect.stringContaining('SCTP') });
    expect(parseParameters({ tcp: true, reverse: true, bidirectional: true })).toMatchObject({ ok: false, error: expect.stringContaining('"reverse" and "bidirectional"') });
  });
});
