/**
 * What every small service is: a port, what to do with a TCP connection, and
 * what to answer a UDP datagram. index.ts listens for them all; each
 * service's file is under a screen and names the RFC to read beside it.
 */
import type { StackContext } from '../../core/context.js';
import type { Socket } from '../../l4/tcp/socket.js';

export interface SmallService {
  readonly name: SmallServiceName;
  readonly port: number;
  /** Serves one TCP connection (the socket is already accepted). */
  serveTcp(socket: Socket, ctx: StackContext): void;
  /** The reply to one datagram, or undefined for none. */
  answerUdp(datagram: Uint8Array, ctx: StackContext): Uint8Array | undefined;
}

export const SMALL_SERVICE_NAMES = ['echo', 'discard', 'chargen', 'daytime', 'time'] as const;
export type SmallServiceName = (typeof SMALL_SERVICE_NAMES)[number];
