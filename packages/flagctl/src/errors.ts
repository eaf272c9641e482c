// flagctl's exit codes and the errors that carry them, so scripts can trust what a run ended with.

export const EXIT = {
  ok: 0,
  /** Bad arguments, an invalid flags file, or a confirmation that cannot be asked. */
  usage: 1,
  /** The API answered with an error (its message is printed), including a concurrent-edit conflict. */
  refused: 2,
  /** The API could not be reached, timed out, or answered with something that is not the API. */
  network: 3,
  /** `plan`: the live state differs from the file. */
  changes: 10,
} as const

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage)
export const networkError = (message: string) => new CliError(message, EXIT.network)

/** The API refused a request; `code` is its error code (e.g. VERSION_MISMATCH). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message, EXIT.refused)
    this.name = 'ApiError'
  }
}
