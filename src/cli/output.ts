// What the `leasehold` command prints, in one place so it speaks one language: results on
// stdout (readable lines, or JSON with --json), and every error — the library's, commander's
// usage errors, anything unexpected — on stderr as `leasehold: CODE: message`, or with --json
// as one object `{"error":{code, reason?, message, issues?}}` (the shape the HTTP API answers
// with), and never a stack trace. Nothing reaches stdout once a command has failed.
import { CommanderError } from 'commander';
import { errorBody, LeaseholdError, StoreLockedError, type Lease } from '../index.js';
import { counted } from '../stats/count.js';
import { EXIT_CODES } from './exit-codes.js';
import type { Overdue, ReadTaskView } from './reading.js';

export const iso = (ms: number) => new Date(ms).toISOString();

/** A deadline that passed, as the reading commands say it: shown, not acted on. */
export const overdueNote = (overdue: Overdue) =>
  `${overdue.deadline === 'lease' ? 'lease expired' : 'grace ended'} at ${iso(overdue.at)} (not yet processed)`;

export function taskLine(task: ReadTaskView): string {
  const line = [
    task.id.padEnd(24),
    task.substate.padEnd(16),
    `epoch ${task.epoch}`.padEnd(9),
    task.lease ? `${task.lease.owner} until ${iso(task.lease.expiresAt)}` : '',
    task.progress > 0 ? `${task.progress}%` : '',
  ]
    .join(' ')
    .trimEnd();
  return task.overdue ? `${line} — ${overdueNote(task.overdue)}` : line;
}

export const leaseLines = (lease: Lease) => [
  `${lease.taskId}: leased to ${lease.owner}, epoch ${lease.epoch}, expires ${iso(lease.expiresAt)} (renewals ${lease.renewals})`,
  ...(lease.recovery ? [`  hand-off: ${lease.recovery.instructions}`] : []),
];

export function showLines(task: ReadTaskView): string[] {
  return [
    taskLine(task),
    `${counted(task.attempts, 'attempt')}, expired ${counted(task.staleCount, 'time')}, priority ${task.priority}${task.labels.length > 0 ? `, labels ${task.labels.join(', ')}` : ''}`,
    ...(task.lease
      ? [`  lease: ${task.lease.owner} epoch ${task.lease.epoch}, acquired ${iso(task.lease.acquiredAt)}, expires ${iso(task.lease.expiresAt)}${task.lease.graceEndsAt ? `, grace until ${iso(task.lease.graceEndsAt)}` : ''}`]
      : []),
    ...(task.notBefore ? [`  retry not before ${iso(task.notBefore)}`] : []),
    ...task.compensations.map((c) => `  compensation #${c.seq} ${c.action}: ${c.status} (${counted(c.attempts, 'attempt')})${c.lastError ? ` — ${c.lastError}` : ''}`),
    ...(task.recovery ? [`  recovery: ${task.recovery.instructions}`] : []),
    ...(task.failure ? [`  failure: ${task.failure.error} (by ${task.failure.owner}, epoch ${task.failure.epoch})`] : []),
    ...(task.state === 'failed' ? ['  compensations wait for a supervisor with compensators (the CLI runs none)'] : []),
    ...(task.terminal ? [`  ended ${task.terminal.state}${task.terminal.reason ? `: ${task.terminal.reason}` : ''}`] : []),
    ...(Object.keys(task.metadata).length > 0 ? [`  metadata: ${JSON.stringify(task.metadata)}`] : []),
    'history:',
    ...task.audit.map((a) => `  ${iso(a.at)} ${a.event}${a.owner ? ` ${a.owner}` : ''}${a.epoch ? `@${a.epoch}` : ''}${a.detail ? ` — ${a.detail}` : ''}`),
  ];
}

/** A command's result: `value` as JSON with --json, else the readable lines `text` makes. */
export function print(value: unknown, json: boolean, text: () => string | string[]) {
  const readable = json ? '' : text();
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : Array.isArray(readable) ? readable.join('\n') : readable}\n`);
}

/** An error as the CLI reports it; under --json exactly this object, inside `{ error }`. */
export interface ErrorReport {
  code: string;
  reason?: string;
  message: string;
  issues?: string[];
}

/** Where a failed command was: for the hint after a usage error ("leasehold claim --help"). */
export interface ErrorContext {
  json: boolean;
  command: string | undefined;
}

/**
 * Reports `error` on stderr and returns the exit code. Commander's errors reach here
 * unprinted (its output hooks print nothing, see program()): those that end with exit 0
 * (--help, --version) have already written their text to stdout and report nothing.
 */
export function reportError(error: unknown, context: ErrorContext): number {
  if (error instanceof CommanderError && error.exitCode === 0) return 0;
  const report = errorReport(error);
  const exitCode = EXIT_CODES[report.code] ?? 1;
  if (context.json) {
    process.stderr.write(`${JSON.stringify({ error: report })}\n`);
    return exitCode;
  }
  const hints: string[] = [];
  if (error instanceof CommanderError) {
    hints.push(`run "leasehold${context.command ? ` ${context.command}` : ''} --help" for usage`);
  } else if (error instanceof StoreLockedError) {
    // Only a refused lock: a reading command that found the files changing under every read
    // (same code) took no lock, and trying again soon is all there is to say.
    // A daemon serving the store would have been gone through (remote.ts): this holder serves nothing.
    hints.push(
      'another process (an orchestrator or another leasehold command) holds this store and serves no API',
      '(no daemon file beside it, or one whose daemon does not answer); the CLI never writes around the lock.',
      'Try again once that process has closed the store, or have the orchestrator serve it',
      "(serve(sup) from 'leasehold/server'): the CLI then goes through its API.",
    );
  }
  process.stderr.write([`${report.code}: ${report.message}`, ...hints].map((line) => `leasehold: ${line}\n`).join(''));
  return exitCode;
}

function errorReport(error: unknown): ErrorReport {
  if (error instanceof LeaseholdError) return errorBody(error);
  if (error instanceof CommanderError) {
    // A usage error: an unknown command or option, a missing or malformed argument, found by
    // commander or by one of our option parsers. Commander's message starts "error: ".
    const message = error.code === 'commander.help' ? 'no command given' : error.message.replace(/^error: /, '');
    return { code: 'INVALID_INPUT', message };
  }
  // A bug, not the caller's fault: said in one line, like everything else (exit 1).
  return { code: 'INTERNAL_ERROR', message: error instanceof Error ? error.message : String(error) };
}
