/**
 * TCP sockets in Node's `net` idiom: a `Server` that emits 'connection', and
 * a `Socket` that is a `stream.Duplex` with backpressure in both directions.
 *
 *   const server = host.tcp.createServer((socket) => socket.pipe(socket));
 *   server.listen(7);
 *   const client = host.tcp.connect({ host: '10.0.0.1', port: 7 }, () => client.end('hello'));
 *
 * Read first: Node's `net` documentation (the API copied here), then RFC
 * 9293 §3.9.1 (the user interface these calls map to: OPEN, SEND, RECEIVE,
 * CLOSE, ABORT).
 *
 * Backpressure: a write completes (its callback runs) once the bytes are in
 * the connection's send buffer (SO_SNDBUF); while that is full, the Writable
 * side buffers and `write()` returns false. Reading: bytes the application
 * has not read yet (`readableLength`) shrink the receive window the peer
 * sees, so a reader that stops reading stops the sender (zero window).
 *
 * `destroy()` behaves like close(2) on a kernel socket: queued data is still
 * sent and the connection finishes in the background, unless unread data was
 * discarded, in which case a reset is sent (RFC 2525 §2.17, as Linux does);
 * `resetAndDestroy()` always resets.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Timer } from '../../core/time.js';
import { TcpError, type ConnectionUser, type TcpConnection } from './connection.js';
import type { IpAddress, TcpNetwork } from './network.js';
import type { Listener } from './segment-arrives.js';
import { TcpState, canSendData } from './state.js';
import type { TcpLayer } from './tcp.js';
import { armKeepalive } from './timers.js';

/** Stream buffer sizes (Node's default is 16 KiB; the TCP buffers do the real buffering). */
const STREAM_HIGH_WATER_MARK = 64 * 1024;

export interface AddressInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

export interface TcpConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  readonly allowHalfOpen?: boolean;
  /** Idle timeout in ms ('timeout' event), like `socket.setTimeout`. */
  readonly timeout?: number;
}

/** How sockets reach the layer and the address families (api.ts implements it). */
export interface SocketHost {
  readonly layer: TcpLayer;
  networkFor(address: string): { net: TcpNetwork; address: IpAddress } | undefined;
}

function familyOf(net: TcpNetwork): 'IPv4' | 'IPv6' {
  return net.family === 'ipv6' ? 'IPv6' : 'IPv4';
}

export class Socket extends Duplex implements ConnectionUser {
  connection: TcpConnection | undefined;
  /** True between connect() and 'connect' (net.Socket.connecting). */
  connecting = false;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: 'IPv4' | 'IPv6' | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  bytesRead = 0;
  /** The server that accepted this socket (passive open). */
  server: Server | undefined;
  private pendingWrite: { chunk: Uint8Array; offset: number; callback: (error?: Error | null) => void } | undefined;
  private timeoutMs = 0;
  private timeoutTimer: Timer | undefined;
  private lastActivity = 0;
  private written = 0;
  /** Bytes the application had taken from the stream at the last _read (see _read). */
  private consumedAtLastRead = 0;
  /** Set by `consume`: received bytes go to it as views instead of into the stream (ConnectionUser.onDataView). */
  onDataView: ((data: Uint8Array) => void) | undefined = undefined;

