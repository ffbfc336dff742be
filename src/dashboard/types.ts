// The API's shapes as the page reads them: the library's own types (type-only imports, nothing
// of the library runs here) and the dashboard reads of contract 14 part A.
import type { LifecycleEvent, TaskState } from '../../machines/task.types.js';
import type { SupervisorStats } from '../stats/types.js';
import type { Lease, TaskView } from '../task/view.js';

export type { Lease, LifecycleEvent, TaskState };
export type Task = TaskView;
export type Stats = SupervisorStats;
export type Role = 'admin' | 'agent' | 'viewer';

export interface WhoAmI {
  role: Role;
  owner: string | null;
}

/** `GET /v1/task-page`. */
export interface TaskPage {
  at: number;
  total: number;
  offset: number;
  limit: number;
  tasks: TaskView[];
}

/** `GET /v1/agents/activity`, one row. */
export interface AgentActivityRow {
  owner: string;
  leases: Lease[];
  lastHeartbeatAt: number | null;
  lastSeenAt: number | null;
  claims: number;
  completed: number;
  failed: number;
  released: number;
  reclaimedFrom: number;
  token: 'agent' | null;
}

/** `GET /v1/tasks/:id/events`: the task's events still in the server's ring, oldest first. */
export interface TaskRingEvents {
  events: { id: number; event: LifecycleEvent }[];
}
