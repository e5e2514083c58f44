import { describe, expect, it } from 'vitest';
import { numberFlag, textFlag } from './flags.js';

describe('benchmark flags', () => {
  const argv = ['node', 'bench', '--seeds', '3', '--seeds-list', '1,2,3', '--empty', '', '--stem', 'x'];
  it('reads numbers and text, undefined when absent', () => {
    expect(numberFlag('--seeds', argv)).toBe(3);
    expect(textFlag('--stem', argv)).toBe('x');
    expect(numberFlag('--absent', argv)).toBeUndefined();
  });
  it('refuses a value that is not a number, naming the flag', () => {
    expect(() => numberFlag('--seeds-list', argv)).toThrow('--seeds-list: expected a number, got "1,2,3"');
    expect(() => numberFlag('--empty', argv)).toThrow('--empty: expected a number');
    expect(() => numberFlag('--stem', ['--stem'])).toThrow('--stem: expected a number, got null');
  });
});
