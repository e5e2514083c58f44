import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { startTestServing } from '../dashboard/testing.js';

describe('serve reads secrets where they are used', () => {
  it('takes the control token from dashboard.tokenFile', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dopamine-serve-token-')), 'token');
    writeFileSync(file, 'token-from-the-file-7c1d\n');
    const serving = await startTestServing({ dashboard: { tokenFile: file } });
    try {
      expect(serving.dashboard.token).toBe('token-from-the-file-7c1d');
      expect(serving.tokenSource).toBe('dashboard.tokenFile');
      const status = await fetch(`${serving.dashboard.url}api/status`, { headers: { authorization: 'Bearer token-from-the-file-7c1d' } });
      expect(status.status).toBe(200);
    } finally {
      await serving.shutdown('test done');
    }
  });

  it('refuses an unset dashboard.tokenEnv naming the key', async () => {
    const failure = await startTestServing({ dashboard: { tokenEnv: 'DOPAMINE_TEST_TOKEN_NOT_SET' } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as Error).message).toBe('dashboard.tokenEnv: expected the environment variable DOPAMINE_TEST_TOKEN_NOT_SET to be set, got none');
  });
});

describe('serve start failures', () => {
  it('refuses a dashboard port in use naming dashboard.port, and leaves nothing open behind the error', async () => {
    const occupier = createServer();
    await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', resolve));
    const port = (occupier.address() as { port: number }).port;
    try {
      const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
      const before = timers();
      const failure = await startTestServing({ dashboard: { port } }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(InputError);
      expect((failure as Error).message).toBe(`dashboard.port: expected a free port, got ${port} (in use)`);
      // The dashboard's status and camera timers, the safety watchdog: none outlives the failed start.
      expect(timers()).toBe(before);
    } finally {
      await new Promise((resolve) => occupier.close(resolve));
    }
  });
});
