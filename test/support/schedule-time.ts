// The instants schedule tests are written in: a fixed T0 in the future (no step is ever in the past
// of the real clock) and ms arithmetic, so every test reads its steps the same way.
export const T0 = Date.parse('2030-03-02T09:00:00Z')
export const MINUTE = 60_000
export const HOUR = 3_600_000
export const DAY = 24 * HOUR
/** An instant in ms as the API writes it. */
export const at = (ms: number) => new Date(ms).toISOString()
