// leasehold/client: `connect({ url, token })` — the supervisor's methods over the HTTP API v1
// of a daemon (`leasehold serve`, or `serve(sup)` in another process), with the library's
// types and errors. Only `connect` and its types leave this entry.
export { connect } from './connect.js';
export type {
  AgentActivity,
  AgentActivityWithToken,
  Client,
  ConnectOptions,
  Lease,
  LifecycleEventType,
  ListFilter,
  Listener,
  Logger,
  Owned,
  OwnerProof,
  SupervisorStats,
  TaskPage,
  TaskQuery,
  TaskState,
  TaskView,
  WhoAmI,
} from './types.js';
