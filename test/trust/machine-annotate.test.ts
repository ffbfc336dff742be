// Issue #11 item 16: an annotation's audit entry keeps the values it set, so an overwritten
// value is still in the history (bounded: long metadata is cut with an ellipsis marker).
import { describe, expect, it } from 'vitest';
import { ANNOTATION_AUDIT_LIMIT } from '../../machines/task.machine.js';
import { harness } from '../support.js';

describe('annotate keeps its history in the audit', () => {
  it('records the values each annotation set, so an overwritten value is not lost', async () => {
    const { sup } = await harness();
    await sup.create({ id: 'a' });
    await sup.annotate('a', { ticket: 'OPS-12', reviewed: false });
    await sup.annotate('a', { ticket: 'OPS-13' });

    const view = sup.get('a')!;
    expect(view.metadata).toEqual({ ticket: 'OPS-13', reviewed: false });
    const annotated = view.audit.filter((entry) => entry.event === 'annotated').map((entry) => entry.detail);
    expect(annotated).toEqual(['{"ticket":"OPS-12","reviewed":false}', '{"ticket":"OPS-13"}']);
  });

  it('bounds the recorded values and marks the cut', async () => {
    const { sup } = await harness();
    await sup.create({ id: 'a' });
    await sup.annotate('a', { notes: 'x'.repeat(5_000) });

    const detail = sup.get('a')!.audit.at(-1)!.detail!;
    expect(ANNOTATION_AUDIT_LIMIT).toBe(1_000);
    expect(detail.length).toBe(ANNOTATION_AUDIT_LIMIT);
    expect(detail.startsWith('{"notes":"xxx')).toBe(true);
    expect(detail.endsWith('…')).toBe(true);
  });

  it('keeps the values of an annotation made on a terminal task too', async () => {
    const { sup } = await harness();
    await sup.create({ id: 'a' });
    await sup.quarantine('a', { by: 'ops', reason: 'poison' });
    await sup.annotate('a', { postmortem: 'PM-7' });
    expect(sup.get('a')!.audit.at(-1)).toMatchObject({ event: 'annotated', detail: '{"postmortem":"PM-7"}' });
  });
});
