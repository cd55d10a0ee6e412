/**
 * Every counter of VXLAN tunnels (tunnel.ts): what `tapnet show stats --node NODE` shows for the node a tunnel
 * ends on, and every reason a tunnel drops a datagram or a frame. Names: tapnet's own (Linux keeps these as
 * per-device `rx_errors`/`tx_dropped` and the vxlan driver's VXLAN_VNI_STATS_* for one VNI).
 */
export const VXLAN_COUNTERS = [
  /** Datagrams that arrived on the underlay socket(s). */
  'vxlanInDatagrams',
  /** Shorter than the 8-byte header, or no inner Ethernet header after it. */
  'vxlanInTruncated',
  /** The I flag is clear (RFC 7348 §5). */
  'vxlanInBadFlags',
  /** A VNI no tunnel on this socket has (Linux: vxlan_vs_find_vni fails, the packet is dropped). */
  'vxlanInUnknownVni',
  /** Inner frames handed to the node (a switch port, an interface). */
  'vxlanInFrames',
  /** Inner source MAC learned as behind a remote (Linux's FDB learning, vxlan_snoop). */
  'vxlanFdbLearned',
  /** A known MAC showed up behind another remote (it moved; Linux logs "migrated"). */
  'vxlanFdbMoved',
  /** Not learned: the FDB is full (VXLAN_FDB_MAX). */
  'vxlanFdbFull',
  /** Datagrams sent (each head-end copy counts). */
  'vxlanOutDatagrams',
  /** Frames sent to every remote: broadcast, multicast or unknown unicast (head-end replication). */
  'vxlanOutFlooded',
  /** The frame is larger than the tunnel's MTU allows. */
  'vxlanOutOversize',
  /** The underlay socket's send queue is full (like a full qdisc: dropped, not queued without bound). */
  'vxlanOutQueueFull',
  /** The underlay socket reported an error for a datagram (no route to the remote, ...). */
  'vxlanOutErrors',
] as const;

declare module '../../core/stats.js' {
  interface CounterTables {
    vxlan: typeof VXLAN_COUNTERS;
  }
}
