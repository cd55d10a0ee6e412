/**
 * The results exchange: after TEST_END the client sends its figures and the
 * server answers with its own (iperf_api.c send_results / get_results), one
 * JSON block each way.
 *
 * The server's block, as the client reads it:
 *
 *   {"cpu_util_total":1.2,"cpu_util_user":0.8,"cpu_util_system":0.4,
 *    "sender_has_retransmits":1,            // -1 when the server only received
 *    "congestion_used":"cubic",
 *    "streams":[{"id":1,"bytes":1234567,"retransmits":3,"jitter":0.00012,
 *                "errors":0,"packets":845,"start_time":0,"end_time":2.0004}],
 *    "server_output_json":{...}}            // only when the client asked (--get-server-output)
 *
 * Stream ids are 1, 3, 4, 5, ... in the order the streams were made
 * (iperf_add_stream: the second one gets 3, "changing it would break
 * multi-stream tests between old and new iperf3 versions"). "bytes" is
 * what the server sent or received; "jitter" is in seconds; "errors" are the
 * datagrams lost, "packets" the highest count seen (receiver) or sent.
 * tapnet adds "tcp_info" to each TCP stream (cwnd, srtt, rto, retransmits,
 * SACK blocks: what `ss -ti` shows); iperf3 ignores keys it does not know.
 */
import type { TestParameters } from './params.js';
import type { TcpStreamInfo } from './tcp-stream.js';

/** What results.ts needs of a stream, TCP or UDP. */
export interface StreamSummary {
  readonly id: number;
  readonly protocol: 'tcp' | 'udp';
  readonly sender: boolean;
  readonly bytes: number;
  /** Seconds from the stream's start to its end. */
  readonly seconds: number;
  readonly retransmits: number;
  readonly jitter: number;
  readonly errors: number;
  readonly packets: number;
  readonly outOfOrder: number;
  readonly tcpInfo?: TcpStreamInfo;
}

export interface CpuUtilization {
  readonly total: number;
  readonly user: number;
  readonly system: number;
}

/** The ids iperf3 gives its streams, in the order they were made: 1, 3, 4, 5, ... */
export function streamId(index: number): number {
  return index === 0 ? 1 : index + 2;
}

/** CPU use between two process.cpuUsage() readings over `wallMs`, in percent as iperf3 reports it. */
export function cpuUtilization(start: NodeJS.CpuUsage, end: NodeJS.CpuUsage, wallMs: number): CpuUtilization {
  if (wallMs <= 0) return { total: 0, user: 0, system: 0 };
  const user = ((end.user - start.user) / 1000 / wallMs) * 100;
  const system = ((end.system - start.system) / 1000 / wallMs) * 100;
  return { total: user + system, user, system };
}

/** The server's results block (send_results). */
export function serverResults(params: TestParameters, streams: readonly StreamSummary[], cpu: CpuUtilization, congestion: string | undefined, serverOutput?: unknown): Record<string, unknown> {
  const serverSends = params.direction !== 'clientSends';
  return {
    cpu_util_total: cpu.total,
    cpu_util_user: cpu.user,
    cpu_util_system: cpu.system,
    // iperf3 sends -1 when the server only received; 1 when its sending streams report TCP retransmits.
    sender_has_retransmits: !serverSends ? -1 : params.protocol === 'tcp' ? 1 : 0,
    ...(congestion ? { congestion_used: congestion } : {}),
    streams: streams.map((s) => ({
      id: s.id,
      bytes: s.bytes,
      retransmits: s.sender && s.protocol === 'tcp' ? s.retransmits : -1,
      jitter: s.jitter,
      errors: s.errors,
      packets: s.packets,
      start_time: 0,
      end_time: s.seconds,
      ...(s.tcpInfo ? { tcp_info: s.tcpInfo } : {}),
    })),
    ...(serverOutput !== undefined ? { server_output_json: serverOutput } : {}),
  };
}

/**
 * The server's own report in iperf3's `-J` layout (start / intervals / end),
 * for --get-server-output: the client prints it under "server_output_json".
 */
export function serverOutputJson(params: TestParameters, streams: readonly StreamSummary[], cpu: CpuUtilization, info: { version: string; cookie: string; remote: string }): Record<string, unknown> {
  const side = (s: StreamSummary): Record<string, unknown> => ({
    socket: s.id,
    start: 0,
    end: s.seconds,
    seconds: s.seconds,
    bytes: s.bytes,
    bits_per_second: s.seconds > 0 ? (s.bytes * 8) / s.seconds : 0,
    ...(s.protocol === 'tcp' && s.sender ? { retransmits: s.retransmits } : {}),
    ...(s.protocol === 'udp' ? { jitter_ms: s.jitter * 1000, lost_packets: s.errors, packets: s.packets, lost_percent: s.packets > 0 ? (s.errors / s.packets) * 100 : 0, out_of_order: s.outOfOrder } : {}),
    ...(s.tcpInfo ? { max_snd_cwnd: s.tcpInfo.max_snd_cwnd, max_rtt: s.tcpInfo.max_rtt_us, min_rtt: s.tcpInfo.min_rtt_us, mean_rtt: s.tcpInfo.mean_rtt_us, tcp_info: s.tcpInfo } : {}),
    sender: s.sender,
  });
  const sum = (sender: boolean): Record<string, unknown> => {
    const list = streams.filter((s) => s.sender === sender);
    const bytes = list.reduce((a, s) => a + s.bytes, 0);
    const seconds = Math.max(0, ...list.map((s) => s.seconds));
    return { start: 0, end: seconds, seconds, bytes, bits_per_second: seconds > 0 ? (bytes * 8) / seconds : 0, sender };
  };
  return {
    start: {
      version: info.version,
      cookie: info.cookie,
      connected: [{ remote: info.remote }],
      test_start: { protocol: params.protocol.toUpperCase(), num_streams: params.streams, blksize: params.blockSize, duration: params.durationSeconds, bytes: params.bytes, reverse: params.direction === 'serverSends' ? 1 : 0, bidir: params.direction === 'bidirectional' ? 1 : 0 },
    },
    intervals: [],
    end: {
      streams: streams.map((s) => ({ [params.protocol]: side(s), ...(s.sender ? { sender: side(s) } : { receiver: side(s) }) })),
      sum_sent: sum(true),
      sum_received: sum(false),
      cpu_utilization_percent: { host_total: cpu.total, host_user: cpu.user, host_system: cpu.system },
    },
  };
}

/** The client's block, checked enough to keep for `tapnet show iperf3` (get_results requires these keys). */
export function checkClientResults(json: Record<string, unknown>): string | undefined {
  for (const key of ['cpu_util_total', 'cpu_util_user', 'cpu_util_system', 'sender_has_retransmits']) {
    if (typeof json[key] !== 'number') return `"${key}": missing or not a number`;
  }
  if (!Array.isArray(json.streams)) return '"streams": missing or not a list';
  for (const [i, s] of json.streams.entries()) {
    if (typeof s !== 'object' || s === null || typeof (s as Record<string, unknown>).id !== 'number' || typeof (s as Record<string, unknown>).bytes !== 'number') {
      return `"streams"[${i}]: expected {"id": N, "bytes": N, ...}`;
    }
  }
  return undefined;
}
