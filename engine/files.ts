/** Atomic file replacement: write a temporary file, fsync it, rename over the target, fsync the directory. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../common/errors.js';

/** A write refused because the disk or the user's quota is full: the user's to fix, so an InputError naming the folder. */
export class DiskFullError extends InputError {
  constructor(
    readonly dir: string,
    what: string,
    readonly code: 'ENOSPC' | 'EDQUOT',
  ) {
    super(dir, `expected room to write ${what}, got ${code === 'ENOSPC' ? 'no space left on the device' : 'the disk quota exceeded'} (${code}); nothing half-written was kept`);
  }
}

/**
 * `error` as a DiskFullError naming `dir` when it is ENOSPC or EDQUOT (also one already raised
 * for an inner folder, so the message names the folder the caller was writing), else unchanged.
 */
export function diskFullAs(error: unknown, dir: string, what: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? new DiskFullError(dir, what, code) : error;
}

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(temp, 'w');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    // No torn temporary file is left behind, whatever failed.
    rmSync(temp, { force: true });
    throw diskFullAs(error, dir, basename(path));
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
