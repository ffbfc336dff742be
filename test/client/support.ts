// A served supervisor (test/server/support.ts: a real store file, the test clock, loopback,
// port 0) with clients connected to it: what the client tests call through real HTTP.
import { afterEach } from 'vitest';
import { connect } from '../../src/client/index.js';
import type { Client, ConnectOptions } from '../../src/client/index.js';
import type { SupervisorOptions } from '../../src/index.js';
import type { ServeOptions } from '../../src/server/index.js';
import { ADMIN, served, type Served } from '../server/support.js';

export { ADMIN };

const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

/** A client closed after the test. */
export function connected(options: ConnectOptions): Client {
  const client = connect({ logger: { warn: () => {} }, ...options });
  clients.push(client);
  return client;
}

export interface ClientFixture extends Served {
  admin: Client;
  /** A client with a fresh agent token for `owner`. */
  agent(owner: string): Promise<Client>;
}

export async function withClients(options: Partial<SupervisorOptions> = {}, serveOptions: ServeOptions = {}): Promise<ClientFixture> {
  const s = await served(options, serveOptions);
  return Object.assign(s, {
    admin: connected({ url: s.url, token: ADMIN }),
    agent: async (owner: string) => connected({ url: s.url, token: await s.mint(owner) }),
  });
}