  constructor(
    private readonly host: SocketHost,
    options: { allowHalfOpen?: boolean } = {},
  ) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: STREAM_HIGH_WATER_MARK,
      writableHighWaterMark: STREAM_HIGH_WATER_MARK,
      decodeStrings: true,
      emitClose: true,
      autoDestroy: true,
    });
  }

  /** Binds the socket to a connection (both for connect() and for an accepted one). */
  attach(c: TcpConnection): void {
    this.connection = c;
    c.user = this;
    this.remoteAddress = c.net.format(c.remote);
    this.remotePort = c.remotePort;
    this.remoteFamily = familyOf(c.net);
    this.localAddress = c.net.format(c.local);
    this.localPort = c.localPort;
  }

  get bytesWritten(): number {
    return this.written;
  }

  /** net.Socket.pending: not connected yet. */
  get pending(): boolean {
    return this.connection === undefined || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed || !this.connection) return 'closed';
    if (this.readable && this.writable) return 'open';
    return this.readable ? 'readOnly' : this.writable ? 'writeOnly' : 'closed';
  }

  address(): AddressInfo | Record<string, never> {
    const c = this.connection;
    if (!c) return {};
    return { address: this.localAddress!, family: familyOf(c.net), port: this.localPort! };
  }

  /** TCP_NODELAY: turn Nagle's algorithm off (true) or on. */
  setNoDelay(noDelay = true): this {
    const c = this.connection;
    if (c) {
      c.noDelay = noDelay;
      if (noDelay) c.layer.output(c);
    }
    return this;
  }

  /** SO_KEEPALIVE with TCP_KEEPIDLE = initialDelay (ms; 0 keeps the default). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    const c = this.connection;
    if (c) {
      c.keepalive = enable;
      if (initialDelay > 0) c.keepaliveTimeMs = initialDelay;
      if (c.state === TcpState.ESTABLISHED || c.state === TcpState.CLOSE_WAIT) armKeepalive(c);
    }
    return this;
  }

  /** TCP_USER_TIMEOUT (RFC 5482): abort when sent data stays unacknowledged for `ms`. */
  setUserTimeout(ms: number): this {
    if (this.connection) this.connection.userTimeoutMs = ms;
    return this;
  }

  /** Emits 'timeout' after `ms` without activity in either direction (0 turns it off), like net.Socket. */
  setTimeout(ms: number, callback?: () => void): this {
    this.timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    if (ms === 0) {
      this.timeoutTimer?.cancel();
      return this;
    }
    this.timeoutTimer ??= this.host.layer.ctx.timers.timer(() => this.onTimeoutTimer());
    this.touch();
    this.timeoutTimer.armIn(ms);
    return this;
  }

  get timeout(): number | undefined {
    return this.timeoutMs === 0 ? undefined : this.timeoutMs;
  }

  private touch(): void {
    if (this.timeoutMs > 0) this.lastActivity = this.host.layer.ctx.clock.now();
  }

  private onTimeoutTimer(): void {
    if (this.timeoutMs === 0 || this.destroyed) return;
    const idle = this.host.layer.ctx.clock.now() - this.lastActivity;
    if (idle < this.timeoutMs) {
      this.timeoutTimer!.armIn(this.timeoutMs - idle);
      return;
    }
    this.emit('timeout');
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** net.Socket.destroySoon: finish writing, then destroy. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /**
   * Takes the received bytes synchronously instead of through the stream, like
   * net.Socket's `onread` option: `receiver` gets each in-order piece as a view
   * into the frame it arrived in, valid ONLY during the call (copy what you
   * keep), and no 'data' event or `read()` sees it. Nothing is copied, and the
   * receive window stays fully open, since the bytes count as read when the
   * call returns. Bytes already in the stream stay there (`read()` them first
   * if order matters), and 'end' still comes at the peer's FIN, so the
   * stream is also put in flowing mode (`resume()`) for it. For consumers
   * that finish with every byte at once: counting, hashing, discarding.
   */
  consume(receiver: (data: Uint8Array) => void): this {
    this.onDataView = (data) => {
      this.bytesRead += data.length;
      this.touch();
      receiver(data);
    };
    this.resume();
    return this;
  }

  /** Closes with a reset (RST) right away (net.Socket.resetAndDestroy). */
  resetAndDestroy(): this {
    const c = this.connection;
    if (c) {
      this.detach();
      c.abort(undefined);
    }
    return this.destroy();
  }

  // --- stream.Duplex ---------------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const c = this.connection;
    if (!c || c.state === TcpState.CLOSED || (!canSendData(c.state) && c.state !== TcpState.SYN_SENT && c.state !== TcpState.SYN_RECEIVED) || c.finQueued) {
      callback(new TcpError('EPIPE', 'write EPIPE'));
      return;
    }
    this.touch();
    const n = c.send(chunk);
    this.written += n;
    if (n === chunk.length) callback();
    else this.pendingWrite = { chunk, offset: n, callback };
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Like net.Socket: end() before the handshake completes takes effect once connected.
    if (this.connecting) {
      this.once('connect', () => this._final(callback));
      return;
    }
    const c = this.connection;
    if (c && c.state !== TcpState.CLOSED) c.close();
    callback();
  }

  override _read(): void {
    // Linux tcp_cleanup_rbuf: a window update is worth considering only once the application has consumed data
    // (`copied > 0`). The stream also asks for more when reading starts, right after the handshake: no ACK then.
    const consumed = this.bytesRead - this.readableLength;
    if (consumed === this.consumedAtLastRead) return;
    this.consumedAtLastRead = consumed;
    this.connection?.onUserRead();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.timeoutTimer?.cancel();
    const c = this.connection;
    if (c && c.user === this) {
      const unread = this.readableLength > 0 && !this.readableEnded;
      this.detach();
      if (error || unread) {
        // close(2) with unread data, or a destroy with an error: abort (RFC 9293 §3.10.5, RFC 2525 §2.17).
        c.abort(undefined);
      } else if (c.state === TcpState.SYN_SENT || c.state === TcpState.SYN_RECEIVED) {
        c.abort(undefined);
      } else {
        c.close(); // FIN after the queued data; the connection finishes on its own (an orphan)
      }
    }
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.callback(error ?? new TcpError('EPIPE', 'write EPIPE'));
    callback(error);
  }

  private detach(): void {
    const c = this.connection;
    if (!c) return;
    c.user = undefined;
    c.orphaned = true;
  }

  // --- ConnectionUser --------------------------------------------------------

  onEstablished(): void {
    const c = this.connection!;
    this.localAddress = c.net.format(c.local);
    this.localPort = c.localPort;
    if (this.connecting) {
      this.connecting = false;
      this.emit('connect');
      this.emit('ready');
    } else {
      this.server?.onEstablished(this);
    }
  }

  onData(data: Buffer): void {
    this.bytesRead += data.length;
    this.touch();
    this.push(data);
  }

  onEnd(): void {
    this.push(null);
  }

  onSendSpace(): void {
    const p = this.pendingWrite;
    const c = this.connection;
    if (!p || !c) return;
    const n = c.send(p.chunk.subarray(p.offset));
    this.written += n;
    p.offset += n;
    if (p.offset === p.chunk.length) {
      this.pendingWrite = undefined;
      p.callback();
    }
  }

  onClose(error: TcpError | undefined): void {
    this.connection = undefined;
    if (this.connecting) {
      this.connecting = false;
      this.destroy(error ?? new TcpError('ECONNREFUSED', 'connect ECONNREFUSED'));
      return;
    }
    if (error) {
      this.destroy(error);
      return;
    }
    // A normal close (LAST-ACK acknowledged, TIME-WAIT over): the stream ends on its own once read.
    if (!this.writableFinished && this.writable) this.destroy();
  }

  unreadBytes(): number {
    return this.readableLength;
  }
}

