/**
 * The reason an e-stop body gives, exactly (server.test.ts sends the same bodies over HTTP and
 * checks the latch). The e-stop has latched before this runs: every body gives a reason, none an error.
 */
import { describe, expect, it } from 'vitest';
import { estopReason } from './server.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const DEFAULT = 'operator pressed e-stop';

describe('e-stop reason from the request body', () => {
  it('is the default without a body, or with an object that names no reason', () => {
    expect(estopReason(undefined, undefined)).toBe(DEFAULT);
    expect(estopReason(Buffer.alloc(0), 'application/json')).toBe(DEFAULT);
    expect(estopReason(json({}), 'application/json')).toBe(DEFAULT);
  });

  it('is the reason given, with the fields it ignored named (five at most, 80 characters at most)', () => {
    expect(estopReason(json({ reason: 'gripper jam' }), 'application/json')).toBe('gripper jam');
    expect(estopReason(json({ reason: 'gripper jam', by: 'ana' }), undefined)).toBe('gripper jam (ignored fields: by)');
    expect(estopReason(json({ by: 'ana', at: 3 }), undefined)).toBe(`${DEFAULT} (ignored fields: by, at)`);
    const many = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => [k, 1]));
    expect(estopReason(json({ reason: 'r', ...many }), undefined)).toBe('r (ignored fields: a, b, c, d, e)');
    const long = Object.fromEntries(['x'.repeat(50), 'y'.repeat(50)].map((k) => [k, 1]));
    expect(estopReason(json({ reason: 'r', ...long }), undefined)).toBe(`r (ignored fields: ${`${'x'.repeat(50)}, ${'y'.repeat(50)}`.slice(0, 80)})`);
  });

  it('says why a body could not be read: not JSON (with its size and type), not an object, a reason that is not text', () => {
    expect(estopReason(Buffer.from('stop now'), 'text/plain; charset=utf-8')).toBe(`${DEFAULT} (reason not readable: a 8-byte text/plain body that is not JSON)`);
    expect(estopReason(Buffer.from('stop'), undefined)).toBe(`${DEFAULT} (reason not readable: a 4-byte untyped body that is not JSON)`);
    for (const value of [null, [1, 2], 5, 'text', true]) {
      expect(estopReason(json(value), 'application/json')).toBe(`${DEFAULT} (reason not readable: expected a JSON object)`);
    }
    expect(estopReason(json({ reason: 5 }), undefined)).toBe(`${DEFAULT} (reason not readable: reason is number, expected text)`);
    expect(estopReason(json({ reason: ['a'] }), undefined)).toBe(`${DEFAULT} (reason not readable: reason is a list, expected text)`);
    expect(estopReason(json({ reason: null }), undefined)).toBe(`${DEFAULT} (reason not readable: reason is object, expected text)`);
  });

  it('turns control characters (below 32, and 127) into spaces and trims; nothing left is the default', () => {
    expect(estopReason(json({ reason: '\ta\u0000b\u001fc\u007fd e\u0080 ' }), undefined)).toBe('a b c d e\u0080');
    expect(estopReason(json({ reason: ' \n\r\t ', extra: 1 }), undefined)).toBe(`${DEFAULT} (ignored fields: extra)`);
  });

  it('keeps 200 characters and says where it cut a longer reason', () => {
    expect(estopReason(json({ reason: 'r'.repeat(200) }), undefined)).toBe('r'.repeat(200));
    expect(estopReason(json({ reason: 'r'.repeat(201), by: 'x' }), undefined)).toBe(`${'r'.repeat(200)}… (reason cut at 200 characters) (ignored fields: by)`);
  });
});
