/**
 * The TCP receive path alone, in process: CPU time per GB for in-order
 * super-segments (64 KiB of payload, as a TAP with offload hands tapnet a
 * kernel's TSO frame) fed straight to an established connection, in batches
 * (one microtask turn each, where the ACKs go out), into a stream reader
 * ('data' events) or a consumer of views (Socket.consume, when the tree has
 * it). Nothing else runs, so this is far less sensitive to machine load than
 * an end-to-end upload; it leaves out the device, IP and the kernel sender.
 *
 *   npx tsx bench/tcp-rx-micro.ts [MEGABYTES] [SEGMENTS_PER_BATCH] [stream|consume|stream-nopool]
 *
 * stream-nopool: a stream reader with the receive pool replaced by one `Buffer.from` per segment (the old copy).
 */
import { TcpFlags } from '../src/l4/tcp/header.js';
import type { Socket } from '../src/l4/tcp/socket.js';
import * as pool from '../src/l4/tcp/receive-pool.js';
import { A_ADDR, B, B_ADDR, onlyConnection, rawSegment, tcpPair } from '../tests/unit/l4/tcp/harness.js';

const MB = Number(process.argv[2] ?? 2048);
const BATCH = Number(process.argv[3] ?? 4);
const MODE = process.argv[4] ?? 'stream';
const PAYLOAD = 45 * 1448;

async function main(): Promise<void> {
  const shared = (pool as { receivePool?: { copy(d: Uint8Array): Buffer } }).receivePool;
  if (MODE === 'stream-nopool' && shared) shared.copy = (d) => Buffer.from(d);
  const p = tcpPair({ mtu: 65520 });
  let server: Socket | undefined;
  let received = 0;
  p.b.tcp
    .createServer((s) => {
      server = s;
      const consume = (s as unknown as { consume?: (f: (d: Uint8Array) => void) => void }).consume;
      if (MODE === 'consume' && consume) consume.call(s, (d) => (received += d.length));
      else s.on('data', (d: Buffer) => (received += d.length));
    })
    .listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => server !== undefined && !client.connecting);
  await p.runFor(10);
  const a = onlyConnection(p.a);
  const b = onlyConnection(p.b);
  // From here on the client is a stand-in: its segments are built here, and B's ACKs are counted, not delivered.
  let acks = 0;
  p.linkB.send = () => {
    acks++;
  };
  const net = p.b.tcp.network('ipv4')!;
  const payload = new Uint8Array(PAYLOAD).map((_, i) => i % 251);
  let seq = a.sndNxt as number;
  let tsVal = 1000;
  // One frame buffer, rewritten for each segment as a device's receive buffer is (checksum: already verified, as
  // with a TAP's DATA_VALID / NEEDS_CSUM, so only the sequence number and timestamps change).
  const frame = rawSegment(A_ADDR, B_ADDR, {
    sourcePort: a.localPort,
    destinationPort: 80,
    seq,
    ack: b.sndNxt,
    flags: TcpFlags.ACK,
    window: 0xffff,
    options: b.tsOk ? { timestamps: { value: tsVal, echoReply: 0 } } : {},
    payload,
  });
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  let tsAt = -1;
  for (let i = 20; i + 10 <= (frame[12]! >> 4) * 4; i++) if (frame[i] === 8 && frame[i + 1] === 10) tsAt = i + 2;
  const segment = (): Uint8Array => {
    view.setUint32(4, seq);
    if (tsAt >= 0) {
      view.setUint32(tsAt, tsVal);
      view.setUint32(tsAt + 4, b.tsNow());
    }
    return frame;
  };
  const total = MB * 1024 * 1024;
  let sent = 0;
  let segments = 0;
  let stalls = 0;
  const feedBatch = (): void => {
    for (let i = 0; i < BATCH; i++) {
      const room = ((b.rcvAdvRight as number) - seq) | 0;
      if (room < PAYLOAD) {
        stalls++;
        return;
      }
      b.layer.receive(net, A_ADDR, B_ADDR, segment(), true);
      seq = (seq + PAYLOAD) >>> 0;
      tsVal++;
      sent += PAYLOAD;
      segments++;
    }
  };
  // Warm-up (JIT), then the measured run.
  for (let round = 0; round < 2; round++) {
    const goal = round === 0 ? Math.min(total / 4, 256 << 20) : total;
    sent = 0;
    segments = 0;
    acks = 0;
    stalls = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    while (sent < goal) {
      feedBatch();
      await null; // end of the batch: the ACK flush (a microtask) runs
      p.ctxA.timers.advanceTo(p.ctxA.clock, p.ctxA.clock.now() + 0.05); // 50 µs per batch (autotuning needs time to pass)
      if (stalls > 1000) throw new Error(`window closed: rcvAdvRight ${b.rcvAdvRight} seq ${seq}`);
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    if (round === 1) {
      const cpuS = (cpu.user + cpu.system) / 1e6;
      console.log(
        `${MODE} batch ${BATCH}: ${(sent / 1e9 / wall * 8).toFixed(2)} Gbit/s in process, ${(cpuS / (sent / 1e9)).toFixed(3)} cpu-s/GB ` +
          `(${(cpuS * 1e6 / segments).toFixed(2)} µs per 64 KiB segment), ${acks} ACKs for ${segments} segments, received ${received}`,
      );
    }
  }
  process.exit(0);
}

await main();
