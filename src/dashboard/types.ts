// The API's shapes as the page reads them: the library's own types (type-only imports, nothing
// of the library runs here) and the dashboard reads of contract 14 part A.
import type { LifecycleEvent, TaskState } from '../../machines/task.types.js';
import type { WhoAmI } from '../client/types.js';
import type { SupervisorStats } from '../stats/types.js';
import type { AgentActivity, TaskPage } from '../supervisor/options.js';
import type { Lease, TaskView } from '../task/view.js';

export type { Lease, LifecycleEvent, TaskPage, TaskState };
export type Task = TaskView;
export type Stats = SupervisorStats;
export type { WhoAmI };
export type Role = WhoAmI['role'];

/** `GET /v1/agents/activity`, one row: the library's activity and whether the owner has a live agent token. */
export type AgentActivityRow = AgentActivity & { token: 'agent' | null };

/** `GET /v1/tasks/:id/events`: the task's events still in the server's ring, oldest first. */
export interface TaskRingEvents {
  events: { id: number; event: LifecycleEvent }[];
}
