/**
 * The host's UDP sockets under a VXLAN tunnel (device/vxlan/tunnel.ts): one
 * listening on the VXLAN port (4789), a few more that send, each from its own
 * ephemeral source port. The underlay is the host's network, or a network
 * namespace's when the lab says so.
 *
 * A socket inside another namespace: a Node process cannot setns(2) its own
 * thread, but a socket belongs to the namespace it was created in, wherever
 * its descriptor goes afterwards. So a short-lived child is started with
 * `ip netns exec NS node -e ...`; it creates and binds the sockets there and
 * passes them back over its IPC channel (child_process `send(message,
 * socket)`: SCM_RIGHTS), then exits. This process then owns ordinary
 * dgram sockets whose traffic is the namespace's; nothing is relayed.
 *
 * Source ports (RFC 7348 §5): "It is recommended that the UDP source port
 * number be calculated using a hash of fields from the inner packet". The
 * kernel picks a socket's port at bind time, not per packet, so the flow hash
 * picks one of `VXLAN_SENDERS` sockets bound to ephemeral ports, which come
 * from net.ipv4.ip_local_port_range (32768-60999) — the range Linux's vxlan
 * uses for its hashed source ports by default (`srcport 0 0`). A flow always
 * leaves from one port; different flows spread over the senders.
 *
 * Sending without per-packet allocation of our own: each sender has a ring of
 * preallocated slots; the header and frame are copied into the next slot
 * (the caller's frame is only valid during the call, device/device.ts) and the
 * slot goes to the kernel. A slot is reused only once its datagram has left:
 * at most `VXLAN_SEND_RING` datagrams per sender are in flight, beyond that
 * `send` answers 'full' and the tunnel counts a drop (vxlanOutQueueFull).
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import type { StackContext } from '../core/context.js';
import type { VxlanUnderlay } from '../device/vxlan/tunnel.js';
import type {} from '../device/vxlan/counters.js';
import { HostCommandError, run } from './run.js';

/** Sender sockets per underlay: distinct source ports the flow hash spreads over. */
export const VXLAN_SENDERS = 4;
/**
 * Datagrams in flight per sender socket (its ring of slots, allocated as first used). One TAP batch of TSO
 * super-frames becomes thousands of datagrams in one turn, before the first send completes.
 */
export const VXLAN_SEND_RING = 4096;
/**
 * Socket buffers asked for (SO_RCVBUF/SO_SNDBUF; the kernel caps them at net.core.rmem_max/wmem_max). A TCP
 * burst arrives as a train of datagrams while this process is busy: with the 208 KB default, bench/vxlan.sh lost
 * ~19 000 datagrams in 5 s to UdpRcvbufErrors. (Linux's own vxlan has no socket queue: it runs in softirq.)
 */
export const VXLAN_SOCKET_BUFFER = 4 * 1024 * 1024;
/** How long the helper child may take to hand over the sockets. */
const OPEN_TIMEOUT_MS = 10_000;

export interface VxlanUnderlayOptions {
  /** The namespace whose network carries the tunnel; undefined: this process's own (the host's). */
  readonly netns?: string;
  readonly family: 4 | 6;
  /** Local address to bind to; undefined: every address (0.0.0.0 / ::). */
  readonly local?: string;
  /** The VXLAN port: listened on, and sent to (RFC 7348 §5: 4789). */
  readonly port: number;
  /** Largest datagram: the tunnel's frame plus the VXLAN header. */
  readonly maxDatagram: number;
}

/** The code the helper child runs inside the namespace: bind, hand over, exit. Plain JS for `node -e`. */
const CHILD = `
const dgram = require('node:dgram');
const [family, local, port, senders, buffer] = JSON.parse(process.argv[1]);
const type = family === 6 ? 'udp6' : 'udp4';
const any = family === 6 ? '::' : '0.0.0.0';
const open = (p) => new Promise((resolve, reject) => {
  const s = dgram.createSocket({ type, ipv6Only: family === 6, recvBufferSize: buffer, sendBufferSize: buffer });
  s.once('error', reject);
  s.bind(p, local || any, () => resolve(s));
});
(async () => {
  const sockets = [await open(port)];
  for (let i = 0; i < senders; i++) sockets.push(await open(0));
  for (const [i, s] of sockets.entries()) await new Promise((r) => process.send({ index: i }, s, r));
  process.send({ done: true }, () => process.exit(0));
})().catch((e) => process.send({ error: e.message }, () => process.exit(1)));
`;

