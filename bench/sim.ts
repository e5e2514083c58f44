/**
 * Simulator benchmark: physics rate (ours vs raw mujoco-js mj_step), time to render the three
 * camera views, wall time of a 100-step episode with rendering at the control rate, and the
 * scripted expert's success rates (50 seeded episodes per task, clean and at high noise).
 * Writes bench/results/sim.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { configSchema } from '../config/schema.js';
import { evaluateExpert } from '../robot/sim/evaluate.js';
import { SimRobot } from '../robot/sim/robot.js';
import { SIM_TASKS } from '../robot/sim/tasks.js';

const config = configSchema.parse({});
const EPISODES = Number(process.env.BENCH_SIM_EPISODES ?? 50);
const HIGH_NOISE = 1;
const MEDIUM_NOISE = 0.5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function physics(): Promise<{ oursStepsPerS: number; rawStepsPerS: number }> {
  const robot = await SimRobot.create(config, { task: 'push-cube', render: false });
  await robot.reset(0);
  const { mujoco, model, data } = robot.world;
  // Warm up (wasm tier-up), then alternate the two so both see the same machine load.
  for (let i = 0; i < 5000; i++) mujoco.mj_step(model, data);
  const rawRuns: number[] = [];
  const oursRuns: number[] = [];
  for (let r = 0; r < 7; r++) {
    // Peer: mujoco-js mj_step in a bare loop, same scene, arm holding still.
    let t = performance.now();
    for (let i = 0; i < 2000; i++) mujoco.mj_step(model, data);
    rawRuns.push(2000 / ((performance.now() - t) / 1000));
    // Ours: control steps through the Robot interface (checking, bounding, servo ramps), no cameras.
    await robot.reset(r);
    t = performance.now();
    for (let i = 0; i < 40; i++) await robot.act({ dx: 0.02 * Math.sin(i / 3), dy: 0.02 * Math.cos(i / 4), dz: 0, dyaw: 0.05, gripper: i % 20 > 10 ? 1 : 0 });
    oursRuns.push((40 * robot.world.substeps) / ((performance.now() - t) / 1000));
  }
  await robot.close();
  return { oursStepsPerS: median(oursRuns), rawStepsPerS: median(rawRuns) };
}

async function rendering(): Promise<{
  threeViewsMs: number;
  threeViewsCpuMs: number;
  perCameraMs: Record<string, number>;
  episode100StepsS: number;
  episode100StepsCpuS: number;
}> {
  const robot = await SimRobot.create(config, { task: 'pick-place' });
  await robot.reset(0);
  const renderer = (robot as unknown as { renderer: { render(d: unknown, cam: number): unknown } }).renderer;
  const perCamera: Record<string, number[]> = {};
  const three: number[] = [];
  for (let r = 0; r < 5; r++) for (const camera of robot.cameras) renderer.render(robot.world.data, camera.camId);
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < 30; r++) {
    const t0 = performance.now();
    for (const camera of robot.cameras) {
      const t = performance.now();
      renderer.render(robot.world.data, camera.camId);
      (perCamera[camera.camera] ??= []).push(performance.now() - t);
    }
    three.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const threeViewsCpuMs = (cpu.user + cpu.system) / 1000 / 30;
  const episodes: number[] = [];
  const episodesCpu: number[] = [];
  for (let r = 0; r < 3; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await robot.reset(r);
    for (let i = 0; i < 100; i++) await robot.act({ dx: 0.02 * Math.sin(i / 5), dy: 0.02 * Math.cos(i / 7), dz: 0.01 * Math.sin(i / 3), dyaw: 0.05, gripper: i % 30 > 15 ? 1 : 0 });
    episodes.push((performance.now() - t) / 1000);
    const used = process.cpuUsage(c);
    episodesCpu.push((used.user + used.system) / 1e6);
  }
  await robot.close();
  return {
    threeViewsMs: median(three),
    threeViewsCpuMs,
    perCameraMs: Object.fromEntries(Object.entries(perCamera).map(([k, v]) => [k, median(v)])),
    episode100StepsS: median(episodes),
    episode100StepsCpuS: median(episodesCpu),
  };
}

const started = Date.now();
const phys = await physics();
console.log(`physics: ours ${phys.oursStepsPerS.toFixed(0)} steps/s, raw mujoco-js ${phys.rawStepsPerS.toFixed(0)} steps/s`);
const render = await rendering();
console.log(
  `three views ${config.cameras.width}x${config.cameras.height}: ${render.threeViewsMs.toFixed(2)} ms wall (${render.threeViewsCpuMs.toFixed(2)} ms CPU); ` +
    `100-step episode with rendering: ${render.episode100StepsS.toFixed(2)} s wall (${render.episode100StepsCpuS.toFixed(2)} s CPU)`,
);
const expert: Array<{ task: string; heldOut: boolean; clean: number; mediumNoise: number; highNoise: number; cleanMeanSteps: number }> = [];
for (const task of SIM_TASKS) {
  const clean = await evaluateExpert(config, { task: task.name, episodes: EPISODES, noise: 0, seed: 0 });
  const medium = await evaluateExpert(config, { task: task.name, episodes: EPISODES, noise: MEDIUM_NOISE, seed: 0 });
  const noisy = await evaluateExpert(config, { task: task.name, episodes: EPISODES, noise: HIGH_NOISE, seed: 0 });
  expert.push({
    task: task.name,
    heldOut: task.heldOut,
    clean: clean.successRate,
    mediumNoise: medium.successRate,
    highNoise: noisy.successRate,
    cleanMeanSteps: clean.meanSteps,
  });
  console.log(
    `expert ${task.name}: clean ${(100 * clean.successRate).toFixed(0)}%, noise ${MEDIUM_NOISE} ${(100 * medium.successRate).toFixed(0)}%, ` +
      `noise ${HIGH_NOISE} ${(100 * noisy.successRate).toFixed(0)}% (${EPISODES} episodes each)`,
  );
}

const result = {
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    date: new Date().toISOString(),
    // The machine is shared: wall times grow with the load, CPU times much less.
    loadAverage1m: loadavg()[0],
  },
  settings: { controlHz: config.robot.controlHz, physicsStepS: config.robot.sim.physicsStepS, width: config.cameras.width, height: config.cameras.height, expertEpisodes: EPISODES, mediumNoise: MEDIUM_NOISE, highNoise: HIGH_NOISE },
  physics: { ...phys, peer: 'raw mujoco-js mj_step loop on the same scene (no wrapper)' },
  rendering: render,
  expert,
  goals: { physicsStepsPerS: 2000, threeViewsMs: 10, episode100StepsS: 2, cleanSuccess: 0.95 },
  wallS: (Date.now() - started) / 1000,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/sim.json', `${JSON.stringify(result, null, 2)}\n`);
console.log('wrote bench/results/sim.json');