export interface ServerOptions {
  readonly allowHalfOpen?: boolean;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  readonly synBacklog?: number;
}

export class Server extends EventEmitter {
  private listener: Listener | undefined;
  private readonly sockets = new Set<Socket>();
  private closeCallbacks: ((error?: Error) => void)[] = [];
  private closeRequested = false;
  private boundAddress: { address: string; family: 'IPv4' | 'IPv6'; port: number } | undefined;
  /** Refuse (reset) connections beyond this many (net.Server.maxConnections). */
  maxConnections = Infinity;

  constructor(
    private readonly host: SocketHost,
    private readonly options: ServerOptions = {},
    connectionListener?: (socket: Socket) => void,
  ) {
    super();
    if (connectionListener) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** listen(port[, host][, callback]) or listen({ port, host }[, callback]). */
  listen(portOrOptions: number | { port: number; host?: string }, hostOrCallback?: string | (() => void), callback?: () => void): this {
    const port = typeof portOrOptions === 'number' ? portOrOptions : portOrOptions.port;
    let host = typeof portOrOptions === 'number' ? undefined : portOrOptions.host;
    if (typeof hostOrCallback === 'string') host = hostOrCallback;
    else if (typeof hostOrCallback === 'function') callback = hostOrCallback;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`listen: port must be 1..65535, got ${port}`);
    let address: IpAddress | undefined;
    let family: 'IPv4' | 'IPv6' = 'IPv4';
    if (host !== undefined && host !== '0.0.0.0' && host !== '::') {
      const resolved = this.host.networkFor(host);
      if (!resolved) throw new Error(`listen: cannot listen on ${host}`);
      address = resolved.address;
      family = familyOf(resolved.net);
    }
    try {
      this.listener = this.host.layer.listen({
        port,
        address,
        synBacklog: this.options.synBacklog,
        accept: (c) => this.accept(c),
      });
    } catch (e) {
      process.nextTick(() => this.emit('error', e));
      return this;
    }
    this.boundAddress = { address: host ?? '0.0.0.0', family, port };
    if (callback) this.once('listening', callback);
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  address(): AddressInfo | null {
    return this.boundAddress ?? null;
  }

  /** Stops accepting; 'close' follows once every accepted connection has closed (net.Server.close). */
  close(callback?: (error?: Error) => void): this {
    if (this.listener) {
      this.host.layer.unlisten(this.listener);
      this.listener = undefined;
    } else if (callback) {
      process.nextTick(() => callback(Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' })));
      return this;
    }
    if (callback) this.closeCallbacks.push(callback);
    this.closeRequested = true;
    this.maybeClosed();
    return this;
  }

  getConnections(callback: (error: Error | null, count: number) => void): this {
    process.nextTick(() => callback(null, this.sockets.size));
    return this;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  private accept(c: TcpConnection): ConnectionUser {
    const socket = new Socket(this.host, { allowHalfOpen: this.options.allowHalfOpen });
    socket.attach(c);
    socket.server = this;
    return socket;
  }

  /** Called by the socket when its handshake completes. */
  onEstablished(socket: Socket): void {
    if (this.sockets.size >= this.maxConnections) {
      socket.resetAndDestroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.maybeClosed();
    });
    if (this.options.noDelay) socket.setNoDelay(true);
    if (this.options.keepAlive) socket.setKeepAlive(true, this.options.keepAliveInitialDelay ?? 0);
    this.emit('connection', socket);
  }

  private maybeClosed(): void {
    if (this.closeRequested && !this.listener && this.sockets.size === 0) this.emitCloseOnce();
  }

  private closedEmitted = false;

  private emitCloseOnce(): void {
    if (this.closedEmitted || this.listener || this.sockets.size > 0) return;
    this.closedEmitted = true;
    const callbacks = this.closeCallbacks.splice(0);
    process.nextTick(() => {
      for (const cb of callbacks) cb();
      this.emit('close');
    });
  }
}
