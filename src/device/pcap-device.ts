/**
 * A capturing wrapper: looks like the device it wraps and writes every frame
 * it receives and every frame it is asked to send to a pcap file, like
 * `tcpdump -i DEV -w FILE` on that interface (both directions, in the order the
 * stack sees them). Open the file with Wireshark or `tcpdump -r FILE -nn`.
 *
 * The wrapper does not own the writer: several devices may share one, and
 * closing the device leaves the writer open (close it yourself to flush).
 */
import type { PcapWriter } from '../core/pcap.js';
import type { Device, FrameHandler } from './device.js';

export function capture(device: Device, writer: PcapWriter): Device {
  return {
    get name() {
      return device.name;
    },
    get mtu() {
      return device.mtu;
    },
    setReceiver(onFrame: FrameHandler, onBatchEnd?: () => void): void {
      device.setReceiver((frame) => {
        // Written before the stack sees the frame, so a receiver that reuses the buffer cannot change the capture.
        writer.write(frame);
        onFrame(frame);
      }, onBatchEnd);
    },
    send(frame: Uint8Array): void {
      writer.write(frame);
      device.send(frame);
    },
    flush(): void {
      device.flush();
    },
    onClose(handler: (reason: string) => void): void {
      device.onClose(handler);
    },
    close(): void {
      device.close();
    },
  };
}
