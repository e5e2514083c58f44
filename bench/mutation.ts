/**
 * Mutation testing of the modules where a silent bug costs the most (stryker.config.mjs): runs
 * StrykerJS, then writes bench/results/mutation.json with each module's score and every mutant the
 * tests did not catch, the equivalent ones named with the reason (docs/mutation-testing.md).
 *
 *   npm run mutation                                   # every module (about 95 minutes on 2 cores)
 *   npm run mutation -- --mutate reward/labels.ts      # some modules; the others stay in the file
 *   npm run mutation -- --incremental                  # re-test only what changed since the last run
 *   npm run mutation -- --report-only                  # rewrite the file from the last report
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { moduleResults, unusedEquivalents, type Equivalent, type ModuleResult, type Noted, type StrykerReport } from './lib/mutation-report.js';

const REPORT = 'tmp/mutation/stryker.json';
const RUN = 'tmp/mutation/run.json';
const OUT = 'bench/results/mutation.json';
const GOAL = 85;
// Its bin is not among the package's exports: run it by path (npm runs scripts in the repository root).
const STRYKER = 'node_modules/@stryker-mutator/core';

/**
 * Survivors judged equivalent: no input can make them change what the module does. Each entry
 * names the code replaced and the replacement; one that no longer matches is reported as stale.
 */
