// Mutation testing (`npm run mutation`, docs/mutation-testing.md): StrykerJS changes the code on
// purpose, one small change (a mutant) at a time, and runs the tests that cover it; a mutant the
// tests still pass is a bug they would miss. Only the modules where a silent bug costs the most.
import { readFileSync } from 'node:fs';

/**
 * Lines `from` .. the line before `to` of `file` (both found by their text, so the range follows
 * the code when lines move). Used where only part of a module is a safety path.
 */
function section(file, from, to) {
  const lines = readFileSync(new URL(file, import.meta.url), 'utf8').split('\n');
  const start = lines.findIndex((line) => line.includes(from));
  const end = lines.findIndex((line, i) => i > start && line.includes(to));
  if (start < 0 || end < 0) throw new Error(`stryker.config.mjs: ${file}: expected lines "${from}" .. "${to}", not found (update the section)`);
  return `${file}:${start + 1}-${end}`;
}

/** The mutated modules; vitest.mutation.config.ts lists their tests. */
export const mutate = [
  'robot/safety.ts',
  // The dashboard's e-stop and token paths: token checks, the e-stop route and its reason, the websocket's auth.
  section('dashboard/server.ts', 'function parseJson', 'const episodeParams'),
  section('dashboard/server.ts', 'export function checkBindAddress', 'const frameSkipBytes'),
  section('dashboard/server.ts', "api.addHook('onRequest'", "control('start'"),
  section('dashboard/server.ts', "control('reset'", "api.post<{ Body: { outcome"),
  section('dashboard/server.ts', "scrape.addHook('onRequest'", "scrape.get('/metrics'"),
  section('dashboard/server.ts', 'function authorised', 'const send = '),
  section('dashboard/server.ts', 'const originOk', 'clients.add(socket)'),
  // MQTT telemetry: the remote e-stop (subscription, availability, messages, the retained one) and the password's redaction.
  section('dashboard/telemetry.ts', 'const scrub = ', "let linkPhase"),
  section('dashboard/telemetry.ts', 'const linkDown = ', 'const offlineState'),
  section('dashboard/telemetry.ts', "client.on('connect'", "client.on('reconnect'"),
  section('dashboard/telemetry.ts', "client.on('message'", 'const unsubscribeEvents'),
  section('dashboard/telemetry.ts', 'async ready(', 'async close()'),
  'reward/shaping.ts',
  'reward/fusion.ts',
  'reward/labels.ts',
  'reward/hops.ts',
  'reward/pairs.ts',
  'policy/run-store.ts',
  'engine/checkpoint.ts',
];

export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  coverageAnalysis: 'perTest',
  // A 2-core machine: two sandboxes at a time.
  concurrency: 2,
  timeoutMS: 10_000,
  mutate,
  reporters: ['json', 'progress', 'clear-text'],
  jsonReporter: { fileName: 'tmp/mutation/stryker.json' },
  incrementalFile: 'tmp/mutation/incremental.json',
  // Inside tmp/, which git, eslint, tsc and vitest all leave alone.
  tempDirName: 'tmp/stryker',
  ignorePatterns: ['tmp', 'tmp-scratch', 'runs', 'coverage', 'bench/results', '.stryker-tmp', 'reports'],
};
