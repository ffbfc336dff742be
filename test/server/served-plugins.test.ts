// The event stream and the metrics as serve() wires them: the stream is a /v1 route behind the
// bearer check (any role), the metrics need no token, and both see the calls made through HTTP.
import { describe, expect, it } from 'vitest';
import { ADMIN, served } from './support.js';

describe('serve() with its event stream and metrics', () => {
  it('refuses the event stream without a token and streams to a viewer', async () => {
    const s = await served();
    expect((await s.call('GET', '/v1/events')).status).toBe(401);
    const viewer = await s.mint('watcher', 'viewer');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    try {
      const response = await fetch(`${s.url}/v1/events`, { headers: { authorization: `Bearer ${viewer}` }, signal: controller.signal });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const agent = await s.mint('alice');
      await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
      expect((await s.call('POST', '/v1/tasks/t/claim', { token: agent, body: {} })).status).toBe(200);
      const reader = response.body!.getReader();
      let text = '';
      while (!text.includes('event: claimed')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toMatch(/id: 1\nevent: claimed\ndata: \{[^\n]*"owner":"alice"/);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  });

  it('serves /metrics without a token, counting the calls made through the API', async () => {
    const s = await served();
    const agent = await s.mint('alice');
    await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
    await s.call('POST', '/v1/tasks/t/claim', { token: agent, body: {} });
    const metrics = await s.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^leasehold_tasks\{state="leased"\} 1$/m);
    expect(metrics.text).toMatch(/^leasehold_http_requests_total\{method="POST",route="\/v1\/tasks\/:id\/claim",status="200"\} 1$/m);
  });
});
