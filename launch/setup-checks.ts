/**
 * The checks `dopamine doctor` runs on a configured set-up before a lab starts it: Node.js,
 * ffmpeg, the reward model and policy encoder files, the ports `serve` listens on, the run folder
 * and the servers it talks to. Each says what it found in one line; a failed required check is a
 * reason `serve` would stop, phrased as its error would be (`<key>: expected ..., got ...`).
 * Nothing is started or written: ports are bound for a moment and closed, folders only asked.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, relative, resolve } from 'node:path';
import { describeValue, isInputError } from '../common/errors.js';
import { checkListen } from '../common/net.js';
import type { Config } from '../config/schema.js';
import { urlWithoutCredentials } from '../config/secrets.js';
import { DEFAULT_POLICY_ENCODER } from '../perception/policy-encoder/paths.js';
import { readContract } from '../reward/grm-contract.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { readReferences } from '../reward/task-references.js';
import { ffmpegPath, ffprobePath } from '../reward/video.js';

export interface SetupCheck {
  /** The configuration key or the tool it is about. */
  name: string;
  ok: boolean;
  /** The configured set-up needs it: a failed required check means it cannot run. */
  required: boolean;
  detail: string;
}

/** A path as the user would write it: relative to the working folder when inside it. */
export function shown(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, resolve(path));
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/') ? rel : path;
}

/** `>=20.19` -> [20, 19]; null for ranges it does not read. */
export function minimumNode(range: string): [number, number] | null {
  const match = /^\s*>=\s*(\d+)(?:\.(\d+))?/.exec(range);
  return match ? [Number(match[1]), Number(match[2] ?? 0)] : null;
}

/** Node.js against the package's `engines.node`. */
export function nodeCheck(version: string = process.version, range: string = packageEngines()): SetupCheck {
  const minimum = minimumNode(range);
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = minimum === null || major > minimum[0] || (major === minimum[0] && minor >= minimum[1]);
  return { name: 'node', ok, required: true, detail: ok ? `${version} (the package needs ${range})` : `expected Node.js ${range}, got ${version}` };
}

function packageEngines(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines?: { node?: string } };
  return pkg.engines?.node ?? '(any)';
}

/** The first line of `<program> -version`, or null when it does not run. */
function toolVersion(program: string): Promise<string | null> {
  return new Promise((done) => {
    execFile(program, ['-version'], { encoding: 'utf8', timeout: 5000 }, (error, stdout) => {
      done(error ? null : (stdout.split('\n')[0] ?? '').replace(/\s+Copyright.*$/, '').trim());
    });
  });
}

/** ffmpeg and ffprobe: episode videos need them (score, adapt, labels, sim record); `serve` does not. */
export async function ffmpegCheck(): Promise<SetupCheck> {
  // Each takes a few hundred ms to load its libraries: asked side by side.
  const [ffmpeg, ffprobe] = await Promise.all([toolVersion(ffmpegPath()), toolVersion(ffprobePath())]);
  const ok = ffmpeg !== null && ffprobe !== null;
  const missing = [ffmpeg === null ? ffmpegPath() : null, ffprobe === null ? ffprobePath() : null].filter((p) => p !== null);
  const detail = ok
    ? `${ffmpeg}, with ffprobe (episode videos: score, adapt, labels, sim record)`
    : `${missing.join(' and ')} not found: score, adapt, labels and sim record need them (apt-get install ffmpeg, or DOPAMINE_FFMPEG / DOPAMINE_FFPROBE)`;
  return { name: 'ffmpeg', ok, required: false, detail };
}

export interface RewardModelInfo {
  backend: 'onnx' | 'openai';
  /** The model file or the server's URL (without credentials). */
  where: string;
  /** An adapted model carries task references beside it (model.task/). */
  adapted: boolean;
  /** The adapted model's instruction and the demo its references come from. */
  task: { instruction: string; source: string } | null;
}

/** The reward model `serve` would load (reward.model, else the shipped GRM-tiny) and whether it can. */
export async function rewardModelCheck(config: Config, reachable: (url: string) => Promise<string | null> = tcpReachable): Promise<{ check: SetupCheck; model: RewardModelInfo }> {
  const reward = config.reward;
  if (reward.backend === 'openai') {
    const where = urlWithoutCredentials(reward.openai.url);
    const model: RewardModelInfo = { backend: 'openai', where, adapted: false, task: null };
    const problem = await reachable(reward.openai.url);
    const detail = problem === null ? `${reward.openai.model} behind ${where} (the server accepts connections)` : `expected an OpenAI-compatible server at ${where}, got ${problem}`;
    return { check: { name: 'reward.openai.url', ok: problem === null, required: true, detail }, model };
  }
  const file = reward.model ?? DEFAULT_GRM_TINY;
  const model: RewardModelInfo = { backend: 'onnx', where: shown(file), adapted: false, task: null };
  const fail = (detail: string): { check: SetupCheck; model: RewardModelInfo } => ({ check: { name: 'reward.model', ok: false, required: true, detail }, model });
  if (!existsSync(file)) return fail(`expected an ONNX reward model file, got ${describeValue(file)} (no such file)`);
  let summary: string;
  let references: ReturnType<typeof readReferences>;
  try {
    const contract = readContract(readFileSync(file), shown(file));
    summary = `${shown(file)}: GRM contract, ${contract.width}x${contract.height} views, batch ${contract.batch}`;
    references = readReferences(file);
  } catch (error) {
    if (!isInputError(error)) throw error;
    return fail(`expected a reward model following docs/grm-contract.md, got ${error.message}`);
  }
  if (references) {
    model.adapted = true;
    model.task = { instruction: references.info.instructions[0]!, source: references.info.source };
    return { check: { name: 'reward.model', ok: true, required: true, detail: `${summary}; adapted for "${model.task.instruction}" (from ${model.task.source})` }, model };
  }
  // A lab arm has no simulator to take the goal from: serve refuses a model without references there.
  if (config.robot.backend !== 'sim') {
    return fail(`expected an adapted model with task references on a lab arm (dopamine adapt <demo> --out m.onnx), got ${shown(file)} without references`);
  }
  return { check: { name: 'reward.model', ok: true, required: true, detail: `${summary}; not adapted: told the simulator task ${config.robot.task}'s instruction and goal` }, model };
}

