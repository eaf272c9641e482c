// @switchyard/sdk (switchyard/client in a clone): the in-process SDK and its OpenFeature provider.
export { createClient, SwitchyardClientError } from './client.js'
export type { ChangeListener, ClientOptions, EvaluationEvent, FallbackError, FlagChange, StateSource, SwitchyardClient } from './client.js'
export type { ValueDetails } from './client.js'
export type {
  Clause,
  ClauseOperator,
  Context,
  Effective,
  EvaluationResult,
  Explanation,
  Flag,
  FlagState,
  Ramp,
  Guard,
  GuardPause,
  Reason,
  Rule,
  Schedule,
  ScheduleStep,
  Serve,
  SplitShare,
  Stickiness,
  Variant,
} from './types.js'
export { SnapshotError, type BootstrapSnapshot } from './snapshot.js'
export { SwitchyardProvider } from './provider.js'
