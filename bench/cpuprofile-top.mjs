#!/usr/bin/env node
// Self time per function from a V8 .cpuprofile (node --cpu-prof), biggest first:
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [N]
// Prints "percent  ms  function  file:line"; "(idle)", "(program)" and "(garbage collector)" are V8's own buckets.
import { readFileSync } from 'node:fs';

const [file, top = '25'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const us = dt[i] ?? 0;
  total += us;
  const cf = node.callFrame;
  const where = cf.url ? `${cf.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
  const key = `${cf.functionName || '(anonymous)'}\t${where}`;
  self.set(key, (self.get(key) ?? 0) + us);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(top));
console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
for (const [key, us] of rows) {
  const [fn, where] = key.split('\t');
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${fn}  ${where}`);
}