/** The policy's frozen image encoder file (policy.encoder.model, else the shipped one). */
export function encoderCheck(config: Config): SetupCheck {
  const file = config.policy.encoder.model ?? DEFAULT_POLICY_ENCODER;
  const ok = existsSync(file);
  return { name: 'policy.encoder.model', ok, required: true, detail: ok ? shown(file) : `expected an ONNX image encoder file, got ${describeValue(file)} (no such file)` };
}

/** Binds host:port for a moment, as `serve` will; the check is named after the key at fault. */
export async function portCheck(host: string, port: number, key: string): Promise<SetupCheck> {
  if (port === 0) return { name: key, ok: true, required: true, detail: `0 on ${host}: any free port` };
  try {
    await checkListen(host, port, key, 'dashboard.host');
    return { name: key, ok: true, required: true, detail: `${port} on ${host} is free` };
  } catch (error) {
    if (!isInputError(error)) throw error;
    return { name: error.input, ok: false, required: true, detail: error.message.slice(error.input.length + 2) };
  }
}

/**
 * The run folder: writable, or not there yet under a writable folder (serve creates it). Asked
 * with access(2), which also reports a read-only file system; nothing is written.
 */
export function runFolderCheck(dir: string, key = 'policy.runDir'): SetupCheck {
  const fail = (detail: string): SetupCheck => ({ name: key, ok: false, required: true, detail });
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!statSync(existing).isDirectory()) return fail(`expected a folder, got ${describeValue(dir)} (${shown(existing)} is a file)`);
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (error) {
    return fail(`expected a folder this user can write, got ${describeValue(dir)} (${shown(existing)}: ${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const created = existing === resolve(dir) ? 'writable' : `not there yet; ${shown(existing)} is writable, serve creates it`;
  return { name: key, ok: true, required: true, detail: `${shown(dir)}: ${created}` };
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };

/** Opens and closes a TCP connection to the URL's host and port: null when it connects, else why not. */
export function tcpReachable(url: string, timeoutMs = 2000): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve('no URL');
  }
  const port = parsed.port === '' ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  if (port === undefined) return Promise.resolve(`a URL scheme without a known port (${parsed.protocol})`);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (problem: string | null): void => {
      socket.destroy();
      done(problem);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => finish(null));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(`${error.code ?? error.message} connecting to ${host}:${port}`));
  });
}

/** The MQTT broker (when telemetry is on): serve starts without it, but without the remote e-stop. */
export async function mqttCheck(config: Config, reachable: (url: string) => Promise<string | null> = tcpReachable): Promise<SetupCheck | null> {
  if (!config.mqtt.enabled) return null;
  const where = urlWithoutCredentials(config.mqtt.url);
  const problem = await reachable(config.mqtt.url);
  const detail = problem === null ? `broker at ${where} accepts connections` : `broker at ${where} not reachable (${problem}): serve would start without the remote e-stop`;
  return { name: 'mqtt.url', ok: problem === null, required: false, detail };
}

/**
 * policy.serve.learner (a learner process): its token must be there and its address must accept
 * connections, or `serve` stops at its start. Nothing is sent: the token is only read.
 */
export async function learnerCheck(config: Config, reachable: (url: string) => Promise<string | null> = tcpReachable): Promise<SetupCheck | null> {
  const learner = config.policy.serve.learner;
  if (!learner) return null;
  const name = 'policy.serve.learner';
  let token: string;
  if (learner.tokenFile !== undefined) {
    try {
      token = readFileSync(learner.tokenFile, 'utf8').trim();
    } catch (error) {
      return { name, ok: false, required: true, detail: `token file ${shown(learner.tokenFile)} not readable (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})` };
    }
  } else {
    token = process.env[learner.tokenEnv]?.trim() ?? '';
  }
  if (token === '') return { name, ok: false, required: true, detail: `no token: ${learner.tokenFile !== undefined ? `${shown(learner.tokenFile)} is empty` : `${learner.tokenEnv} is not set`}` };
  const problem = await reachable(`grpc://${learner.address}`);
  const tls = learner.ca !== undefined ? 'TLS' : 'no TLS';
  return problem === null
    ? { name, ok: true, required: true, detail: `learner at ${learner.address} accepts connections (${tls}; token present)` }
    : { name, ok: false, required: true, detail: `learner at ${learner.address} not reachable (${problem}): start \`dopamine rl-learner\` there first` };
}
