/**
 * Errors the user can fix: a bad file, flag, key or value. The CLI prints the message as one line
 * and exits with code 2; anything else is an internal error (exit 1).
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** What was wrong (a path, a flag, a config key), named in the message too. */
  readonly input: string;

  constructor(input: string, reason: string) {
    super(`${input}: ${reason}`);
    this.input = input;
  }
}

export function isInputError(error: unknown): error is InputError {
  return error instanceof InputError;
}

/** Short description of a value for error messages: `"x"`, `12`, `null`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return String(value);
}
