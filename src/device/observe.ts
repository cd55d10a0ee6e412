/**
 * A watching wrapper: looks like the device it wraps and, while a browser
 * watches (core/trace.ts `walkWatch.on`), hands every received and sent frame
 * to the walk recorder: a received frame's handling runs inside its walk, so
 * every trace step the layers above take lands in that frame's walk.
 *
 * Unwatched, it costs one boolean test per frame and per send: the wrapper is
 * always in place, so turning the view on needs no rewiring of a running lab.
 */
import { walkWatch } from '../core/trace.js';
import { wrapDevice, type Device } from './device.js';

export function observe(device: Device, point: string): Device {
  return wrapDevice(device, {
    receive: (onFrame) => (frame, offload) => {
      if (!walkWatch.on) return onFrame(frame, offload);
      walkWatch.receive(point, frame, () => onFrame(frame, offload));
    },
    send(frame, offload) {
      if (walkWatch.on) walkWatch.transmit(point, frame);
      device.send(frame, offload);
    },
  });
}
