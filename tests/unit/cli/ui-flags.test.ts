import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, uiListen, uiOptions } from '../../../src/cli.js';

const TAPNET = join(import.meta.dirname, '../../../bin/tapnet.js');

describe('--ui [ADDR:]PORT', () => {
  it('reads PORT, ADDR:PORT and [IPv6]:PORT, loopback by default', () => {
    expect(uiListen('8077')).toEqual({ host: '127.0.0.1', port: 8077 });
    expect(uiListen('0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(uiListen('localhost:9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(uiListen('[::1]:8077')).toEqual({ host: '::1', port: 8077 });
    expect(uiListen('10.0.0.5:80')).toEqual({ host: '10.0.0.5', port: 80 });
    for (const bad of ['', 'http', '70000', '1.2.3:80', '::1:80', '[zz]:1', 'host:80']) expect(() => uiListen(bad)).toThrow(/expected|address/);
    expect(isLoopbackHost('127.3.0.1')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
  });

  it('refuses an address other machines reach unless a token is given', () => {
    expect(() => uiOptions({ host: '0.0.0.0', port: 8077 }, undefined)).toThrow(/non-loopback address without --ui-token/);
    expect(uiOptions({ host: '0.0.0.0', port: 8077 }, 'a-long-enough-token')).toEqual({ host: '0.0.0.0', port: 8077, token: 'a-long-enough-token' });
    expect(uiOptions({ host: '127.0.0.1', port: 8077 }, undefined)).toEqual({ host: '127.0.0.1', port: 8077, token: undefined });
    expect(() => uiOptions(undefined, 'a-long-enough-token')).toThrow(/needs --ui/);
  });

  it('says why in one line and exits 2', () => {
    const r = spawnSync(process.execPath, [TAPNET, 'lab', 'up', 'labs/two-lans.yaml', '--ui', '0.0.0.0:8077'], { encoding: 'utf8', cwd: join(import.meta.dirname, '../../..') });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'tapnet: --ui 0.0.0.0: refusing a non-loopback address without --ui-token TOKEN (anyone who reaches it would see every packet of the lab)',
    ]);
    // `tapnet ui` names its own flag; an IPv6 address is written as on the command line.
    const ui = spawnSync(process.execPath, [TAPNET, 'ui', '--lab', 'labs/two-lans.yaml', '--listen', '[::]:8077'], { encoding: 'utf8', cwd: join(import.meta.dirname, '../../..') });
    expect(ui.status).toBe(2);
    expect(ui.stderr.trim().split('\n')).toEqual([
      'tapnet: --listen [::]: refusing a non-loopback address without --ui-token TOKEN (anyone who reaches it would see every packet of the lab)',
    ]);
  });
});
