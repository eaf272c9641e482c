// switchyard/client: the in-process SDK and its OpenFeature provider.
export { createClient, SwitchyardClientError } from './client.js'
export type { ChangeListener, ClientOptions, Context, EvaluationResult, Flag, FlagChange, SwitchyardClient } from './client.js'
export { SwitchyardProvider } from './provider.js'
