/**
 * A watching wrapper: looks like the device it wraps and, while a browser
 * watches (core/trace.ts `walkWatch.on`), hands every received and sent frame
 * to the walk recorder: a received frame's handling runs inside its walk, so
 * every trace step the layers above take lands in that frame's walk.
 *
 * Unwatched, it costs one boolean test per frame and per send: the wrapper is
 * always in place, so turning the view on needs no rewiring of a running lab.
 */
import { Linearizer } from '../core/slices.js';
import { walkWatch } from '../core/trace.js';
import { wrapDevice, type Device, type TxOffload } from './device.js';

export function observe(device: Device, point: string): Device {
  const linear = new Linearizer();
  const send = (frame: Uint8Array, offload?: TxOffload): void => {
    if (walkWatch.on) walkWatch.transmit(point, frame);
    device.send(frame, offload);
  };
  return wrapDevice(device, {
    receive: (onFrame) => (frame, offload) => {
      if (!walkWatch.on) return onFrame(frame, offload);
      walkWatch.receive(point, frame, () => onFrame(frame, offload));
    },
    send,
    sendWithPayload(frame, offload, payload) {
      // Watched: the recorder gets the whole frame, and the device a copy of it like any other.
      if (walkWatch.on) return send(linear.join(frame, payload), offload);
      device.sendWithPayload!(frame, offload, payload);
    },
  });
}
