// The service's credentials: the admin token, and the agent and viewer tokens the admin mints.
// Owns how they are kept: only SHA-256 hashes (hex) with owner, role, createdAt and revokedAt,
// in `<store>.tokens.json` (mode 0600, written atomically: temp + fsync + rename, under a lock
// so the CLI and a daemon never lose each other's changes) or in memory for a store that is
// not a file. A token is compared in constant time and shown only once, when it is minted.
// (A PostgreSQL store's daemons share theirs in a table instead: postgres-tokens.ts.)
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { AgentNotFoundError, DuplicateAgentError, StoreCorruptError } from '../errors.js';
import { writeFileAtomically } from '../store/files.js';

export type Role = 'admin' | 'agent' | 'viewer';

/** Who is calling: the admin, or an agent or viewer bound to its owner. */
export type Identity = { role: 'admin' } | { role: 'agent' | 'viewer'; owner: string };

export interface TokenRecord {
  /** SHA-256 of the token, hex. */
  hash: string;
  owner: string;
  role: 'agent' | 'viewer';
  createdAt: number;
  revokedAt?: number;
}

const tokensDocument = z.strictObject({
  version: z.literal(1),
  tokens: z.array(
    z.strictObject({
      hash: z.string().regex(/^[0-9a-f]{64}$/),
      owner: z.string().min(1),
      role: z.enum(['agent', 'viewer']),
      createdAt: z.number(),
      revokedAt: z.number().optional(),
    }),
  ),
});

/** A new secret: 32 random bytes, base64url. */
export const newToken = () => randomBytes(32).toString('base64url');

export const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const sameHash = (a: string, b: string) => timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));

/** Who holds `token` among the admin's hash and the live `records`, or undefined. */
export function identifyIn(adminHash: string, records: readonly TokenRecord[], token: string): Identity | undefined {
  const hash = hashOf(token);
  if (sameHash(hash, adminHash)) return { role: 'admin' };
  let found: TokenRecord | undefined;
  // Every live record is compared, so the time taken does not say which one matched.
  for (const record of records) if (record.revokedAt === undefined && sameHash(hash, record.hash) && found === undefined) found = record;
  return found && { role: found.role, owner: found.owner };
}

/** What the server needs of a token registry, wherever it keeps the hashes. */
export interface TokenRegistry {
  /** Who holds `token` by what this registry knows now, or undefined for none (unknown or revoked). */
  identify(token: string): Identity | undefined;
  /** After a miss: reads the shared hashes again (a token just minted by another daemon), then identifies. */
  identifyFresh?(token: string): Promise<Identity | undefined>;
  /** A new token for `owner` (shown once: only its hash is kept). */
  mint(owner: string, role: 'agent' | 'viewer'): Promise<{ owner: string; role: 'agent' | 'viewer'; token: string }>;
  /** Revokes every live token of `owner`; how many. */
  revoke(owner: string): Promise<{ owner: string; revoked: number }>;
  /** The live tokens, without their hashes. */
  list(): { owner: string; role: 'agent' | 'viewer'; createdAt: number }[] | Promise<{ owner: string; role: 'agent' | 'viewer'; createdAt: number }[]>;
  close?(): Promise<void>;
}

export interface TokenRegistryOptions {
  adminToken: string;
  /** Where the hashes live; none: in memory only. */
  file?: string;
  now?: () => number;
}

export function createTokenRegistry({ adminToken, file, now = () => Date.now() }: TokenRegistryOptions): TokenRegistry & { list(): { owner: string; role: 'agent' | 'viewer'; createdAt: number }[] } {
  const adminHash = hashOf(adminToken);
  let records: TokenRecord[] = [];
  /** The file as last read (size, mtime, inode): a change made by another process is read again. */
  let seen = '';

  const version = () => {
    try {
      const stat = statSync(file!, { bigint: true });
      return `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    } catch {
      return 'absent';
    }
  };

  const load = () => {
    if (file === undefined) return;
    const current = version();
    if (current === seen) return;
    seen = current;
    if (current === 'absent') {
      records = [];
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new StoreCorruptError(file, `not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    const result = tokensDocument.safeParse(parsed);
    if (!result.success) throw new StoreCorruptError(file, result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
    records = result.data.tokens;
  };

  const save = async () => {
    if (file === undefined) return;
    await writeFileAtomically(file, `${JSON.stringify({ version: 1, tokens: records }, null, 2)}\n`, 0o600);
    seen = version();
  };

  /** Runs a change on the file's latest contents, holding its lock (the CLI and a daemon may both write). */
  const change = async <T>(work: () => T): Promise<T> => {
    if (file === undefined) return work();
    const release = await lockfile.lock(file, { realpath: false, stale: 10_000, retries: { retries: 50, minTimeout: 10, maxTimeout: 100 } });
    try {
      seen = '';
      load();
      const result = work();
      await save();
      return result;
    } finally {
      await release();
    }
  };

  const live = () => records.filter((record) => record.revokedAt === undefined);

  load();

  return {
    /** Who holds `token`, or undefined for none (unknown or revoked). */
    identify(token: string): Identity | undefined {
      load();
      return identifyIn(adminHash, records, token);
    },

    /** A new token for `owner` (shown once: only its hash is kept). */
    mint(owner: string, role: 'agent' | 'viewer'): Promise<{ owner: string; role: 'agent' | 'viewer'; token: string }> {
      return change(() => {
        if (live().some((record) => record.owner === owner && record.role === role)) throw new DuplicateAgentError(owner, role);
        const token = newToken();
        records = [...records, { hash: hashOf(token), owner, role, createdAt: now() }];
        return { owner, role, token };
      });
    },

    /** Revokes every live token of `owner`; how many. */
    revoke(owner: string): Promise<{ owner: string; revoked: number }> {
      return change(() => {
        const at = now();
        let revoked = 0;
        records = records.map((record) => {
          if (record.owner !== owner || record.revokedAt !== undefined) return record;
          revoked++;
          return { ...record, revokedAt: at };
        });
        if (revoked === 0) throw new AgentNotFoundError(owner);
        return { owner, revoked };
      });
    },

    /** The live tokens, without their hashes. */
    list(): { owner: string; role: 'agent' | 'viewer'; createdAt: number }[] {
      load();
      return live().map(({ owner, role, createdAt }) => ({ owner, role, createdAt }));
    },
  };
}
