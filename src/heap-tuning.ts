// V8 heap settings for a long-running server under steady request load.
import { setFlagsFromString } from 'node:v8'

/**
 * Turns off V8's allocation-site pretenuring. Under load, V8 sometimes decided early on to
 * allocate per-request objects straight into the old generation: every such object then lives
 * until a full mark-compact, the young objects it points to survive scavenges with it, and the
 * process stays in that state for its whole life: twice the CPU per request and a p99 three times
 * higher (heap sawing 25 → 110 MB with a mark-compact every half second). Under the benchmark's
 * load that happened to 5 of 33 Switchyard processes, and to none of 32 with pretenuring off
 * (bench/RESULTS.md). Short-lived request objects are what this server allocates most; they
 * are better off in the young generation. Call before serving; flags set later apply from then on.
 */
export function tuneHeap(): void {
  setFlagsFromString('--no-allocation-site-pretenuring')
}
