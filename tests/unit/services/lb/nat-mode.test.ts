/**
 * nat mode on a tapnet Router (tests/unit/netfilter/nat/nat-rig.ts) on a
 * manual clock: the VIP is the router's WAN address, the backends sit on the
 * LAN behind it (their gateway). Clients on the WAN side reach the VIP; each
 * new TCP connection or UDP flow is DNATed to a backend, the replies come back
 * from the VIP, and the backend sees the client's own address.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../../src/netfilter/conntrack/conntrack.js';
import type { VirtualServers } from '../../../../src/netfilter/nat/nat.js';
import { TcpFlags } from '../../../../src/l4/tcp/header.js';
import type { UdpRemoteInfo } from '../../../../src/l4/udp/udp.js';
import type { LbServiceConfig } from '../../../../src/services/lb/config.js';
import { LoadBalancer } from '../../../../src/services/lb/lb.js';
import { natRig, PC1, PC2, SRV, WAN, WEB } from '../../netfilter/nat/nat-rig.js';

const service = (name: string, protocol: 'tcp' | 'udp', port: number, backends: LbServiceConfig['backends']): LbServiceConfig => ({
  name,
  vip: WAN,
  port,
  protocol,
  mode: 'nat',
  scheduler: 'roundrobin',
  backends,
  timeouts: { connectMs: 1000, responseMs: 1000, headerMs: 1000, idleMs: 1000 },
  routes: [],
});

function rig() {
  // The load balancer needs the router, the router's netfilter needs the balancer's virtual services: a late binding.
  let lb: LoadBalancer | undefined;
  const late: VirtualServers = { schedule: (c: Connection) => lb!.natVirtualServers!.schedule(c), released: (c: Connection) => lb!.natVirtualServers!.released(c) };
  const r = natRig({ nat: { virtualServers: late } });
  lb = new LoadBalancer(r.gw, [
    service('dns', 'udp', 53, [
      { name: 'pc1', address: PC1, port: 5353, weight: 1 },
      { name: 'pc2', address: PC2, port: 5353, weight: 1 },
    ]),
    service('web', 'tcp', 80, [{ name: 'srv', address: SRV, port: 8080, weight: 1 }]),
  ]);
  lb.start();
  return { ...r, lb };
}

describe('nat mode', () => {
  it('UDP: each flow goes to the next backend, answers come back from the VIP', async () => {
    const r = rig();
    for (const [host, name] of [[r.pc1, 'pc1'], [r.pc2, 'pc2']] as const) {
      const s = host.udp.createSocket().bind(5353);
      s.on('message', (m, info) => s.send(`${name} saw ${info.address}: ${m.toString()}`, info.port, info.address));
    }
    const answers: [string, UdpRemoteInfo][] = [];
    for (let i = 0; i < 3; i++) {
      const client = r.web.udp.createSocket();
      const got = new Promise<void>((resolve) => client.on('message', (m, info) => (answers.push([m.toString(), info]), resolve())));
      client.send(`q${i}`, 53, '203.0.113.1');
      await r.run(got);
    }
    expect(answers.map(([m]) => m)).toEqual(['pc1 saw 203.0.113.10: q0', 'pc2 saw 203.0.113.10: q1', 'pc1 saw 203.0.113.10: q2']);
    for (const [, info] of answers) expect(info).toMatchObject({ address: '203.0.113.1', port: 53 });
    expect(r.nf.show('conntrack')).toContain('[DNAT LB]');
    const rows = r.lb.rows().find((s) => s.name === 'dns')!.backends;
    expect(rows.map((b) => `${b.name} ${b.total} ${b.active}`)).toEqual(['pc1 2 2', 'pc2 1 1']);
  });

  it('TCP: a SYN to the VIP reaches the backend from the client itself; the SYN-ACK goes back from the VIP', () => {
    const r = rig();
    r.sendTcp(r.web, WAN, 40000, 80, TcpFlags.SYN);
    const syn = r.seen(r.srv).find((s) => s.flags & TcpFlags.SYN);
    expect(syn).toMatchObject({ source: WEB, destination: SRV, sourcePort: 40000, destinationPort: 8080, checksumOk: true });
    r.sendTcp(r.srv, WEB, 8080, 40000, TcpFlags.SYN | TcpFlags.ACK, 5000, 1001);
    const synAck = r.seen(r.web).find((s) => s.flags === (TcpFlags.SYN | TcpFlags.ACK));
    expect(synAck).toMatchObject({ source: WAN, sourcePort: 80, destinationPort: 40000, checksumOk: true });
    expect(r.lb.rows().find((s) => s.name === 'web')!.backends[0]).toMatchObject({ total: 1, active: 1 });
  });

  it('no backend: the VIP itself refuses (RST), counted lbNoBackend', () => {
    const r = rig();
    r.lb.control('drain', 'web', 'srv', undefined);
    r.sendTcp(r.web, WAN, 40001, 80, TcpFlags.SYN);
    expect(r.seen(r.srv)).toEqual([]);
    expect(r.seen(r.web).some((s) => s.source === WAN && s.sourcePort === 80 && s.flags & TcpFlags.RST)).toBe(true);
    expect(r.gw.ctx.stats.get('lbNoBackend')).toBe(1);
  });
});
