/**
 * TCP under 3% loss in memory, on the manual clock: a 64 MiB transfer from a
 * sender with TSO (a NIC stand-in that drops a super-frame whole, as nft drops
 * a GSO packet, then cuts it into segments) to tapnet's receiver, 3% of the
 * frames lost each way. Simulated time counts round trips and timeouts, not
 * CPU; the counters say how loss recovery went.
 *
 *   npx tsx bench/tcp-loss-sim.ts [SEED] [MEGABYTES] [cubic|newreno|bbr]
 */
import type { CounterName } from '../src/core/stats.js';
import { finishChecksum, sumWords } from '../src/core/checksum.js';
import type { CongestionControlName } from '../src/l4/tcp/config.js';
import type { TcpConnection } from '../src/l4/tcp/connection.js';
import type { IpAddress } from '../src/l4/tcp/network.js';
import type { Socket } from '../src/l4/tcp/socket.js';
import { B, onlyConnection, pattern, tcpPair } from '../tests/unit/l4/tcp/harness.js';

/** A small LCG: the same seed loses the same frames. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Wraps a connection's network: drops a whole transmission when `drop()` says so, else sends it cut into segments. */
function nic(c: TcpConnection, drop: () => boolean): void {
  const net = c.net;
  const send = net.send.bind(net);
  net.send = (source: IpAddress, destination: IpAddress, segment: Uint8Array, gsoSize: number, _p: boolean, ecn?: number): boolean => {
    const hl = (segment[12]! >> 4) * 4;
    const dataLen = segment.length - hl;
    const seqNum = new DataView(segment.buffer, segment.byteOffset).getUint32(4);
    if (drop()) return true;
    const piece = gsoSize > 0 ? gsoSize : Math.max(dataLen, 1);
    for (let off = 0; off < Math.max(dataLen, 1); off += piece) {
      const n = Math.min(piece, Math.max(dataLen - off, 0));
      const out = new Uint8Array(hl + n);
      out.set(segment.subarray(0, hl));
      out.set(segment.subarray(hl + off, hl + off + n), hl);
      const view = new DataView(out.buffer);
      view.setUint32(4, (seqNum + off) >>> 0);
      if (off + n < dataLen) out[13] = out[13]! & ~0x09;
      view.setUint16(16, 0);
      view.setUint16(16, finishChecksum(sumWords(out, 0, out.length, net.pseudoHeaderSum(source, destination, out.length))));
      send(source, destination, out, 0, false, ecn);
    }
    return true;
  };
}

async function main(): Promise<void> {
  const cc = (process.argv[4] ?? 'cubic') as CongestionControlName;
  const p = tcpPair({ impairment: { delayMs: 0.05 }, configB: { congestionControl: cc } });
  let server: Socket | undefined;
  p.b.tcp.createServer((s) => (server = s)).listen(80);
  const client = p.a.tcp.connect({ host: B, port: 80 });
  await p.runUntil(() => server !== undefined && !client.connecting);
  let got = 0;
  client.on('data', (d: Buffer) => (got += d.length));
  const c = onlyConnection(p.b);
  c.tsoMax = 65000;
  const r = rng(Number(process.argv[2] ?? 11));
  nic(c, () => r() < 0.03);
  nic(onlyConnection(p.a), () => r() < 0.03);
  const N = Number(process.argv[3] ?? 64) * 1024 * 1024;
  const chunk = pattern(1 << 20);
  let written = 0;
  const pump = (): void => {
    while (written < N && server!.write(chunk)) written += chunk.length;
  };
  server!.on('drain', pump);
  pump();
  const start = p.now();
  await p.runUntil(() => got >= N, 600_000);
  const st = (n: CounterName): number => p.b.ctx.stats.get(n);
  console.log(
    `${c.cc.name}: simulated ${(p.now() - start).toFixed(0)} ms; RTOs ${st('TcpExtTCPTimeouts')}, loss probes ${st('TcpExtTCPLossProbes')}, ` +
      `SACK recoveries ${st('TcpExtTCPSackRecovery')}, retransmissions ${st('TcpRetransSegs')} (${(c.bytesRetransmitted / 2 ** 20).toFixed(1)} MiB) ` +
      `of ${st('TcpOutSegs')} transmissions, lost retransmissions ${st('TcpExtTCPLostRetransmit')}`,
  );
}

await main();
