import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describeValue, InputError } from '../../common/errors.js';
import type { Config } from '../../config/schema.js';
import { resolveEpisodeDir } from '../../reward/episode-folder.js';
import { writeEpisodeMcap, type ImageTransport } from '../../reward/mcap-export.js';
import { mcapFileOf, openEpisode } from '../../reward/open-episode.js';
import { action, withCommonOptions } from '../command.js';

interface ExportFlags {
  out?: string;
  transport?: string;
  jpegQuality?: string;
}

/**
 * Joint positions per frame from a simulator recording's states.jsonl (one line per frame), named
 * by robot.ros2.jointNames when the count matches, else joint_1..n.
 */
function readStates(episodeDir: string, frameCount: number, config: Config): { names: string[]; positions: number[][] } | undefined {
  const file = join(episodeDir, 'states.jsonl');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const positions = lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InputError(file, `line ${i + 1}: expected JSON, got ${describeValue(line)}`);
    }
    const joints = (value as { jointPositions?: unknown }).jointPositions;
    if (!Array.isArray(joints) || !joints.every((x) => typeof x === 'number')) throw new InputError(file, `line ${i + 1}: expected jointPositions as a list of numbers`);
    return joints as number[];
  });
  if (positions.length !== frameCount) throw new InputError(file, `expected one line per frame (${frameCount}), got ${positions.length}`);
  const count = positions[0]?.length ?? 0;
  const configured = config.robot.ros2.jointNames;
  const names = configured?.length === count ? configured : Array.from({ length: count }, (_, i) => `joint_${i + 1}`);
  return { names, positions };
}

export function registerMcap(program: Command): void {
  const mcap = program.command('mcap').description('recorded ROS 2 data in MCAP: export episodes for Foxglove and ros2 bag');
  const exportCommand = mcap
    .command('export')
    .description('write an episode (reference layout, or another MCAP) as a ROS 2 MCAP file (Image/CompressedImage, JointState, /keyframe markers)')
    .argument('<episode-dir>', 'an episode_* folder, a root holding exactly one, or an .mcap file')
    .option('--out <file.mcap>', 'the MCAP file to write (required)')
    .option('--transport <kind>', 'jpeg or png (sensor_msgs/CompressedImage), or raw (sensor_msgs/Image rgb8, uncompressed pixels)', 'jpeg')
    .option('--jpeg-quality <q>', 'JPEG quality 1..100', '90');
  withCommonOptions(exportCommand).action(
    action('mcap', async (context, input: string, flags: ExportFlags) => {
      if (flags.out === undefined) throw new InputError('--out', 'expected the MCAP file to write, got nothing');
      if (!flags.out.toLowerCase().endsWith('.mcap')) throw new InputError('--out', `expected a file name ending in .mcap, got ${describeValue(flags.out)}`);
      const out = resolve(flags.out);
      if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new InputError('--out', `expected an existing folder for ${flags.out}`);
      const transport = flags.transport ?? 'jpeg';
      if (!['raw', 'jpeg', 'png'].includes(transport)) throw new InputError('--transport', `expected raw, jpeg or png, got ${describeValue(transport)}`);
      const quality = Number(flags.jpegQuality ?? '90');
      if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new InputError('--jpeg-quality', `expected an integer 1..100, got ${describeValue(flags.jpegQuality)}`);
      const episode = await openEpisode(input, context.config, { log: context.log });
      try {
        if (mcapFileOf(input) !== undefined && resolve(mcapFileOf(input)!) === out) throw new InputError('--out', 'expected a file other than the input');
        const jointStates = episode.format === 'folder' ? readStates(resolveEpisodeDir(input), episode.frameCount, context.config) : undefined;
        const result = await writeEpisodeMcap(episode, out, {
          views: context.config.cameras.views,
          imageTopic: context.config.robot.ros2.imageTopic,
          transport: transport as ImageTransport,
          jpegQuality: quality,
          ...(jointStates === undefined ? {} : { jointStates }),
        });
        context.report(result, () =>
          [
            `${out}: ${result.frames} frames, ${result.messages} messages, ${(result.bytes / 1024).toFixed(0)} KiB`,
            ...result.topics.map((t) => `  ${t.topic.padEnd(44)} ${t.type.padEnd(34)} ${t.messages}`),
          ].join('\n'),
        );
      } finally {
        await episode.close();
      }
    }),
  );
  mcap.exitOverride();
  exportCommand.exitOverride();
}
