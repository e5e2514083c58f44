/**
 * StrykerJS's JSON report (the mutation-testing-report schema) as the figures of
 * bench/results/mutation.json: per module its score and every mutant the tests did not catch,
 * with the reason where a mutant is judged equivalent (it cannot change what the code does).
 */

export interface StrykerMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

export interface StrykerReport {
  files: Record<string, { source: string; mutants: StrykerMutant[] }>;
  config?: { mutate?: string[] };
}

/**
 * A known survivor: matched by file, mutator, the code it replaces and the replacement, and
 * `context` (text its first line must hold) where the same code appears on several lines; `*`
 * matches any mutator, code or replacement (every mutant on the lines `context` names). With
 * `reason` it is judged equivalent; with `note` it is not, and the note says why no test kills it.
 */
export interface Known {
  file: string;
  mutator: string;
  original: string;
  replacement: string;
  context?: string;
}
export interface Equivalent extends Known {
  reason: string;
}
export interface Noted extends Known {
  note: string;
}

export interface Survivor {
  line: number;
  mutator: string;
  original: string;
  replacement: string;
  status: 'survived' | 'no coverage';
  equivalent?: string;
  /** Not equivalent: why no test kills it yet. */
  note?: string;
}

export interface ModuleResult {
  file: string;
  /** "whole module", or the line ranges mutated (the safety paths of a larger module). */
  mutated: string;
  /** Mutants the tests could judge: killed + timeout + survived + no coverage. */
  mutants: number;
  killed: number;
  /** A mutant that made the tests hang counts as caught, as Stryker counts it. */
  timeout: number;
  /** (killed + timeout) / mutants, percent, one decimal; equivalent survivors count against it. */
  score: number;
  /** The same with the mutants judged equivalent left out. */
  scoreWithoutEquivalent: number;
  /** Mutants the TypeScript checker refused (they cannot be built), not counted. */
  compileErrors: number;
  survived: Survivor[];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** The source text a mutant replaces, whitespace collapsed, cut at 120 characters. */
export function originalText(source: string, location: StrykerMutant['location']): string {
  const lines = source.split('\n');
  const { start, end } = location;
  const parts = start.line === end.line
    ? [lines[start.line - 1]!.slice(start.column - 1, end.column - 1)]
    : [lines[start.line - 1]!.slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1]!.slice(0, end.column - 1)];
  const text = parts.join(' ').replace(/\s+/g, ' ').trim();
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim();

export function moduleResults(report: StrykerReport, equivalents: readonly Equivalent[] = [], notes: readonly Noted[] = []): ModuleResult[] {
  const ranges = report.config?.mutate ?? [];
  return Object.entries(report.files)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, { source, mutants }]) => {
      const count = (status: string): number => mutants.filter((m) => m.status === status).length;
      const killed = count('Killed');
      const timeout = count('Timeout');
      const survived: Survivor[] = mutants
        .filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')
        .sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)
        .map((m) => {
          const original = originalText(source, m.location);
          const replacement = collapse(m.replacement ?? '');
          const line = source.split('\n')[m.location.start.line - 1] ?? '';
          const any = (pattern: string, value: string): boolean => pattern === '*' || collapse(pattern) === value;
          const matches = (k: Known): boolean =>
            k.file === file && any(k.mutator, m.mutatorName) && any(k.original, original) && any(k.replacement, replacement) && (k.context === undefined || line.includes(k.context));
          const equivalent = equivalents.find(matches);
          const noted = equivalent ? undefined : notes.find(matches);
          return {
            line: m.location.start.line, mutator: m.mutatorName, original, replacement,
            status: m.status === 'Survived' ? 'survived' as const : 'no coverage' as const,
            ...(equivalent ? { equivalent: equivalent.reason } : {}),
            ...(noted ? { note: noted.note } : {}),
          };
        });
      const total = killed + timeout + survived.length;
      const judged = total - survived.filter((s) => s.equivalent !== undefined).length;
      const lines = ranges.filter((r) => r.startsWith(`${file}:`)).map((r) => r.slice(file.length + 1));
      return {
        file, mutated: lines.length > 0 ? `lines ${lines.join(', ')}` : 'whole module',
        mutants: total, killed, timeout,
        score: total > 0 ? round1((100 * (killed + timeout)) / total) : 100,
        scoreWithoutEquivalent: judged > 0 ? round1((100 * (killed + timeout)) / judged) : 100,
        compileErrors: count('CompileError'),
        survived,
      };
    });
}

/** Entries for the modules in `results` that matched no surviving mutant (the code or the tests moved on). */
export function unusedEquivalents<T extends Equivalent | Noted>(results: readonly ModuleResult[], entries: readonly T[]): T[] {
  return entries.filter((e) => {
    const module = results.find((r) => r.file === e.file);
    const text = 'reason' in e ? e.reason : e.note;
    return module !== undefined && !module.survived.some((s) => (s.equivalent ?? s.note) === text && (e.mutator === '*' || s.mutator === e.mutator) && (e.original === '*' || s.original === collapse(e.original)));
  });
}
