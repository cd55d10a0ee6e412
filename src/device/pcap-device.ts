/**
 * A capturing wrapper: looks like the device it wraps and writes every frame
 * it receives and every frame it is asked to send to a pcap file, like
 * `tcpdump -i DEV -w FILE` on that interface (both directions, in the order the
 * stack sees them). Open the file with Wireshark or `tcpdump -r FILE -nn`.
 *
 * The wrapper does not own the writer: several devices may share one, and
 * closing the device leaves the writer open (close it yourself to flush).
 *
 * Wrap the offload layer (device/vnet.ts), not the raw TAP, so the file holds
 * plain Ethernet frames. Like tcpdump on a host with TSO, it then shows the
 * 64 KB segments and the partial checksums as the stack handles them.
 */
import type { PcapWriter } from '../core/pcap.js';
import type { Device, FrameHandler, TxOffload } from './device.js';

export function capture(device: Device, writer: PcapWriter): Device {
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
      device.setReceiver((frame) => {
        // Written before the stack sees the frame, so a receiver that reuses the buffer cannot change the capture.
        writer.write(frame);
        onFrame(frame);
      }, onBatchEnd);
    },
    send(frame: Uint8Array, offload?: TxOffload): void {
      writer.write(frame);
      device.send(frame, offload);
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
