// How a model path reaches the runtime: in-process (the supervisor's own methods), or over
// HTTP (serve() on loopback, port 0, wrapping the same supervisor, and the typed client). Over
// HTTP every owner call goes through the agent token of its owner, minted once per path with
// the admin token (POST /v1/agents) and kept in the tokens file beside the store, so a token
// outlives every restart; create, quarantine and annotate go through the admin token. Both
// give the replay the same commands and the same view of the tasks.
import { connect } from '../../src/client/index.js';
import type { Supervisor, TaskView } from '../../src/index.js';
import { serve } from '../../src/server/index.js';
import { mintToken } from '../server/support.js';

export const TRANSPORTS = ['in-process', 'over HTTP'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** The calls a path makes, by the supervisor's method names. */
export type Commands = Pick<
  Supervisor,
  'create' | 'claim' | 'heartbeat' | 'extend' | 'release' | 'complete' | 'fail' | 'addCompensation' | 'quarantine' | 'annotate'
>;

type OwnerCall = 'claim' | 'heartbeat' | 'extend' | 'release' | 'complete' | 'fail' | 'addCompensation';

/** The runtime as one transport reaches it; `close` ends the transport, never the supervisor. */
export interface Face {
  commands: Commands;
  list(): Promise<TaskView[]>;
  close(): Promise<void>;
}

const ADMIN = 'model-admin-token-0123456789abcdef';
const quiet = { warn: () => {} };

/**
 * The transports of one replay: `open(sup)` puts one in front of each supervisor the replay
 * opens (after every restart too); agent tokens are minted on the first open.
 */
export function transport(kind: Transport, owners: readonly string[]) {
  const tokens = new Map<string, string>();

  async function mint(url: string) {
    for (const owner of owners) tokens.set(owner, await mintToken(url, ADMIN, owner));
  }

  return {
    async open(sup: Supervisor): Promise<Face> {
      if (kind === 'in-process') return { commands: sup, list: async () => sup.list(), close: async () => {} };
      const server = await serve(sup, { port: 0, adminToken: ADMIN, daemonFile: false, logger: quiet });
      if (tokens.size === 0) await mint(server.url);
      const admin = connect({ url: server.url, token: ADMIN, logger: quiet });
      const agents = new Map(owners.map((owner) => [owner, connect({ url: server.url, token: tokens.get(owner)!, logger: quiet })]));
      /** An owner call through the client of its owner, whose token says who it is (no `owner` sent). */
      const owned = <K extends OwnerCall>(method: K) =>
        ((id: string, { owner, ...rest }: { owner: string }) => {
          const agent = agents.get(owner);
          if (!agent) throw new Error(`the path calls as ${owner}, who has no token (owners: ${owners.join(', ')})`);
          return (agent[method] as (id: string, input: object) => Promise<unknown>)(id, rest);
        }) as unknown as Commands[K];
      const commands: Commands = {
        create: (input) => admin.create(input),
        claim: owned('claim'),
        heartbeat: owned('heartbeat'),
        extend: owned('extend'),
        release: owned('release'),
        complete: owned('complete'),
        fail: owned('fail'),
        addCompensation: owned('addCompensation'),
        quarantine: (id, input) => admin.quarantine(id, input),
        annotate: (id, metadata) => admin.annotate(id, metadata),
      };
      return {
        commands,
        list: () => admin.list(),
        async close() {
          for (const client of [admin, ...agents.values()]) await client.close();
          await server.close();
        },
      };
    },
  };
}
