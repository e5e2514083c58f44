/**
 * `dopamine sim`: the embedded simulator's tasks, expert demos and camera snapshots.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { action, withCommonOptions } from '../command.js';
import { evaluateExpert, type ExpertReport } from '../../robot/sim/evaluate.js';
import { recordEpisodes } from '../../robot/sim/record.js';
import { requireTask, SimRobot } from '../../robot/sim/robot.js';
import { framesSideBySide } from '../../robot/sim/snapshot.js';
import { SIM_TASKS } from '../../robot/sim/tasks.js';

function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InputError(flag, `expected a whole number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function noiseLevel(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InputError('--noise', `expected a number in [0, 1], got ${JSON.stringify(value)}`);
  return n;
}

interface TaskOption {
  task?: string;
}
interface RecordOptions extends TaskOption {
  episodes?: string;
  noise?: string;
  seed?: string;
  out?: string;
  overwrite?: boolean;
  append?: boolean;
  width?: string;
  height?: string;
}

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('the embedded MuJoCo robot: tasks, scripted expert demos, camera snapshots');

  withCommonOptions(sim.command('tasks').description('list the simulator tasks')).action(
    action('sim', (context) => {
      const tasks = SIM_TASKS.map((task) => ({
        name: task.name,
        description: task.description,
        instruction: task.instructions[0],
        instructions: task.instructions,
        heldOut: task.heldOut,
        timeLimitS: task.timeLimitS,
        phases: task.phaseNames,
      }));
      context.report({ tasks }, () =>
        tasks.map((t) => `${t.name.padEnd(14)} ${t.heldOut ? '(held out) ' : ''}${t.description}; phases: ${t.phases.join(' > ')}`).join('\n'),
      );
    }),
  );

  withCommonOptions(
    sim
      .command('record')
      .description('record scripted expert episodes in the reference layout (mp4 per camera, keyframes, instructions)')
      .option('--task <name>', 'task (default: robot.task)')
      .option('--episodes <n>', 'episodes to record', '1')
      .option('--noise <level>', 'expert noise in [0, 1]: 0 clean demos, 1 mostly failures', '0')
      .option('--seed <s>', 'seed of the first episode; episode i uses seed + i (default: robot.sim.seed)')
      .option('--out <dir>', 'output folder (task_instruction.json and episode_NNNNNN/)')
      .option('--overwrite', 'replace the episodes already in --out')
      .option('--append', 'add episodes after those already in --out (same task)')
      .option('--width <px>', 'image width (default: cameras.width)')
      .option('--height <px>', 'image height (default: cameras.height)'),
  ).action(
    action('sim', async (context, options: RecordOptions) => {
      if (options.out === undefined) throw new InputError('--out', 'expected an output folder, got nothing');
      if (options.overwrite === true && options.append === true) throw new InputError('--overwrite', 'expected either --overwrite or --append, got both');
      const task = requireTask(options.task ?? context.config.robot.task, '--task');
      const width = integer('--width', options.width, 2);
      const height = integer('--height', options.height, 2);
      const episodes = await recordEpisodes({
        config: context.config,
        task: task.name,
        episodes: integer('--episodes', options.episodes, 1) ?? 1,
        noise: noiseLevel(options.noise),
        seed: integer('--seed', options.seed, 0) ?? context.config.robot.sim.seed,
        out: options.out,
        existing: options.overwrite === true ? 'overwrite' : options.append === true ? 'append' : 'refuse',
        ...(width !== undefined ? { width } : {}),
        ...(height !== undefined ? { height } : {}),
        log: context.log,
      });
      const successes = episodes.filter((e) => e.success).length;
      context.report(
        { task: task.name, out: options.out, episodes, successes, successRate: successes / episodes.length },
        `${episodes.length} episodes of ${task.name} in ${options.out}, ${successes} successful`,
      );
    }),
  );

  withCommonOptions(
    sim
      .command('expert')
      .description("the scripted expert's success rate over seeded episodes (no cameras)")
      .option('--task <name>', 'task (default: robot.task)')
      .option('--episodes <n>', 'episodes', '50')
      .option('--noise <level>', 'expert noise in [0, 1]', '0')
      .option('--seed <s>', 'seed of the first episode; episode i uses seed + i (default: robot.sim.seed)'),
  ).action(
    action('sim', async (context, options: RecordOptions) => {
      const task = requireTask(options.task ?? context.config.robot.task, '--task');
      const report = await evaluateExpert(context.config, {
        task: task.name,
        episodes: integer('--episodes', options.episodes, 1) ?? 50,
        noise: noiseLevel(options.noise),
        seed: integer('--seed', options.seed, 0) ?? context.config.robot.sim.seed,
      });
      context.report(report, (r) => {
        const e = r as ExpertReport;
        return `${e.task}: ${e.successes}/${e.episodes} successful (${(100 * e.successRate).toFixed(1)}%) at noise ${e.noise}, mean ${e.meanSteps.toFixed(1)} steps`;
      });
    }),
  );

  withCommonOptions(
    sim
      .command('snapshot')
      .description('write the three camera views of a task, side by side, as a PNG')
      .option('--task <name>', 'task (default: robot.task)')
      .option('--out <file>', 'PNG file to write', 'views.png')
      .option('--seed <s>', 'seed of the scene (default: robot.sim.seed)')
      .option('--width <px>', 'image width (default: cameras.width)')
      .option('--height <px>', 'image height (default: cameras.height)'),
  ).action(
    action('sim', async (context, options: RecordOptions) => {
      const task = requireTask(options.task ?? context.config.robot.task, '--task');
      const width = integer('--width', options.width, 2);
      const height = integer('--height', options.height, 2);
      const seed = integer('--seed', options.seed, 0) ?? context.config.robot.sim.seed;
      const robot = await SimRobot.create(context.config, {
        task: task.name,
        ...(width !== undefined ? { width } : {}),
        ...(height !== undefined ? { height } : {}),
      });
      try {
        const observation = await robot.reset(seed);
        const out = options.out ?? 'views.png';
        writeFileSync(out, await framesSideBySide(observation.frames));
        const views = observation.frames.map((f) => ({ role: f.role, camera: f.camera, width: f.width, height: f.height }));
        context.report({ task: task.name, out, views }, `${out}: ${views.map((v) => v.camera).join(', ')} of ${task.name}`);
      } finally {
        await robot.close();
      }
    }),
  );
}
