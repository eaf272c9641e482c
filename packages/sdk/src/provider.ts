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
 * `OpenFeature.setProviderAndWait(new SwitchyardProvider({ url, token }))`. A flag without variants
 * is boolean; one with variants is of its variants' type (an array variant is an object here, as
 * OpenFeature's JSON structures hold arrays, where OFREP answers GENERAL). Asked for another type,
 * a resolver answers the default with TYPE_MISMATCH; for an unknown flag, FLAG_NOT_FOUND.
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
    return this.resolve(flagKey, defaultValue, context, 'boolean')
  }

  async resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.resolve(flagKey, defaultValue, context, 'string')
  }

  async resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.resolve(flagKey, defaultValue, context, 'number')
  }

  async resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.resolve(flagKey, defaultValue, context, 'object')
  }

  /** In OFREP's order, so an answer is the one the OFREP provider gives: the context, the flag, the evaluation, then the type. */
  private resolve<T>(flagKey: string, defaultValue: T, context: EvaluationContext, type: 'boolean' | 'string' | 'number' | 'object'): ResolutionDetails<T> {
    const client = this.client
    if (!client) return failure(defaultValue, 'PROVIDER_NOT_READY', 'the Switchyard provider is not initialized')
    const mapped = fromOpenFeatureContext(context)
    if (mapped.error !== undefined) return failure(defaultValue, 'INVALID_CONTEXT', mapped.error)
    const result = toOfrep(flagKey, client.flag(flagKey), client.evaluate(flagKey, mapped.context), true)
    if (!isSuccess(result)) return failure(defaultValue, result.errorCode, result.errorDetails)
    // Arrays are objects to OpenFeature: a JSON structure.
    const served = typeof result.value
    if (served !== type) {
      return failure(defaultValue, 'TYPE_MISMATCH', `flag '${flagKey}' serves ${served === 'object' ? 'objects' : `${served}s`}, not ${type}s`)
    }
    return { value: result.value as T, reason: result.reason, variant: result.variant, flagMetadata: result.metadata }
  }
}

function failure<T>(value: T, code: string, message: string): ResolutionDetails<T> {
  return { value, reason: 'ERROR', errorCode: errorCode(code), errorMessage: message }
}
