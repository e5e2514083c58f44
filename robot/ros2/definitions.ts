/**
 * ROS 2 message definitions the bridge and the MCAP files use, kept as .msg text under
 * robot/ros2/interfaces/<package>/<msg|action>/<Type>.msg (field lists of the ROS interface
 * packages), and CDR codecs built from them with @foxglove/rosmsg and
 * @foxglove/rosmsg2-serialization. No ROS install is needed for any of this.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from '@foxglove/rosmsg';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';

const interfacesDir = fileURLToPath(new URL('./interfaces/', import.meta.url));

/** Field types that are not messages. */
const PRIMITIVES = new Set([
  'bool', 'byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
  'float32', 'float64', 'string', 'wstring', 'time', 'duration',
]);

/** The separator rosbag2 puts between a type's text and each dependency in `ros2msg` schemas. */
const SEPARATOR = '='.repeat(80);

/** `sensor_msgs/Image` or `sensor_msgs/msg/Image` -> `sensor_msgs/msg/Image`. */
export function fullTypeName(type: string): string {
  const parts = type.split('/');
  if (parts.length === 3) return type;
  if (parts.length === 2) return `${parts[0]}/msg/${parts[1]}`;
  throw new RangeError(`message type: expected package/Type or package/msg/Type, got "${type}"`);
}

/** `sensor_msgs/msg/Image` -> `sensor_msgs/Image` (the name used after `MSG:` in schemas). */
export function shortTypeName(type: string): string {
  const parts = fullTypeName(type).split('/');
  return `${parts[0]}/${parts[2]}`;
}

/** The .msg text of one type (its own fields only). */
export function messageText(type: string): string {
  const full = fullTypeName(type);
  const file = `${interfacesDir}${full}.msg`;
  if (!existsSync(file)) throw new RangeError(`message type ${full}: no definition in robot/ros2/interfaces/`);
  return readFileSync(file, 'utf8');
}

/** Message types a definition's fields refer to, in field order, fully named. */
export function fieldTypes(type: string): string[] {
  const pkg = fullTypeName(type).split('/')[0]!;
  const out: string[] = [];
  for (const raw of messageText(type).split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [fieldType, rest] = line.split(/\s+/, 2);
    if (fieldType === undefined || rest === undefined || rest.includes('=')) continue; // constant
    const base = fieldType.replace(/\[.*\]$/, '').replace(/<=\d+$/, '');
    if (PRIMITIVES.has(base)) continue;
    out.push(fullTypeName(base.includes('/') ? base : `${pkg}/${base}`));
  }
  return out;
}

/**
 * The definition as rosbag2 stores it in an MCAP schema (encoding `ros2msg`): the type's own
 * text, then every dependency once, each after a line of '=' and `MSG: package/Type`.
 */
export function schemaText(type: string): string {
  const seen = new Set<string>([fullTypeName(type)]);
  const parts = [messageText(type).trimEnd()];
  const visit = (t: string): void => {
    for (const dep of fieldTypes(t)) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      parts.push(`${SEPARATOR}\nMSG: ${shortTypeName(dep)}\n${messageText(dep).trimEnd()}`);
      visit(dep);
    }
  };
  visit(type);
  return `${parts.join('\n')}\n`;
}

export interface Codec<T> {
  readonly type: string;
  encode(message: T): Uint8Array;
  decode(data: ArrayBufferView): T;
}

const codecs = new Map<string, Codec<unknown>>();

/** CDR writer and reader of a type, from its schema text; `text` overrides (a schema from a file). */
export function cdrCodec<T>(type: string, text?: string): Codec<T> {
  const full = fullTypeName(type);
  const key = text === undefined ? full : `${full}\n${text}`;
  let codec = codecs.get(key);
  if (codec === undefined) {
    const definitions = parse(text ?? schemaText(full), { ros2: true });
    const writer = new MessageWriter(definitions);
    const reader = new MessageReader(definitions);
    codec = {
      type: full,
      encode: (message) => writer.writeMessage(message),
      decode: (data) => reader.readMessage(data),
    };
    codecs.set(key, codec);
  }
  return codec as Codec<T>;
}
