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
import type { Device, FrameHandler, TxOffload } from './device.js';

export function observe(device: Device, point: string): Device {
  return {
    get name() {
      return device.name;
    },
    get mtu() {
      return device.mtu;
    },
    get tsoMaxSize() {
      return device.tsoMaxSize;
    },
    get checksumOffload() {
      return device.checksumOffload;
    },
    get rxChecksumValid() {
      return device.rxChecksumValid;
    },
    setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
      device.setReceiver((frame, offload) => {
        if (!walkWatch.on) return onFrame(frame, offload);
        walkWatch.receive(point, frame, () => onFrame(frame, offload));
      }, onBatchEnd);
    },
    send(frame: Uint8Array, offload?: TxOffload): void {
      if (walkWatch.on) walkWatch.transmit(point, frame);
      device.send(frame, offload);
    },
    flush: () => device.flush(),
    onClose: (handler) => device.onClose(handler),
    close: () => device.close(),
  };
}
