// One task's recorded history (its audit) as a Mermaid `sequenceDiagram`: the supervisor
// and every owner as participants, one arrow per claim, heartbeat, expiry, release,
// completion, failure or compensation, each with its epoch and its time since creation
// (entries it does not know are drawn as notes).
// Answers "why did this task change hands?" from what the store recorded, not from logs.
import type { AuditEntry } from '../../machines/task.types.js';
import { mermaidText } from './mermaid.js';

export interface TraceInput {
  id: string;
  audit: readonly AuditEntry[];
}

/** `+0s`, `+850ms`, `+42s`, `+5m07s`, `+2h03m`, `+3d04h`. */
export function elapsed(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms);
  const s = Math.floor(abs / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (abs < 1000) return `${sign}${abs === 0 ? '0s' : `${abs}ms`}`;
  if (s < 60) return `${sign}${s}s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${sign}${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${sign}${Math.floor(s / 86_400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}

/**
 * An annotation's audit detail (the JSON of what it set) as `key: value, …`; a detail cut at
 * the audit's limit, or an older one holding only the keys, is shown as it is.
 */
function annotation(detail: string): string {
  try {
    const set = JSON.parse(detail) as unknown;
    if (set !== null && typeof set === 'object' && !Array.isArray(set)) {
      return Object.entries(set).map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(', ');
    }
  } catch {
    // not JSON: shown as recorded
  }
  return detail;
}

export function toTrace(task: TraceInput): string {
  const supervisor = 'S';
  const compensators = 'C';
  const participants = new Map<string, string>();
  const lines: string[] = [];
  const start = task.audit[0]?.at ?? 0;
  let usesCompensators = false;

  const actor = (owner: string | undefined) => {
    if (owner === undefined) return supervisor;
    let alias = participants.get(owner);
    if (!alias) {
      alias = `P${participants.size + 1}`;
      participants.set(owner, alias);
    }
    return alias;
  };
  const say = (from: string, arrow: string, to: string, text: string) => lines.push(`  ${from}${arrow}${to}: ${mermaidText(text)}`);
  const note = (over: string, text: string) => lines.push(`  Note over ${over}: ${mermaidText(text)}`);

  if (task.audit[0]?.event !== 'created') note(supervisor, 'older history rolled off the audit');
  for (const entry of task.audit) {
    const t = elapsed(entry.at - start);
    const epoch = entry.epoch === undefined ? '' : `epoch ${entry.epoch}`;
    const detail = entry.detail ?? '';
    const owner = entry.owner === undefined ? supervisor : actor(entry.owner);
    switch (entry.event) {
      case 'created':
        note(supervisor, `${t} task ${task.id} created (${new Date(entry.at).toISOString()})`);
        break;
      case 'claimed':
        say(owner, '->>', supervisor, `${t} claim`);
        say(supervisor, '-->>', owner, `lease granted, ${epoch}`);
        break;
      case 'reclaimed':
        say(owner, '->>', supervisor, `${t} claim`);
        say(supervisor, '-->>', owner, `lease granted, ${epoch}, taken over ${detail}`.trim());
        note(`${supervisor},${owner}`, 'recovery hand-off: previous owner, progress and last message');
        break;
      case 'heartbeat':
        say(owner, '->>', supervisor, `${t} heartbeat, ${epoch}${detail ? ` (${detail})` : ''}`);
        break;
      case 'late-heartbeat':
        say(owner, '->>', supervisor, `${t} late heartbeat in grace, ${epoch}${detail ? ` (${detail})` : ''}: lease renewed`);
        break;
      case 'late-progress':
        say(owner, '-x', supervisor, `${t} heartbeat refused (expired), ${epoch}: ${detail} kept for the hand-off`);
        break;
      case 'extended':
        say(owner, '->>', supervisor, `${t} extend, ${epoch}${detail ? ` (${detail})` : ''}`);
        break;
      case 'expired':
        say(supervisor, '--x', owner, `${t} lease expired, ${epoch}: grace period starts`);
        break;
      case 'grace-extended':
        say(supervisor, '-->>', owner, `${t} grace extended, ${epoch}${detail ? `: ${detail}` : ''}`);
        break;
      case 'grace-ended':
        say(supervisor, '--x', owner, `${t} grace ended, ${epoch}: claimable by anyone`);
        break;
      case 'released':
        say(owner, '->>', supervisor, `${t} release, ${epoch}${detail ? ` (${detail})` : ''}`);
        break;
      case 'completed':
        say(owner, '->>', supervisor, `${t} complete, ${epoch}`);
        note(supervisor, 'completed (terminal)');
        break;
      case 'failed':
        say(owner, '->>', supervisor, `${t} fail, ${epoch}: ${detail}`);
        note(supervisor, 'failed: compensations run newest first');
        break;
      case 'failed-retrying':
        say(owner, '->>', supervisor, `${t} fail (retryable), ${epoch}: ${detail}`);
        note(supervisor, 'back to planned after a backoff');
        break;
      case 'compensation-added':
        say(owner, '->>', supervisor, `${t} add compensation ${detail}, ${epoch}`);
        break;
      case 'compensation-done':
        usesCompensators = true;
        say(supervisor, '->>', compensators, `${t} run ${detail}`);
        say(compensators, '-->>', supervisor, 'done');
        break;
      case 'compensation-failed':
        usesCompensators = true;
        say(supervisor, '->>', compensators, `${t} run ${detail.split(':')[0]}`);
        say(compensators, '--x', supervisor, `failed: ${detail.slice(detail.indexOf(':') + 1).trim()}`);
        break;
      case 'compensated':
        note(supervisor, `${t} compensated (terminal): every compensation ran`);
        break;
      case 'quarantined':
        if (entry.owner !== undefined) say(owner, '->>', supervisor, `${t} quarantine: ${detail}`);
        note(supervisor, `${entry.owner === undefined ? `${t} ` : ''}quarantined (terminal)${entry.owner === undefined ? `: ${detail}` : ''}`);
        break;
      case 'annotated':
        note(supervisor, `${t} annotated (${annotation(detail)})`);
        break;
      default:
        note(owner, `${t} ${entry.event}${epoch ? `, ${epoch}` : ''}${detail ? `: ${detail}` : ''}`);
    }
  }

  const header = ['sequenceDiagram', `  participant ${supervisor} as supervisor`];
  for (const [owner, alias] of participants) header.push(`  participant ${alias} as ${mermaidText(owner)}`);
  if (usesCompensators) header.push(`  participant ${compensators} as compensators`);
  return `${[...header, ...lines].join('\n')}\n`;
}
