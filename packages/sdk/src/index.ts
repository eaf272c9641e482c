// switchyard/client: the in-process SDK and its OpenFeature provider.
export { createClient, SwitchyardClientError } from './client.js'
export type { ChangeListener, ClientOptions, Context, EvaluationResult, Flag, FlagChange, StateSource, SwitchyardClient } from './client.js'
export { SnapshotError, type BootstrapSnapshot } from './snapshot.js'
export { SwitchyardProvider } from './provider.js'
