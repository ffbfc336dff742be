import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonFileStore } from '../../src/store/json-file-store.js';
import { memoryStore } from '../../src/store/memory-store.js';
import { describeStoreConformance } from './conformance.js';

describeStoreConformance('memoryStore', () => {
  // One object stands for the process-wide data; "restarting" reuses it.
  const store = memoryStore();
  return Promise.resolve({ connect: () => store, cleanup: () => store.close() });
});

describeStoreConformance('jsonFileStore({ journal: false })', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'leasehold-store-'));
  const file = join(dir, 'nested', 'store.json');
  return {
    connect: () => jsonFileStore(file, { journal: false }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeStoreConformance('jsonFileStore (journaled, the default)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'leasehold-store-'));
  const file = join(dir, 'nested', 'store.json');
  return {
    connect: () => jsonFileStore(file),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeStoreConformance('jsonFileStore with a journal compacted after every commit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'leasehold-store-'));
  const file = join(dir, 'store.json');
  return {
    connect: () => jsonFileStore(file, { journal: true, compactBytes: 0 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