const EQUIVALENTS: Equivalent[] = [
  // robot/safety.ts
  {
    file: 'robot/safety.ts', mutator: 'StringLiteral', original: "'unknown'", replacement: '""',
    reason: 'never shown: a latched e-stop always has a reason (estop() sets it with the first latch, resetEstop() clears both together)',
  },
  {
    file: 'robot/safety.ts', mutator: 'ConditionalExpression', original: 'this.watchdogTimer', replacement: 'true', context: 'clearInterval',
    reason: 'clearInterval(undefined) does nothing',
  },
  {
    file: 'robot/safety.ts', mutator: 'ConditionalExpression', original: "typeof v === 'number'", replacement: 'true',
    reason: 'Number.isFinite does not convert: it is false for every value that is not a number, so the typeof test decides nothing more',
  },
  {
    file: 'robot/safety.ts', mutator: 'EqualityOperator', original: 'axis < 3', replacement: 'axis <= 3',
    reason: 'a fourth pass reads position[3] and the box corners [3], all undefined: NaN compares false, so nothing is recorded or changed',
  },
  // dashboard/server.ts
  {
    file: 'dashboard/server.ts', mutator: 'ConditionalExpression', original: 'value !== null', replacement: 'true',
    reason: "JSON null then passes as typeof 'object' and is returned: the same null the original returns",
  },
  {
    file: 'dashboard/server.ts', mutator: 'EqualityOperator', original: 'c.charCodeAt(0) < 32', replacement: 'c.charCodeAt(0) <= 32',
    reason: 'character 32 is the space, which the line replaces with a space',
  },
  {
    file: 'dashboard/server.ts', mutator: 'ConditionalExpression', original: 'latch !== undefined', replacement: 'true',
    reason: 'answer() is called only for a latched request (the route handler, or the error handler after its latched check)',
  },
  {
    file: 'dashboard/server.ts', mutator: 'ConditionalExpression', original: '!authorised(request)', replacement: 'false', context: 'if (!authorised(request)) return;',
    reason: "the /api plugin's token hook has answered 401 before this route hook runs; fastify runs no later hook after a reply",
  },
  {
    file: 'dashboard/server.ts', mutator: 'StringLiteral', original: "''", replacement: '"Stryker was here!"', context: 'websocket from origin',
    reason: 'a websocket is refused only when its request has an Origin header, so the fallback text is never used',
  },
  // dashboard/telemetry.ts
  {
    file: 'dashboard/telemetry.ts', mutator: 'ConditionalExpression', original: 'topic !== topics.estop', replacement: 'false',
    reason: 'the client subscribes to the e-stop topic only: the broker delivers no other topic',
  },
  {
    file: 'dashboard/telemetry.ts', mutator: 'ConditionalExpression', original: 'client.connected', replacement: 'true', context: '} else if (client.connected) {',
    reason: "mqtt.js 5 calls a subscribe callback without an error only while connected: from subscribe() itself inside the 'connect' handler (connected is set before it), or after handleAck took the SUBACK, in the microtasks before the socket's 'close' event; a connection that closes first fails the pending subscription with 'Connection closed' (_flushVolatile)",
  },
  // policy/run-store.ts
  {
    file: 'policy/run-store.ts', mutator: 'EqualityOperator', original: 'i < lines.length', replacement: 'i <= lines.length',
    reason: "the loop always leaves before i reaches lines.length: the last element is '' after a final newline (break) or a torn line (return)",
  },
  // reward/labels.ts
  ...['false', 'count + 1'].map((replacement) => ({
    file: 'reward/labels.ts', mutator: replacement === 'false' ? 'ConditionalExpression' : 'ArithmeticOperator', original: replacement === 'false' ? 'i === count - 1' : 'count - 1', replacement,
    context: 'values.push(i === count - 1',
    reason: "linspace's last value computed as start + (count - 1) * step instead of set to stop: frames are integers (readKeyframes refuses others), the two differ by a few ulps, and roundHalfEven gives the same id",
  })),
  // reward/hops.ts
  ...[['value < low', 'value <= low'], ['value > high', 'value >= high']].map(([original, replacement]) => ({
    file: 'reward/hops.ts', mutator: 'EqualityOperator', original: original!, replacement: replacement!,
    reason: 'clamp at the bound itself: both branches return the bound',
  })),
  {
    file: 'reward/hops.ts', mutator: 'EqualityOperator', original: 'h >= 0', replacement: 'h > 0',
    reason: 'at h = 0 both formulas give p',
  },
  ...[['ConditionalExpression', 'percent > 0', 'false'], ['EqualityOperator', 'percent > 0', 'percent >= 0'], ['ConditionalExpression', 'percent < 0', 'true'], ['EqualityOperator', 'percent < 0', 'percent <= 0'], ['StringLiteral', "'+'", '""']].map(([mutator, original, replacement]) => ({
    file: 'reward/hops.ts', mutator: mutator!, original: original!, replacement: replacement!, context: 'const sign = ',
    reason: '`sign` is used only for a label that does not round to 0.0, where percent is not 0 and the other comparison decides the same sign',
  })),
  {
    file: 'reward/hops.ts', mutator: 'ConditionalExpression', original: 'tenths === 0n', replacement: 'true',
    reason: 'for a label not rounding to 0.0 the zero branch computes the same sign as `sign` (percent is not -0 there)',
  },
  {
    file: 'reward/hops.ts', mutator: 'EqualityOperator', original: 'end < 0', replacement: 'end <= 0',
    reason: 'at end = 0 ("<score></score>") the text read is "" or "</score>...", and the number pattern refuses both',
  },
  // reward/pairs.ts
  {
    file: 'reward/pairs.ts', mutator: 'ConditionalExpression', original: 'i === j', replacement: 'false', context: 'if (i === j) return 0',
    reason: 'i = j gives 0 through the lines below as well: 0 / i, or the zero-denominator guard at i = 0',
  },
  {
    file: 'reward/pairs.ts', mutator: 'EqualityOperator', original: 'j > i', replacement: 'j >= i', context: 'const denom',
    reason: 'j = i has returned on the line before',
  },
  {
    file: 'reward/pairs.ts', mutator: 'ConditionalExpression', original: 'denom === 0', replacement: 'false',
    reason: 'the denominator is 0 only for i = n - 1 with j > i, or i = 0 with j < i: no such index pair in [0, n)',
  },
  {
    file: 'reward/pairs.ts', mutator: 'ArithmeticOperator', original: 'bins - 1', replacement: 'bins + 1', context: 'return Math.min(k, bins - 1)',
    reason: 'for a gap clamped to [1, maxGap], (gap - 1) / (maxGap / bins) < bins: the min never binds',
  },
  ...[['ConditionalExpression', 'true'], ['EqualityOperator', 'want >= 0']].map(([mutator, replacement]) => ({
    file: 'reward/pairs.ts', mutator: mutator!, original: 'want > 0', replacement: replacement!,
    reason: 'with want 0 the pool target is 0: candidatePool returns no pair and draws nothing',
  })),
  ...[['ArrowFunction', '(list) => list.length === 0', '() => undefined'], ['ConditionalExpression', 'list.length === 0', 'false']].map(([mutator, original, replacement]) => ({
    file: 'reward/pairs.ts', mutator: mutator!, original: original!, replacement: replacement!,
    reason: 'a score bin without candidates then goes through its gap bins: it shuffles empty lists (no draw) and takes nothing',
  })),
];

/**
 * Survivors that are not equivalent, with why no test kills them. Each still counts against the
 * score; a note is an explanation, not an excuse. None at present: every survivor of the last
 * run was killed by a test or shown equivalent above.
 */
