/**
 * For tests of outages: an HTTP server on loopback that can go down (connections refused) and
 * come back on the same port.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class FlakyServer {
  private server: Server | null = null;
  /** The port, fixed by the first up(). */
  port = 0;

  constructor(private readonly handler: RequestListener) {}

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer(this.handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