/** Opens the sockets: in-process for the host's network, through a child inside `netns` otherwise. */
async function openSockets(o: VxlanUnderlayOptions): Promise<Socket[]> {
  const type = o.family === 6 ? 'udp6' : 'udp4';
  if (o.netns === undefined) {
    const open = (port: number): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = createSocket({ type, ipv6Only: o.family === 6, recvBufferSize: VXLAN_SOCKET_BUFFER, sendBufferSize: VXLAN_SOCKET_BUFFER });
        s.once('error', reject);
        s.bind(port, o.local ?? (o.family === 6 ? '::' : '0.0.0.0'), () => {
          s.removeListener('error', reject);
          resolve(s);
        });
      });
    const sockets = [await open(o.port)];
    try {
      for (let i = 0; i < VXLAN_SENDERS; i++) sockets.push(await open(0));
    } catch (e) {
      for (const s of sockets) s.close();
      throw e;
    }
    return sockets;
  }
  return new Promise((resolve, reject) => {
    const sockets: Socket[] = [];
    const args = ['netns', 'exec', o.netns!, process.execPath, '-e', CHILD, JSON.stringify([o.family, o.local ?? '', o.port, VXLAN_SENDERS, VXLAN_SOCKET_BUFFER])];
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const fail = (why: string): void => {
      clearTimeout(timer);
      for (const s of sockets) s.close();
      child.kill('SIGKILL');
      reject(new HostCommandError(`VXLAN underlay in namespace ${o.netns}: ${why}`));
    };
    const timer = setTimeout(() => fail('the socket helper did not answer'), OPEN_TIMEOUT_MS);
    child.on('message', (m: { index?: number; done?: boolean; error?: string }, handle: unknown) => {
      if (m.error !== undefined) return fail(`cannot bind ${o.local ?? 'any address'} port ${o.port}: ${m.error}`);
      if (m.index !== undefined) sockets[m.index] = handle as Socket;
      if (m.done) {
        clearTimeout(timer);
        resolve(sockets);
      }
    });
    child.on('exit', (code) => {
      if (sockets.length < VXLAN_SENDERS + 1) fail(`the socket helper exited ${code}: ${stderr.trim()}`);
    });
  });
}

/** One sender socket with its ring of slots. */
class Sender {
  private readonly slots: Buffer[];
  private readonly slotSize: number;
  private next = 0;
  private inFlight = 0;
  /** Bound once: the send callback allocates no closure per datagram. */
  private readonly sent: (error: Error | null) => void;

  constructor(
    readonly socket: Socket,
    slotSize: number,
    onError: (error: Error) => void,
  ) {
    this.slots = [];
    this.slotSize = slotSize;
    this.sent = (error) => {
      this.inFlight--;
      if (error) onError(error);
    };
  }

  send(header: Uint8Array, frame: Uint8Array, remote: string, port: number): 'sent' | 'full' {
    if (this.inFlight >= VXLAN_SEND_RING) return 'full';
    const slot = this.slots[this.next] ?? (this.slots[this.next] = Buffer.allocUnsafe(this.slotSize));
    this.next = (this.next + 1) % VXLAN_SEND_RING;
    slot.set(header, 0);
    slot.set(frame, header.length);
    this.inFlight++;
    this.socket.send(slot, 0, header.length + frame.length, port, remote, this.sent);
    return 'sent';
  }
}

/** The host sockets of one underlay (netns, local address, port), shared by every VNI on it. */
export class HostVxlanUnderlay implements VxlanUnderlay {
  private readonly senders: Sender[];
  private receiver: (datagram: Uint8Array, remote: string) => void = () => {};

  private constructor(
    ctx: StackContext,
    private readonly options: VxlanUnderlayOptions,
    private readonly sockets: Socket[],
  ) {
    const onError = (e: Error): void => ctx.trace.dropped('vxlanOutErrors', `vxlan underlay: ${e.message}`);
    this.senders = sockets.slice(1).map((s) => new Sender(s, options.maxDatagram, onError));
    // Every socket listens: a peer may answer to a source port (RFC 7348 only fixes the destination port).
    for (const s of sockets) {
      s.on('message', (msg, rinfo) => this.receiver(msg, rinfo.address));
      s.on('error', onError);
    }
  }

  static async open(ctx: StackContext, options: VxlanUnderlayOptions): Promise<HostVxlanUnderlay> {
    return new HostVxlanUnderlay(ctx, options, await openSockets(options));
  }

  /** The source ports the flow hash spreads over (for `lab status`). */
  get sourcePorts(): number[] {
    return this.senders.map((s) => s.socket.address().port);
  }

  send(header: Uint8Array, frame: Uint8Array, remote: string, flowHash: number): 'sent' | 'full' {
    return this.senders[flowHash % this.senders.length]!.send(header, frame, remote, this.options.port);
  }

  setReceiver(receive: (datagram: Uint8Array, remote: string) => void): void {
    this.receiver = receive;
  }

  close(): void {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}

/**
 * The MTU of the interface the underlay reaches `remote` through (`ip route
 * get`, then that device's MTU), in `netns` when given: the inner MTU is this
 * minus VXLAN's overhead.
 */
export function underlayMtu(remote: string, netns?: string): number {
  const ns = netns ? ['-n', netns] : [];
  let route: { dev?: string }[];
  try {
    route = JSON.parse(run('ip', [...ns, '-j', 'route', 'get', remote])) as { dev?: string }[];
  } catch (e) {
    throw new HostCommandError(`no route to VXLAN remote ${remote}${netns ? ` in namespace ${netns}` : ''}: ${(e as Error).message}`);
  }
  const dev = route[0]?.dev;
  if (!dev) throw new HostCommandError(`no route to VXLAN remote ${remote}${netns ? ` in namespace ${netns}` : ''}`);
  const link = JSON.parse(run('ip', [...ns, '-j', 'link', 'show', 'dev', dev])) as { mtu?: number }[];
  const mtu = link[0]?.mtu;
  if (!mtu) throw new HostCommandError(`cannot read the MTU of ${dev}`);
  return mtu;
}
