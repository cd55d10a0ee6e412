// Preloaded into `tapnet up` by bench/status-page.sh (node --import): samples the event loop's delay with
// perf_hooks.monitorEventLoopDelay (10 ms resolution) and writes p50/p99/max in ms to $ELD_OUT at exit.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const ms = (ns) => (ns / 1e6).toFixed(1);
process.on('exit', () => {
  h.disable();
  if (process.env.ELD_OUT) writeFileSync(process.env.ELD_OUT, `p50 ${ms(h.percentile(50))} p99 ${ms(h.percentile(99))} max ${ms(h.max)}\n`);
});
