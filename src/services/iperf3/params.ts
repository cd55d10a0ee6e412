/**
 * The test parameters: the JSON object the client sends after PARAM_EXCHANGE
 * (iperf_api.c send_parameters / get_parameters), checked into a record.
 *
 * The keys, as the client writes them:
 *
 *   {"tcp":true,"omit":0,"time":10,"num":0,"blockcount":0,"parallel":1,"reverse":true,
 *    "len":131072,"bandwidth":1048576,"pacing_timer":1000,"window":65536,
 *    "udp_counters_64bit":1,"get_server_output":1,"client_version":"3.12"}
 *
 * "tcp" or "udp" picks the protocol; "time" (-t, seconds) or "num" (-n, bytes)
 * or "blockcount" (-k) ends the test (the client decides when; the server only
 * stops sending at num/blockcount); "parallel" (-P) streams each way;
 * "reverse" (-R, the server sends) or "bidirectional" (--bidir, both);
 * "len" (-l) the block or datagram size; "bandwidth" (-b, bits/s per stream;
 * 0 unlimited, UDP's default 1 Mbit/s); "window" (-w) the socket buffer.
 * Unknown keys are ignored, as iperf3 does.
 */
import { IPERF3_DEFAULT_TCP_BLKSIZE, IPERF3_DEFAULT_UDP_BLKSIZE, IPERF3_MAX_BLOCKSIZE, IPERF3_MAX_STREAMS, IPERF3_MAX_TIME, IPERF3_MAX_UDP_BLOCKSIZE, IPERF3_MIN_UDP_BLOCKSIZE } from './protocol.js';

export type TestProtocol = 'tcp' | 'udp';
/** Who sends: the client (iperf3's RECEIVER mode on the server), the server (-R), or both (--bidir). */
export type TestDirection = 'clientSends' | 'serverSends' | 'bidirectional';

export interface TestParameters {
  readonly protocol: TestProtocol;
  readonly direction: TestDirection;
  readonly durationSeconds: number;
  readonly omitSeconds: number;
  readonly bytes: number;
  readonly blocks: number;
  readonly streams: number;
  readonly blockSize: number;
  readonly bitsPerSecond: number;
  readonly pacingTimerUs: number;
  readonly window: number;
  readonly udpCounters64bit: boolean;
  readonly getServerOutput: boolean;
  /** -N: TCP_NODELAY on the data streams. */
  readonly noDelay: boolean;
  readonly clientVersion: string;
}

export type ParametersResult = { ok: true; value: TestParameters } | { ok: false; error: string };

/** Checks the parameter object; an error names the offending key. */
export function parseParameters(json: Record<string, unknown>): ParametersResult {
  const problems: string[] = [];
  const int = (key: string, min: number, max: number, fallback: number): number => {
    const v = json[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`"${key}": expected an integer from ${min} to ${max}, got ${JSON.stringify(v)?.slice(0, 40)}`);
      return fallback;
    }
    return v;
  };
  const flag = (key: string): boolean => json[key] !== undefined && json[key] !== false && json[key] !== 0;

  let protocol: TestProtocol = 'tcp';
  if (json.udp !== undefined) protocol = 'udp';
  else if (json.sctp !== undefined) problems.push('"sctp": tapnet has no SCTP');
  else if (json.tcp === undefined) problems.push('"tcp"/"udp": missing (which protocol to test)');

  const reverse = flag('reverse');
  const bidirectional = flag('bidirectional');
  if (reverse && bidirectional) problems.push('"reverse" and "bidirectional" together');
  const defaultLen = protocol === 'udp' ? IPERF3_DEFAULT_UDP_BLKSIZE : IPERF3_DEFAULT_TCP_BLKSIZE;
  const blockSize =
    protocol === 'udp' ? int('len', IPERF3_MIN_UDP_BLOCKSIZE, IPERF3_MAX_UDP_BLOCKSIZE, defaultLen) : int('len', 1, IPERF3_MAX_BLOCKSIZE, defaultLen);
  const value: TestParameters = {
    protocol,
    direction: bidirectional ? 'bidirectional' : reverse ? 'serverSends' : 'clientSends',
    durationSeconds: int('time', 0, IPERF3_MAX_TIME, 10),
    omitSeconds: int('omit', 0, 600, 0),
    bytes: int('num', 0, Number.MAX_SAFE_INTEGER, 0),
    blocks: int('blockcount', 0, Number.MAX_SAFE_INTEGER, 0),
    streams: int('parallel', 1, IPERF3_MAX_STREAMS, 1),
    blockSize,
    bitsPerSecond: int('bandwidth', 0, Number.MAX_SAFE_INTEGER, protocol === 'udp' ? 1024 * 1024 : 0),
    pacingTimerUs: int('pacing_timer', 0, 1_000_000, 1000),
    window: int('window', 0, 512 * 1024 * 1024, 0),
    udpCounters64bit: flag('udp_counters_64bit'),
    getServerOutput: flag('get_server_output'),
    noDelay: flag('nodelay'),
    clientVersion: typeof json.client_version === 'string' ? json.client_version.slice(0, 32) : 'unknown',
  };
  return problems.length > 0 ? { ok: false, error: problems.join('; ') } : { ok: true, value };
}
