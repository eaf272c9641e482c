// Fastify's childLoggerFactory: a request's logger becomes a pino child (its request id bound,
// the redaction paths compiled for it) only when the request writes a line. Most evaluations
// never log, and the child cost about 1.2 µs of each one (docs/decisions/evaluate-overhead.md).
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type Options = Parameters<FastifyBaseLogger['child']>[1]
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

const enabled = (log: FastifyBaseLogger, level: Level) => (log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled(level)

class LazyRequestLogger {
  #real: FastifyBaseLogger | undefined

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly childBindings: Bindings,
  ) {}

  private get real(): FastifyBaseLogger {
    return (this.#real ??= this.parent.child(this.childBindings))
  }

  /** A line at a level the parent drops is dropped here too, without making the child. */
  private write(level: Level, args: unknown[]): void {
    if (this.#real === undefined && !enabled(this.parent, level)) return
    ;(this.real[level] as (...args: unknown[]) => void)(...args)
  }

  get level(): string {
    return this.#real?.level ?? this.parent.level
  }
  set level(level: string) {
    this.real.level = level
  }

  // Methods on the prototype: a request's logger allocates nothing but itself.
  fatal(...args: unknown[]): void {
    this.write('fatal', args)
  }
  error(...args: unknown[]): void {
    this.write('error', args)
  }
  warn(...args: unknown[]): void {
    this.write('warn', args)
  }
  info(...args: unknown[]): void {
    this.write('info', args)
  }
  debug(...args: unknown[]): void {
    this.write('debug', args)
  }
  trace(...args: unknown[]): void {
    this.write('trace', args)
  }
  silent(): void {}

  child(bindings: Bindings, options?: Options): FastifyBaseLogger {
    return this.real.child(bindings, options)
  }

  isLevelEnabled(level: Level): boolean {
    return enabled(this.#real ?? this.parent, level)
  }

  bindings(): Bindings {
    return (this.real as FastifyBaseLogger & { bindings(): Bindings }).bindings()
  }
}

/** Route-level logger options (a route's own logLevel) get a real child at once. */
export const lazyChildLoggers: NonNullable<FastifyServerOptions['childLoggerFactory']> = function (logger, bindings, options) {
  if (options && Object.keys(options).length > 0) return logger.child(bindings, options)
  return new LazyRequestLogger(logger, bindings) as unknown as FastifyBaseLogger
}
