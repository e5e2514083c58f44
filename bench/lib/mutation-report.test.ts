import { describe, expect, it } from 'vitest';
import { moduleResults, originalText, unusedEquivalents, type StrykerMutant, type StrykerReport } from './mutation-report.js';

const source = ['export function f(a: number, b: number): number {', '  if (a > b) return a - b;', '  return 0;', '}', ''].join('\n');
const at = (line: number, column: number, endLine: number, endColumn: number): StrykerMutant['location'] => ({ start: { line, column }, end: { line: endLine, column: endColumn } });
const mutant = (id: string, status: string, mutatorName: string, replacement: string, location: StrykerMutant['location']): StrykerMutant => ({ id, status, mutatorName, replacement, location });

const report: StrykerReport = {
  config: { mutate: ['src/f.ts', 'src/g.ts:2-3'] },
  files: {
    'src/f.ts': {
      source,
      mutants: [
        mutant('1', 'Killed', 'ArithmeticOperator', 'a + b', at(2, 21, 2, 26)),
        mutant('2', 'Timeout', 'ConditionalExpression', 'true', at(2, 7, 2, 12)),
        mutant('3', 'Survived', 'EqualityOperator', 'a >= b', at(2, 7, 2, 12)),
        mutant('4', 'NoCoverage', 'BlockStatement', '{}', at(1, 49, 4, 2)),
        mutant('5', 'CompileError', 'BooleanLiteral', 'false', at(2, 7, 2, 12)),
      ],
    },
    'src/g.ts': { source, mutants: [mutant('6', 'Killed', 'ArithmeticOperator', 'a + b', at(2, 21, 2, 26))] },
  },
};

describe('mutation report', () => {
  it('takes the replaced code from the source, on one line or several', () => {
    expect(originalText(source, at(2, 21, 2, 26))).toBe('a - b');
    expect(originalText(source, at(1, 49, 4, 2))).toBe('{ if (a > b) return a - b; return 0; }');
  });

  it('scores each module: caught (killed or timed out) over every mutant the tests could judge', () => {
    const [f, g] = moduleResults(report);
    expect(f).toMatchObject({ file: 'src/f.ts', mutated: 'whole module', mutants: 4, killed: 1, timeout: 1, score: 50, scoreWithoutEquivalent: 50, compileErrors: 1 });
    expect(f!.survived).toEqual([
      { line: 1, mutator: 'BlockStatement', original: '{ if (a > b) return a - b; return 0; }', replacement: '{}', status: 'no coverage' },
      { line: 2, mutator: 'EqualityOperator', original: 'a > b', replacement: 'a >= b', status: 'survived' },
    ]);
    expect(g).toMatchObject({ file: 'src/g.ts', mutated: 'lines 2-3', mutants: 1, score: 100 });
  });

  it('names an equivalent survivor with its reason; the score keeps counting it, the other leaves it out', () => {
    const reason = 'a > b and a >= b both return 0 when a equals b';
    const equivalents = [
      { file: 'src/f.ts', mutator: 'EqualityOperator', original: 'a  >  b', replacement: 'a >= b', reason },
      { file: 'src/f.ts', mutator: 'EqualityOperator', original: 'a < b', replacement: 'a <= b', reason: 'stale' },
      { file: 'src/other.ts', mutator: 'EqualityOperator', original: 'x', replacement: 'y', reason: 'not in this run' },
    ];
    const results = moduleResults(report, equivalents);
    expect(results[0]!.survived[1]!.equivalent).toBe(reason);
    expect(results[0]!.survived[0]!.equivalent).toBeUndefined();
    expect(results[0]).toMatchObject({ score: 50, scoreWithoutEquivalent: 66.7 });
    expect(unusedEquivalents(results, equivalents).map((e) => e.reason)).toEqual(['stale']);
  });

  it('carries a note on a survivor that is known and not equivalent; it still counts against both scores', () => {
    const note = { file: 'src/f.ts', mutator: 'EqualityOperator', original: 'a > b', replacement: 'a >= b', note: 'why no test kills it' };
    const [f] = moduleResults(report, [], [note]);
    expect(f!.survived[1]).toMatchObject({ note: 'why no test kills it' });
    expect(f!.survived[1]!.equivalent).toBeUndefined();
    expect(f).toMatchObject({ score: 50, scoreWithoutEquivalent: 50 });
    expect(unusedEquivalents([f!], [note, { ...note, original: 'x', note: 'stale' }]).map((n) => n.note)).toEqual(['stale']);
  });

  it('matches an equivalent only on a line holding its context, when it gives one', () => {
    const entry = { file: 'src/f.ts', mutator: 'EqualityOperator', original: 'a > b', replacement: 'a >= b', reason: 'r' };
    expect(moduleResults(report, [{ ...entry, context: 'return a - b' }])[0]!.survived[1]!.equivalent).toBe('r');
    expect(moduleResults(report, [{ ...entry, context: 'return 0' }])[0]!.survived[1]!.equivalent).toBeUndefined();
  });
});
