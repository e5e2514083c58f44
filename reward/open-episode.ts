/**
 * One way for every episode command to open its input: an episode folder in the reference
 * layout, a rosbag2 MCAP file, or a bag folder holding one .mcap file. Commands call this and
 * need no per-format code.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import type { Episode } from './episode.js';
import { openEpisodeFolder, type OpenEpisodeOptions } from './episode-folder.js';
import { isMcapPath, openEpisodeMcap } from './episode-mcap.js';
import type { CameraRole } from '../robot/types.js';

export type OpenedEpisode = Episode & { source(role: CameraRole): string; readonly format: 'folder' | 'mcap' };

/** The .mcap file a path stands for: the file itself, or the only .mcap of a rosbag2 folder without camera files. */
export function mcapFileOf(path: string): string | undefined {
  if (isMcapPath(path)) return path;
  if (!existsSync(path) || !statSync(path).isDirectory()) return undefined;
  const names = readdirSync(path);
  const mcaps = names.filter((n) => isMcapPath(n));
  const hasCameras = names.some((n) => /\.(mp4|mkv|mov|avi|webm)$/i.test(n) || n.startsWith('episode_'));
  return mcaps.length === 1 && !hasCameras && existsSync(join(path, 'metadata.yaml')) ? join(path, mcaps[0]!) : undefined;
}

function pathKind(path: string): 'folder' | 'file' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'folder' : 'file';
  } catch {
    return 'missing';
  }
}

/**
 * The path check openEpisode makes before it reads anything (a folder, or an MCAP file or rosbag2
 * folder), for commands that check every argument before they load a model. Checked here, where
 * every accepted form is known, so the message lists them all.
 */
export function checkEpisodePath(pathOrMcap: string): void {
  if (mcapFileOf(pathOrMcap) !== undefined) return;
  const kind = pathKind(pathOrMcap);
  if (kind !== 'folder') {
    throw new InputError(pathOrMcap, `expected an episode folder, a root holding one episode_* folder, or an .mcap file, got ${kind === 'missing' ? 'no such file or folder' : 'a file that is not .mcap'}`);
  }
}

export async function openEpisode(pathOrMcap: string, config: Config, options: Omit<OpenEpisodeOptions, 'views'> & { log?: Logger } = {}): Promise<OpenedEpisode> {
  const mcap = mcapFileOf(pathOrMcap);
  if (mcap !== undefined) {
    const episode = await openEpisodeMcap(mcap, { ...options, views: config.cameras.views, imageTopic: config.robot.ros2.imageTopic, sync: config.cameras.sync });
    return Object.assign(episode, { format: 'mcap' as const });
  }
  checkEpisodePath(pathOrMcap);
  const episode = await openEpisodeFolder(pathOrMcap, { ...options, views: config.cameras.views });
  return Object.assign(episode, { format: 'folder' as const });
}
