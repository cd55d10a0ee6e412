/**
 * In-process echo benchmark: how many ICMP echo requests per second one Host
 * turns into replies, with no kernel and no TAP in the way (the cost of
 * tapnet's own code per packet).
 *
 *   npx tsx bench/stack-echo.ts [SECONDS] [PAYLOAD]
 */
import { createContext } from '../src/core/context.js';
import { internetChecksum } from '../src/core/checksum.js';
import type { Device, FrameHandler } from '../src/device/device.js';
import { Host } from '../src/node/host.js';

const seconds = Number(process.argv[2] ?? 3);
const payload = Number(process.argv[3] ?? 56);

/** A device whose "wire" is this loop: it counts what tapnet sends. */
class SinkDevice implements Device {
  readonly name = 'bench0';
  readonly mtu = 1500;
  receive: FrameHandler = () => {};
  sent = 0;
  setReceiver(onFrame: FrameHandler): void {
    this.receive = onFrame;
  }
  send(): void {
    this.sent++;
  }
  flush(): void {}
  onClose(): void {}
  close(): void {}
}

const device = new SinkDevice();
const host = new Host(createContext());
const tapnetMac = 0x020000000001;
const peerMac = 0x020000000002;
host.addInterface(device, { mac: tapnetMac, ipv4: [{ address: 0x0a4d0001, prefixLength: 24 }] });

// Teach ARP the peer with a request for us, so replies go out without resolution.
const arp = Uint8Array.from([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 2, 0x08, 0x06,
  0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 2, 10, 77, 0, 2, 0, 0, 0, 0, 0, 0, 10, 77, 0, 1,
]);
device.receive(arp);

// One echo request frame: Ethernet + IPv4 + ICMP echo, checksums valid.
const frame = new Uint8Array(14 + 20 + 8 + payload);
frame.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
const ip = frame.subarray(14);
ip.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 77, 0, 2, 10, 77, 0, 1]);
ip[2] = (20 + 8 + payload) >> 8;
ip[3] = (20 + 8 + payload) & 0xff;
const ipSum = internetChecksum(ip, 0, 20);
ip[10] = ipSum >> 8;
ip[11] = ipSum & 0xff;
const icmp = ip.subarray(20);
icmp.set([8, 0, 0, 0, 0x12, 0x34, 0, 1]);
const icmpSum = internetChecksum(icmp, 0, icmp.length);
icmp[2] = icmpSum >> 8;
icmp[3] = icmpSum & 0xff;

const deadline = performance.now() + seconds * 1000;
let n = 0;
const heapBefore = process.memoryUsage().heapUsed;
while (performance.now() < deadline) {
  for (let i = 0; i < 10_000; i++) device.receive(frame);
  n += 10_000;
}
const elapsed = seconds;
console.log(
  `${(n / elapsed / 1e6).toFixed(2)} M echo/s in-process (${((elapsed * 1e9) / n).toFixed(0)} ns per request, payload ${payload} B, replies ${device.sent - 1}, heap ${((process.memoryUsage().heapUsed - heapBefore) / 1e6).toFixed(1)} MB)`,
);
