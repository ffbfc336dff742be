import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/store/memory-store.js';
import { rejection } from '../support.js';
import { record } from './conformance.js';

describe('memoryStore', () => {
  it('is located at "memory" and names it when refusing a second open', async () => {
    const store = memoryStore();
    expect(store.location).toBe('memory');
    await store.open();
    const error = await rejection(store.open());
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain('memory');
  });

  it('keeps nothing in common between two instances', async () => {
    const one = memoryStore();
    await one.open();
    await one.commit(new Map([['a', record('a')]]));
    const { tasks } = await memoryStore().open();
    expect(tasks.size).toBe(0);
  });
});