const NOTES: Noted[] = [];

const { values } = parseArgs({
  options: {
    mutate: { type: 'string' },
    incremental: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
  },
});

interface RunInfo {
  date: string;
  wallSeconds: number;
  mutate: string;
  incremental: boolean;
  loadAverageAtStart: number;
}

let run: RunInfo;
if (values['report-only']) {
  if (!existsSync(RUN) || !existsSync(REPORT)) throw new Error(`--report-only: expected ${REPORT} and ${RUN} from an earlier run, got none`);
  run = JSON.parse(readFileSync(RUN, 'utf8')) as RunInfo;
} else {
  // Modules by file name; the config's entry for each (whole module or line ranges) is what runs.
  const config = (await import(pathToFileURL('stryker.config.mjs').href)) as { mutate: string[] };
  const wanted = values.mutate?.split(',').map((f) => f.trim());
  const entries = wanted ? config.mutate.filter((entry) => wanted.includes(entry.split(':')[0]!)) : [];
  const unknown = wanted?.filter((f) => !config.mutate.some((entry) => entry.split(':')[0] === f)) ?? [];
  if (unknown.length > 0) throw new Error(`--mutate: expected modules of stryker.config.mjs, got ${unknown.join(', ')}`);
  const args = ['run', ...(wanted ? ['--mutate', entries.join(',')] : []), ...(values.incremental ? ['--incremental'] : []), ...(values.force ? ['--force'] : [])];
  const started = performance.now();
  const date = new Date().toISOString();
  const loadAverageAtStart = loadavg()[0]!;
  const result = spawnSync(process.execPath, [join(STRYKER, 'bin/stryker.js'), ...args], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`stryker ${args.join(' ')}: exited ${result.status ?? result.signal}`);
  run = { date, wallSeconds: Math.round((performance.now() - started) / 1000), mutate: values.mutate ?? 'every module of stryker.config.mjs', incremental: values.incremental, loadAverageAtStart: Math.round(loadAverageAtStart * 10) / 10 };
  mkdirSync('tmp/mutation', { recursive: true });
  writeFileSync(RUN, JSON.stringify(run, null, 1));
}

const report = JSON.parse(readFileSync(REPORT, 'utf8')) as StrykerReport;
const measured: (ModuleResult & { run: RunInfo })[] = moduleResults(report, EQUIVALENTS, NOTES).map((m) => ({ ...m, run }));
for (const stale of [...unusedEquivalents(measured, EQUIVALENTS), ...unusedEquivalents(measured, NOTES)]) {
  console.warn(`mutation: a listed survivor matches none (stale entry): ${stale.file} ${stale.mutator} "${stale.original}" -> "${stale.replacement}"`);
}

// A run of some modules (or a report rewritten) replaces those and keeps the others' earlier figures.
const partial = values.mutate !== undefined || values['report-only'];
const previous = partial && existsSync(OUT) ? (JSON.parse(readFileSync(OUT, 'utf8')) as { modules: typeof measured }).modules : [];
const modules = [...previous.filter((p) => !measured.some((m) => m.file === p.file)), ...measured].sort((a, b) => a.file.localeCompare(b.file));
const cpu = cpus();
const version = (JSON.parse(readFileSync(join(STRYKER, 'package.json'), 'utf8')) as { version: string }).version;

const output = {
  benchmark: 'mutation',
  tool: `StrykerJS ${version}`,
  command: 'npm run mutation',
  machine: `${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores, Node ${process.version.slice(1)}; shared with other work`,
  date: run.date,
  wallSeconds: run.wallSeconds,
  settings: 'vitest runner on the tests in vitest.mutation.config.ts, perTest coverage, TypeScript checker (tsconfig.mutation.json), concurrency 2',
  reading: 'score = (killed + timeout) / (killed + timeout + survived + no coverage), percent; equivalent survivors count against it (scoreWithoutEquivalent leaves them out). Each module carries the run that measured it.',
  goal: `score >= ${GOAL} on each module`,
  modules,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(OUT, `${JSON.stringify(output, null, 1)}\n`);

for (const m of modules) {
  const equivalent = m.survived.filter((s) => s.equivalent !== undefined).length;
  console.log(`${m.file.padEnd(24)} ${m.score.toFixed(1).padStart(5)}%  ${m.killed + m.timeout}/${m.mutants} caught, ${m.survived.length} not (${equivalent} equivalent)${m.score < GOAL ? '  below the goal' : ''}`);
}
console.log(`wrote ${OUT}`);
