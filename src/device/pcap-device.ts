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
 *
 * With `wireFrames` (what a lab link's `capture:` uses) the file shows what
 * crosses a wire with an MTU instead, as Wireshark users expect: the wrapper
 * offers no offload to the senders above it, so they hand it wire frames
 * (device/segment.ts), and cuts a received super-frame into segments (and
 * finishes a partial checksum) before recording it and passing it on. The
 * price is that a captured link runs without offload.
 */
import type { PcapWriter } from '../core/pcap.js';
import { wrapDevice, type Device } from './device.js';
import { OFFLOAD_DROP_REASON, Segmenter, needsWork } from './segment.js';
import type { Tracer } from '../core/trace.js';

export interface CaptureOptions {
  /** Record wire frames (MTU-sized segments, complete checksums), never super-frames. */
  readonly wireFrames?: boolean;
  /** Where refused offload metadata is counted and traced (with `wireFrames`). */
  readonly trace?: Tracer;
}

export function capture(device: Device, writer: PcapWriter, options: CaptureOptions = {}): Device {
  const wire = options.wireFrames ?? false;
  const segmenter = wire ? new Segmenter() : undefined;
  const sendSegment = (segment: Uint8Array): void => {
    writer.write(segment);
    device.send(segment);
  };
  return wrapDevice(device, {
    offload: !wire,
    receive(onFrame) {
      const record = (frame: Uint8Array): void => {
        // Written before the stack sees the frame, so a receiver that reuses the buffer cannot change the capture.
        writer.write(frame);
        onFrame(frame);
      };
      return (frame, offload) => {
        if (segmenter && needsWork(offload)) {
          const refused = segmenter.toWire(frame, offload, record);
          if (refused) options.trace?.dropped(refused, `${device.name}: ${OFFLOAD_DROP_REASON[refused]}`);
          return;
        }
        writer.write(frame);
        onFrame(frame, offload);
      };
    },
    send(frame, offload) {
      if (segmenter) {
        // Nothing above was offered offload; if a frame still needs it, cut it here so the file stays wire frames.
        const refused = segmenter.toWire(frame, offload, sendSegment);
        if (refused) options.trace?.dropped(refused, `${device.name}: ${OFFLOAD_DROP_REASON[refused]}`);
        return;
      }
      writer.write(frame);
      device.send(frame, offload);
    },
  });
}
