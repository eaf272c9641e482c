// An OpenFeature server provider on the SDK: OpenFeature users evaluate locally, with the
// reasons and error codes OFREP gives. Types only from @openfeature/*, so no runtime dependency.
import type {
  AnyProviderEvent,
  ErrorCode,
  EvaluationContext,
  EventContext,
  EventHandler,
  JsonValue,
  Provider,
  ProviderEventEmitter,
  ResolutionDetails,
} from '@openfeature/server-sdk'
import { fromOpenFeatureContext } from '@switchyard/core/evaluation/ofrep/context'
import { isSuccess, toOfrep } from '@switchyard/core/evaluation/ofrep/resolve'
import { createClient, type ClientOptions, type SwitchyardClient } from './client.js'

// The SDK's enums are runtime values; their string forms are the stable contract.
const errorCode = (code: string) => code as unknown as ErrorCode
const CONFIGURATION_CHANGED = 'PROVIDER_CONFIGURATION_CHANGED' as AnyProviderEvent

/** The smallest ProviderEventEmitter: the SDK subscribes, the provider emits. */
class ProviderEvents implements ProviderEventEmitter<AnyProviderEvent> {
  private readonly handlers = new Map<AnyProviderEvent, Set<EventHandler>>()

  emit(eventType: AnyProviderEvent, context?: EventContext): void {
    for (const handler of this.handlers.get(eventType) ?? []) {
      // The SDK's handlers add the provider's name to the details themselves. A handler's
      // failure is the application's concern, not the provider's.
      Promise.resolve()
        .then(() => handler(context as Parameters<EventHandler>[0]))
        .catch(() => undefined)
    }
  }

  addHandler(eventType: AnyProviderEvent, handler: EventHandler): void {
    let set = this.handlers.get(eventType)
    if (!set) this.handlers.set(eventType, (set = new Set()))
    set.add(handler)
  }

  removeHandler(eventType: AnyProviderEvent, handler: EventHandler): void {
    this.handlers.get(eventType)?.delete(handler)
  }

  removeAllHandlers(eventType?: AnyProviderEvent): void {
    if (eventType === undefined) this.handlers.clear()
    else this.handlers.delete(eventType)
  }

  getHandlers(eventType: AnyProviderEvent): EventHandler[] {
    return [...(this.handlers.get(eventType) ?? [])]
  }

  setLogger(): this {
    return this
  }
}

/**
 * `OpenFeature.setProviderAndWait(new SwitchyardProvider({ url, token }))`. Switchyard flags are
 * boolean: the other resolvers answer the default with TYPE_MISMATCH (FLAG_NOT_FOUND if absent).
 */
export class SwitchyardProvider implements Provider {
  readonly metadata = { name: 'switchyard' } as const
  readonly runsOn = 'server' as const
  readonly events = new ProviderEvents()
  private client: SwitchyardClient | undefined

  constructor(private readonly options: ClientOptions) {}

  async initialize(): Promise<void> {
    this.client = await createClient({
      ...this.options,
      onChange: (change) => {
        this.options.onChange?.(change)
        this.events.emit(CONFIGURATION_CHANGED, { flagsChanged: change.keys })
      },
    })
  }

  async onClose(): Promise<void> {
    const client = this.client
    this.client = undefined
    await client?.close()
  }

  async resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    const client = this.client
    if (!client) return failure(defaultValue, 'PROVIDER_NOT_READY', 'the Switchyard provider is not initialized')
    const mapped = fromOpenFeatureContext(context)
    if (mapped.error !== undefined) return failure(defaultValue, 'INVALID_CONTEXT', mapped.error)
    const result = toOfrep(flagKey, client.flag(flagKey), client.evaluate(flagKey, mapped.context))
    if (!isSuccess(result)) return failure(defaultValue, result.errorCode, result.errorDetails)
    return { value: result.value, reason: result.reason, variant: result.variant, flagMetadata: result.metadata }
  }

  async resolveStringEvaluation(flagKey: string, defaultValue: string): Promise<ResolutionDetails<string>> {
    return this.notBoolean(flagKey, defaultValue)
  }

  async resolveNumberEvaluation(flagKey: string, defaultValue: number): Promise<ResolutionDetails<number>> {
    return this.notBoolean(flagKey, defaultValue)
  }

  async resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T): Promise<ResolutionDetails<T>> {
    return this.notBoolean(flagKey, defaultValue)
  }

  private notBoolean<T>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
    if (!this.client?.flag(flagKey)) return failure(defaultValue, 'FLAG_NOT_FOUND', `flag '${flagKey}' does not exist`)
    return failure(defaultValue, 'TYPE_MISMATCH', `flag '${flagKey}' is boolean`)
  }
}

function failure<T>(value: T, code: string, message: string): ResolutionDetails<T> {
  return { value, reason: 'ERROR', errorCode: errorCode(code), errorMessage: message }
}
