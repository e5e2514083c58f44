/** Command-line flags of the benchmark scripts: `--name value`, checked. */

/** The value after `name`, or undefined when the flag is absent. */
export function textFlag(name: string, argv: readonly string[] = process.argv): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The number after `name`, or undefined when the flag is absent; anything but a number is an error naming the flag. */
export function numberFlag(name: string, argv: readonly string[] = process.argv): number | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const text = argv[i + 1];
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value)) throw new Error(`${name}: expected a number, got ${JSON.stringify(text ?? null)}`);
  return value;
}
