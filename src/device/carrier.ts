/**
 * A cable that can be pulled: `tapnet link down A B --lab FILE` turns a lab
 * link's carrier off, `link up` turns it back on.
 *
 * Every device of a link's tapnet-side ends is wrapped in a gate that shares
 * one `Carrier`. While the carrier is down, a frame the element sends is
 * dropped before it reaches the link (Linux: no carrier, no transmit;
 * `ip -s link` counts it as a carrier error) and a frame that arrives from
 * the link is dropped before the element sees it, so nothing crosses in
 * either direction, as with the cable out. Frames that were already on the
 * wire when it went down are lost the same way.
 *
 * What tapnet does not model is the far port noticing: its router keeps its
 * interface, connected route and ARP entries, and a host's kernel keeps its
 * TAP up (carrier on). So protocols notice a pulled cable the way they notice
 * a dead switch in the middle of a path: BGP by its hold timer (RFC 4271
 * §6.5), TCP by retransmission timeouts. Up again, traffic flows at once.
 */
import type { StackContext } from '../core/context.js';
import { wrapDevice, type Device } from './device.js';

export class Carrier {
  up = true;
  /** Frames dropped while down: sent into the link, and arriving from it. */
  readonly counters = { txDropped: 0, rxDropped: 0 };
}

/** `device` behind `carrier`: drops both ways (counted and traced in `ctx`) while it is down. */
export function gate(device: Device, carrier: Carrier, ctx: StackContext): Device {
  return wrapDevice(device, {
    receive: (onFrame) => (frame, offload) => {
      if (carrier.up) return onFrame(frame, offload);
      carrier.counters.rxDropped++;
      ctx.trace.dropped('linkRxCarrierDown', `${device.name}: link is down`);
    },
    send(frame, offload) {
      if (carrier.up) return device.send(frame, offload);
      carrier.counters.txDropped++;
      ctx.trace.dropped('linkTxCarrierDown', `${device.name}: link is down`);
    },
  });
}
