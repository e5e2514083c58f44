/**
 * The Dockerfile, read here since no Docker engine (nor hadolint) runs on these machines: its
 * stages parse, the bases are what the lab image needs (CUDA 12 + cuDNN 9 runtime on Ubuntu 24.04
 * for gpu, Ubuntu 24.04 for cpu), and the rules hadolint would apply to this file hold.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { BRIDGE_TYPES } from '../cli/commands/ros2.js';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  base: string;
  name: string;
  instructions: Instruction[];
}

interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

const KEYWORDS = ['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'];

/** Instructions with continuation lines joined and comments dropped; throws on what Docker would refuse. */
function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) return;
    if (pending === null && line.trim() === '') return;
    const continued = /\\\s*$/.test(line);
    const body = continued ? line.replace(/\\\s*$/, '') : line;
    pending = pending === null ? { text: body, line: index + 1 } : { text: `${pending.text} ${body.trim()}`, line: pending.line };
    if (continued) return;
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(pending.text);
    if (!match) throw new Error(`line ${pending.line}: expected an instruction, got ${JSON.stringify(pending.text.trim())}`);
    const keyword = match[1]!.toUpperCase();
    if (!KEYWORDS.includes(keyword)) throw new Error(`line ${pending.line}: unknown instruction ${match[1]}`);
    instructions.push({ keyword, args: match[2]!.trim(), line: pending.line });
    pending = null;
  });
  if (pending !== null) throw new Error('the file ends inside a continued line');

  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!from) throw new Error(`line ${instruction.line}: expected FROM <image> [AS <name>], got ${instruction.args}`);
      const name = from[2] ?? String(stages.length);
      if (stages.some((s) => s.name === name)) throw new Error(`line ${instruction.line}: stage ${name} named twice`);
      stages.push({ base: from[1]!, name, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: only ARG may come before the first FROM, got ${instruction.keyword}`);
      const [key, value] = instruction.args.split(/=(.*)/s);
      globalArgs.set(key!, value);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** A FROM's base with global ARGs substituted. */
function resolveBase(file: Dockerfile, base: string): string {
  return base.replace(/\$\{?(\w+)\}?/g, (_, name: string) => file.globalArgs.get(name) ?? `<unset ${name}>`);
}

/** The rules hadolint applies that matter for this file, one line per break. */
function lintDockerfile(file: Dockerfile): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const stage of file.stages) {
    const base = resolveBase(file, stage.base);
    if (!names.has(base)) {
      // DL3006 / DL3007: an image with an explicit tag, not latest.
      if (!/^[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?$/.test(base) || /:latest$/.test(base)) problems.push(`${stage.name}: FROM ${base}: expected an image with an explicit tag (not latest)`);
    }
    let pipefail = false;
    for (const { keyword, args, line } of stage.instructions) {
      const at = `${stage.name}, line ${line}`;
      if (keyword === 'SHELL') pipefail = /pipefail/.test(args);
      if (keyword === 'COPY' || keyword === 'ADD') {
        const from = /--from=(\S+)/.exec(args)?.[1];
        if (from !== undefined && !names.has(from)) problems.push(`${at}: COPY --from=${from}: expected an earlier stage`);
      }
      if (keyword === 'WORKDIR' && !args.startsWith('/') && !args.startsWith('$')) problems.push(`${at}: WORKDIR ${args}: expected an absolute path (DL3000)`);
      if ((keyword === 'ENTRYPOINT' || keyword === 'CMD') && !isJsonArray(args)) problems.push(`${at}: ${keyword}: expected the JSON (exec) form (DL3025)`);
      if (keyword !== 'RUN') continue;
      if (/\bsudo\b/.test(args)) problems.push(`${at}: sudo in RUN (DL3004)`);
      if (/(^|[;&|]\s*)apt\s/.test(args)) problems.push(`${at}: apt instead of apt-get (DL3027)`);
      if (/apt-get install/.test(args)) {
        for (const install of args.split(/apt-get install/).slice(1)) {
          const options = install.split('&&')[0]!;
          if (!/(^|\s)-y(\s|$)|--yes/.test(options)) problems.push(`${at}: apt-get install without -y (DL3014)`);
          if (!/--no-install-recommends/.test(options)) problems.push(`${at}: apt-get install without --no-install-recommends (DL3015)`);
        }
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(args)) problems.push(`${at}: apt lists kept in the layer (DL3009)`);
      }
      if (/[^|]\|[^|]/.test(args) && !pipefail) problems.push(`${at}: a pipe without SHELL pipefail (DL4006)`);
    }
    names.add(stage.name);
  }
  return problems;
}

function isJsonArray(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === 'string');
  } catch {
    return false;
  }
}

const root = new URL('../', import.meta.url);
const dockerfile = parseDockerfile(readFileSync(new URL('Dockerfile', root), 'utf8'));
const stage = (name: string): Stage => {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
};
const all = (s: Stage, keyword: string): string[] => s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (s: Stage, keyword: string): string | undefined => all(s, keyword).at(-1);
/** The stage and every stage it is built FROM, nearest first. */
function lineage(name: string): Stage[] {
  const chain = [stage(name)];
  while (dockerfile.stages.some((s) => s.name === chain.at(-1)!.base)) chain.push(stage(chain.at(-1)!.base));
  return chain;
}

describe('the lint on a Dockerfile with mistakes', () => {
  it('names each one', () => {
    const bad = parseDockerfile(
      ['FROM ubuntu AS a', 'RUN apt-get update && apt-get install curl | tee log', 'WORKDIR app', 'COPY --from=later /x /x', 'CMD node x.js', 'FROM node:latest AS b'].join('\n'),
    );
    const problems = lintDockerfile(bad);
    expect(problems).toEqual([
      'a: FROM ubuntu: expected an image with an explicit tag (not latest)',
      'a, line 2: apt-get install without -y (DL3014)',
      'a, line 2: apt-get install without --no-install-recommends (DL3015)',
      'a, line 2: apt lists kept in the layer (DL3009)',
      'a, line 2: a pipe without SHELL pipefail (DL4006)',
      'a, line 3: WORKDIR app: expected an absolute path (DL3000)',
      'a, line 4: COPY --from=later: expected an earlier stage',
      'a, line 5: CMD: expected the JSON (exec) form (DL3025)',
      'b: FROM node:latest: expected an image with an explicit tag (not latest)',
    ]);
    expect(() => parseDockerfile('FROM a:1\nBUILD x')).toThrow(/unknown instruction BUILD/);
    expect(() => parseDockerfile('FROM a:1\nRUN x \\')).toThrow(/continued line/);
    expect(() => parseDockerfile('FROM a:1 AS x\nFROM b:1 AS x')).toThrow(/named twice/);
  });
});

describe('Dockerfile', () => {
  it('parses and passes the lint', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['cpu-system', 'gpu-system', 'build', 'cuda-provider', 'cpu', 'gpu']);
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  it('builds gpu by default on a CUDA 12 + cuDNN 9 runtime image for Ubuntu 24.04, cpu on Ubuntu 24.04', () => {
    expect(dockerfile.stages.at(-1)!.name).toBe('gpu');
    const gpuBase = resolveBase(dockerfile, lineage('gpu').at(-1)!.base);
    // NVIDIA's "cudnn" tags of CUDA 12 carry cuDNN 9 (those of cuDNN 8 said cudnn8); runtime, not devel.
    expect(gpuBase).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu24\.04$/);
    expect(resolveBase(dockerfile, lineage('cpu').at(-1)!.base)).toBe('ubuntu:24.04');
  });

  it('gives both targets the same system: ROS 2 Jazzy with every interface package the bridge uses, Node.js 20, ffmpeg', () => {
    const cpuSystem = stage('cpu-system').instructions.map(({ keyword, args }) => `${keyword} ${args}`);
    const gpuSystem = stage('gpu-system').instructions.map(({ keyword, args }) => `${keyword} ${args}`);
    expect(gpuSystem).toEqual(cpuSystem);
    const run = all(stage('cpu-system'), 'RUN').join(' ');
    expect(run).toMatch(/ros2-apt-source_\$\{ROS_APT_SOURCE_VERSION\}\.noble_all\.deb/);
    expect(run).toMatch(/sha256sum --strict --check/);
    expect(run).toContain('https://deb.nodesource.com/node_20.x');
    const installed = new Set(run.split(/\s+/));
    for (const pkg of ['nodejs', 'ffmpeg', 'ros-jazzy-ros-base']) expect(installed, pkg).toContain(pkg);
    for (const pkg of new Set(BRIDGE_TYPES.map((type) => type.split('/')[0]!))) expect(installed, pkg).toContain(`ros-jazzy-${pkg.replace(/_/g, '-')}`);
  });

  it('runs both targets as a non-root user, with the run folder as a volume and a dashboard health check', () => {
    const port = loadConfig().dashboard.port;
    for (const name of ['cpu', 'gpu']) {
      const target = stage(name);
      const user = last(target, 'USER');
      expect(user, name).toBe('dopamine');
      expect(all(lineage(name).at(-1)!, 'RUN').join(' ')).toMatch(/useradd --uid "\$\{DOPAMINE_UID\}" .*dopamine$/);
      expect(last(target, 'WORKDIR')).toBe('/app');
      expect(JSON.parse(last(target, 'VOLUME')!)).toEqual(['/app/runs']);
      // The run folder is policy.runDir's default, under the working folder.
      expect(loadConfig().policy.runDir.startsWith('runs/')).toBe(true);
      expect(all(target, 'RUN').join(' ')).toContain('chown dopamine:dopamine runs');
      expect(last(target, 'ENV')).toBe(`DOPAMINE_HEALTH_URL=http://127.0.0.1:${port}/`);
      expect(last(target, 'HEALTHCHECK')).toMatch(/^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD curl -fsSk -o \/dev\/null "\$DOPAMINE_HEALTH_URL" \|\| exit 1$/);
      const entrypoint = JSON.parse(last(target, 'ENTRYPOINT')!) as string[];
      expect(entrypoint[2]).toBe('source /opt/ros/jazzy/setup.bash && exec node /app/bin/dopamine.js "$@"');
      expect(existsSync(new URL('bin/dopamine.js', root))).toBe(true);
    }
  });

  it('installs the CUDA provider in gpu only, with the flag that overrides .npmrc', () => {
    expect(readFileSync(new URL('.npmrc', root), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
    const provider = all(stage('cuda-provider'), 'RUN').join(' ');
    expect(provider).toMatch(/npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12 /);
    expect(provider).toContain('test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so');
    expect(all(stage('gpu'), 'COPY')).toContain('--from=cuda-provider /app/node_modules ./node_modules');
    expect(all(stage('cpu'), 'COPY')).toContain('--from=build /app/node_modules ./node_modules');
    // Without --omit=dev, `npm install rclnodejs` would add every dev dependency back.
    for (const run of all(stage('build'), 'RUN').filter((r) => /npm (ci|install)/.test(r))) expect(run).toContain('--omit=dev');
    // The source copied over the image's node_modules would replace them.
    const ignored = readFileSync(new URL('.dockerignore', root), 'utf8').split('\n').map((l) => l.trim().replace(/\/$/, ''));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'runs']));
  });
});
