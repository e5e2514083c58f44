/** Addresses that only this machine can reach, and whether a server can listen on one. */
import { createServer, isIP } from 'node:net';
import { InputError } from './errors.js';

/** localhost, 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z); 0.0.0.0 and :: are every interface. */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || /^(0+:){5}0*:?:?ffff:127\./.test(name) || /^::ffff:127\./.test(name);
  return false;
}

/**
 * A listen error as the one line a user can act on (a port in use or not allowed, an address not
 * on this machine), naming the setting (`portInput`, `hostInput`); other errors as they are.
 */
export function listenError(error: unknown, host: string, port: number, portInput = 'dashboard.port', hostInput = 'dashboard.host'): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return new InputError(portInput, `expected a free port, got ${port} (in use)`);
  if (code === 'EACCES') return new InputError(portInput, `expected a port this user may listen on, got ${port} (permission denied)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new InputError(hostInput, `expected an address of this machine, got ${JSON.stringify(host)} (${code})`);
  return error;
}

/**
 * Listens on host:port for a moment and closes again, so a command can refuse a port in use
 * before it loads anything (the server that binds it later still reports a lost race).
 * Port 0 (any free port) always passes.
 */
export async function checkListen(host: string, port: number, portInput?: string, hostInput?: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(listenError(error, host, port, portInput, hostInput)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
