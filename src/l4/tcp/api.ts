/**
 * `host.tcp`: the TCP layer plus the Node-style entry points
 * (`createServer`, `connect`) and the address families it runs over.
 *
 *   const server = host.tcp.createServer((socket) => socket.end('hello\n'));
 *   server.listen(80);
 *   const socket = host.tcp.connect({ host: '10.77.0.2', port: 8080 });
 *
 * Read first: socket.ts (the Socket and Server), tcp.ts (the layer).
 */
import type { StackContext } from '../../core/context.js';
import { parseIpv4 } from '../../l3/ipv4/address.js';
import type { TcpConfig } from './config.js';
import type { IpAddress, TcpNetwork } from './network.js';
import { Server, Socket, type ServerOptions, type SocketHost, type TcpConnectOptions } from './socket.js';
import { TcpError } from './connection.js';
import { TcpLayer } from './tcp.js';

export class Tcp implements SocketHost {
  readonly layer: TcpLayer;
  private readonly networks: TcpNetwork[] = [];

  constructor(ctx: StackContext, config: Partial<TcpConfig> = {}) {
    this.layer = new TcpLayer(ctx, config);
  }

  /** Adds an address family (IPv4 from the host; IPv6 when its layer provides a TcpNetwork). */
  addNetwork(net: TcpNetwork): void {
    this.networks.push(net);
  }

  network(family: 'ipv4' | 'ipv6'): TcpNetwork | undefined {
    return this.networks.find((n) => n.family === family);
  }

  /** Parses a literal address and picks its family's network. */
  networkFor(address: string): { net: TcpNetwork; address: IpAddress } | undefined {
    const v4 = parseIpv4(address);
    if (v4 !== undefined) {
      const net = this.network('ipv4');
      return net ? { net, address: v4 } : undefined;
    }
    if (address.includes(':')) {
      const net = this.network('ipv6');
      const parsed = net?.parse?.(address);
      return net && parsed !== undefined ? { net, address: parsed } : undefined;
    }
    return undefined;
  }

  /** net.createServer([options][, connectionListener]). */
  createServer(optionsOrListener?: ServerOptions | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server {
    if (typeof optionsOrListener === 'function') return new Server(this, {}, optionsOrListener);
    return new Server(this, optionsOrListener ?? {}, listener);
  }

  /** net.connect({ host, port }[, connectListener]): an active open; errors arrive as 'error' events. */
  connect(options: TcpConnectOptions, connectListener?: () => void): Socket {
    const socket = new Socket(this, { allowHalfOpen: options.allowHalfOpen });
    socket.connecting = true;
    if (connectListener) socket.once('connect', connectListener);
    if (options.timeout) socket.setTimeout(options.timeout);
    const target = this.networkFor(options.host);
    if (!target) {
      process.nextTick(() => socket.destroy(new TcpError('EHOSTUNREACH', `connect: cannot reach ${options.host} (not an address of a configured family)`)));
      return socket;
    }
    let local: IpAddress | undefined;
    if (options.localAddress !== undefined) local = this.networkFor(options.localAddress)?.address;
    try {
      const c = this.layer.connect({
        net: target.net,
        remote: target.address,
        remotePort: options.port,
        local,
        localPort: options.localPort,
        user: socket,
      });
      socket.attach(c);
      if (options.noDelay) c.noDelay = true;
      if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
    } catch (e) {
      process.nextTick(() => socket.destroy(e as Error));
    }
    return socket;
  }

  /** Alias of connect (net.createConnection). */
  createConnection(options: TcpConnectOptions, connectListener?: () => void): Socket {
    return this.connect(options, connectListener);
  }

  show(options: { recent?: number } = {}): string {
    return this.layer.show(options);
  }

  /** `show tcp --json`. */
  rows(): ReturnType<TcpLayer['rows']> {
    return this.layer.rows();
  }
}
