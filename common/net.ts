/** Addresses that only this machine can reach. */
import { isIP } from 'node:net';

/** localhost, 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z); 0.0.0.0 and :: are every interface. */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || /^(0+:){5}0*:?:?ffff:127\./.test(name) || /^::ffff:127\./.test(name);
  return false;
}
