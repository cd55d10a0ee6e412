/**
 * The results block the server sends (send_results): the keys get_results in
 * iperf3 3.12 requires, stream ids 1, 3, 4, ..., retransmits -1 on streams
 * the server received on, and tapnet's tcp_info beside them.
 */
import { describe, expect, it } from 'vitest';
import { checkClientResults, cpuUtilization, serverOutputJson, serverResults, streamId, type StreamSummary } from '../../../../src/services/iperf3/results.js';
import { parseParameters, type TestParameters } from '../../../../src/services/iperf3/params.js';
import { encodeJsonBlock } from '../../../../src/services/iperf3/protocol.js';

const params = (json: Record<string, unknown>): TestParameters => {
  const r = parseParameters(json);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const cpu = { total: 3, user: 2, system: 1 };
const tcpInfo = { snd_cwnd: 14480, max_snd_cwnd: 28960, rtt_us: 120, min_rtt_us: 80, max_rtt_us: 300, mean_rtt_us: 150, rttvar_us: 40, rto_ms: 201, retransmits: 2, sack_blocks_received: 5, mss: 1448, state: 'ESTABLISHED' };

describe('iperf3 results', () => {
  it('numbers streams as iperf_add_stream does: 1, 3, 4, 5', () => {
    expect([0, 1, 2, 3].map(streamId)).toEqual([1, 3, 4, 5]);
  });

  it('reports a reverse TCP test: sender_has_retransmits 1, per-stream retransmits and tcp_info', () => {
    const streams: StreamSummary[] = [{ id: 1, protocol: 'tcp', sender: true, bytes: 1000, seconds: 2, retransmits: 2, jitter: 0, errors: 0, packets: 0, outOfOrder: 0, tcpInfo }];
    const r = serverResults(params({ tcp: true, reverse: true }), streams, cpu, 'cubic');
    expect(r).toEqual({
      cpu_util_total: 3,
      cpu_util_user: 2,
      cpu_util_system: 1,
      sender_has_retransmits: 1,
      congestion_used: 'cubic',
      streams: [{ id: 1, bytes: 1000, retransmits: 2, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: 2, tcp_info: tcpInfo }],
    });
    // On the wire: a length prefix, then the text iperf3's cJSON parses.
    const block = encodeJsonBlock(r);
    expect(new DataView(block.buffer).getUint32(0)).toBe(block.length - 4);
  });

  it('reports a UDP receive test: sender_has_retransmits -1, jitter in seconds, loss and packets', () => {
    const streams: StreamSummary[] = [{ id: 1, protocol: 'udp', sender: false, bytes: 14600, seconds: 1, retransmits: 0, jitter: 0.00025, errors: 2, packets: 12, outOfOrder: 1 }];
    const r = serverResults(params({ udp: true }), streams, cpu, undefined);
    expect(r.sender_has_retransmits).toBe(-1);
    expect(r.streams).toEqual([{ id: 1, bytes: 14600, retransmits: -1, jitter: 0.00025, errors: 2, packets: 12, start_time: 0, end_time: 1 }]);
    expect(r).not.toHaveProperty('congestion_used');
    const out = serverOutputJson(params({ udp: true }), streams, cpu, { version: 'v', cookie: 'c', remote: 'r' }) as { end: { streams: { udp: Record<string, unknown> }[] } };
    expect(out.end.streams[0]!.udp).toMatchObject({ jitter_ms: 0.25, lost_packets: 2, packets: 12, out_of_order: 1, bits_per_second: 116800, sender: false });
  });

  it('adds server_output_json only when asked', () => {
    const p = params({ tcp: true, get_server_output: 1 });
    expect(serverResults(p, [], cpu, 'cubic', { start: {} })).toHaveProperty('server_output_json', { start: {} });
    expect(serverResults(p, [], cpu, 'cubic')).not.toHaveProperty('server_output_json');
  });

  it('checks the client block for the keys get_results needs', () => {
    const good = { cpu_util_total: 1, cpu_util_user: 1, cpu_util_system: 0, sender_has_retransmits: 0, streams: [{ id: 1, bytes: 5, retransmits: 0, jitter: 0, errors: 0, packets: 0 }] };
    expect(checkClientResults(good)).toBeUndefined();
    expect(checkClientResults({ ...good, cpu_util_total: 'x' })).toBe('"cpu_util_total": missing or not a number');
    expect(checkClientResults({ ...good, streams: {} })).toBe('"streams": missing or not a list');
    expect(checkClientResults({ ...good, streams: [{ id: 1 }] })).toMatch(/"streams"\[0\]/);
  });

  it('turns process.cpuUsage deltas (µs) into percent of the wall time', () => {
    expect(cpuUtilization({ user: 0, system: 0 }, { user: 500_000, system: 250_000 }, 1000)).toEqual({ total: 75, user: 50, system: 25 });
    expect(cpuUtilization({ user: 0, system: 0 }, { user: 1, system: 1 }, 0)).toEqual({ total: 0, user: 0, system: 0 });
  });
});
