import { loadConfig } from './config/load.js';
import { simEpisodes } from './reward/grm-tiny/sim-data.js';
const config = loadConfig(undefined);
for (const task of ['push-cube', 'pick-place']) {
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  for await (const e of simEpisodes({ config, task, count: 2, seed: 1, noise: () => 0.2 })) {
    console.log(task, e.episode.frameCount, e.success, e.episode.segments.length, ((performance.now() - t) / 1000).toFixed(1), 's', (process.cpuUsage(cpu0).user / 1e6).toFixed(1));
  }
}
