/** Reading and validating the run configuration (YAML), with errors that name the key. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError, describeValue } from '../common/errors.js';
import { configSchema, type Config } from './schema.js';
import { redactAt } from './secrets.js';

/** `reward.fusion.alpha`, `cameras.views[1].role`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

// The value as an error message may show it: a token or a URL's password never is.
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return redactAt(path, node);
}

/** One line per problem: `<key path>: expected <what>, got <value>`. */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = [...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys
        .map((key) => `${formatPath([...path, key])}: unknown key (${allowedKeysHint(path)})`)
        .join('; ');
    case 'invalid_type':
      return `${formatPath(path)}: expected ${issue.expected}, got ${describeValue(valueAt(input, path))}`;
    case 'invalid_value':
      return `${formatPath(path)}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(valueAt(input, path))}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const what = issue.origin === 'array' ? 'length ' : '';
      return `${formatPath(path)}: expected ${what}${bound} ${String(issue.code === 'too_small' ? issue.minimum : issue.maximum)}, got ${describeValue(valueAt(input, path))}`;
    }
    default:
      return `${formatPath(path)}: ${issue.message.replace(/^Invalid input: /, '')}`;
  }
}

function allowedKeysHint(path: readonly PropertyKey[]): string {
  let shape: unknown = configSchema;
  for (const part of path) shape = childSchema(shape, part);
  const keys = objectKeys(shape);
  return keys.length > 0 ? `expected one of ${keys.join(', ')}` : 'not allowed here';
}

// Walks wrappers (default, prefault, optional, pipe) down to an object or array schema.
function unwrap(schema: unknown): unknown {
  let node = schema as { _zod?: { def: Record<string, unknown> } } | undefined;
  for (let depth = 0; depth < 10 && node?._zod; depth++) {
    const def = node._zod.def;
    if (def.type === 'object' || def.type === 'array') return node;
    node = (def.innerType ?? def.in ?? def.schema) as typeof node;
  }
  return node;
}

function childSchema(schema: unknown, part: PropertyKey): unknown {
  const node = unwrap(schema) as { _zod?: { def: Record<string, unknown> } } | undefined;
  const def = node?._zod?.def;
  if (def?.type === 'object') return (def.shape as Record<PropertyKey, unknown>)[part];
  if (def?.type === 'array') return def.element;
  return undefined;
}

function objectKeys(schema: unknown): string[] {
  const def = (unwrap(schema) as { _zod?: { def: Record<string, unknown> } } | undefined)?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

/** Validates a parsed document; `source` names it in errors (a file path or `--config`). */
export function parseConfig(input: unknown, source: string): Config {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => describeIssue(issue, input));
  throw new InputError(source, lines.join('; '));
}

/** Alias expansions allowed in a configuration file (the yaml package's default, stated here because the message names it). */
const MAX_ALIAS_COUNT = 100;

/** The effective configuration: defaults, overlaid by the YAML file when one is given. */
export function loadConfig(file?: string): Config {
  if (file === undefined) return parseConfig({}, 'defaults');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code ?? String(error)})`);
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    throw new InputError(file, `expected valid YAML, got a syntax error${where}: ${first.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml package throws a ReferenceError for an alias bomb ("billion laughs") and for an alias without its anchor.
    if (!(error instanceof ReferenceError)) throw error;
    if (/excessive alias/i.test(error.message)) {
      throw new InputError(file, `expected a configuration document, got a YAML document with too many aliases (more than ${MAX_ALIAS_COUNT} expanded, an alias bomb?)`);
    }
    throw new InputError(file, `expected valid YAML, got ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}`);
  }
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw new InputError(file, `expected a mapping of configuration keys, got ${describeValue(data)}`);
  }
  return parseConfig(data, file);
}
