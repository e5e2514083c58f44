/**
 * A human operator at the terminal of `dopamine rl` (success source `operator`, or a stop at any
 * time): one line on standard input per decision.
 *
 *   s, success   the current episode succeeded (it ends here, terminal, with the success reward)
 *   x, stop      stop the current episode now (the arm holds; the episode ends as stopped)
 *
 * A decision applies to the episode that is running when it arrives and is then cleared, so a
 * late keypress does not leak into the next episode.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Operator } from './episode.js';

export class LineOperator implements Operator {
  private success = false;
  private stop: string | undefined;
  private readonly lines: Interface;

  constructor(input: Readable, onUnknown: (line: string) => void = () => undefined) {
    this.lines = createInterface({ input, terminal: false });
    this.lines.on('line', (raw) => {
      const line = raw.trim().toLowerCase();
      if (line === '') return;
      if (line === 's' || line === 'success') this.success = true;
      else if (line === 'x' || line === 'stop') this.stop = 'stop requested at the terminal';
      else onUnknown(line);
    });
  }

  successRequested(): boolean {
    return this.success;
  }

  stopRequested(): string | undefined {
    return this.stop;
  }

  /** Clears both decisions: called when an episode starts. */
  newEpisode(): void {
    this.success = false;
    this.stop = undefined;
  }

  /** Stops reading (an open standard input would keep the process alive). */
  close(): void {
    this.lines.close();
  }
}
