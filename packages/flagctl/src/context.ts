// What every command receives: the API client, built on first use (so --help and `schema` need
// no token), and the output chosen by --json.
import { Api, connectionFrom, type ConnectionOptions } from './client.js'
import { createOutput, type Output } from './output.js'

export interface CommandContext {
  readonly api: Api
  readonly out: Output
}

export interface GlobalOptions extends ConnectionOptions {
  json?: boolean
}

export function createContext(options: GlobalOptions): CommandContext {
  let api: Api | undefined
  return {
    get api() {
      return (api ??= new Api(connectionFrom(options)))
    },
    out: createOutput(options.json === true),
  }
}
