// V8 heap settings for a long-running server under steady request load.
import { setFlagsFromString } from 'node:v8'

/** Turns off V8's allocation-site pretenuring: why, and the figures, in docs/decisions/heap-pretenuring.md. */
export function tuneHeap(): void {
  setFlagsFromString('--no-allocation-site-pretenuring')
}
