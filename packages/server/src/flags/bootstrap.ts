// FLAGS_BOOTSTRAP_FILE: seeds a store that has never been written with the flags of a flags
// file, so a fresh deployment starts with its defaults. Existing state is never touched.
import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../errors.js'
import { builtInActor, type BuiltInActor } from '../audit/audit.js'
import type { Snapshot } from '../store/store.js'
import type { FlagRegistry } from './registry.js'
import { FLAG_DEFAULTS } from '@switchyard/core/flags/schema'
import type { SegmentRegistry } from '../segments/registry.js'

/** Fatal at startup: StoreSync retries only an unavailable store, never this. */
class BootstrapError extends Error {
  override name = 'BootstrapError'
}

/** The name the audit trail and `updatedBy` record for flags the file created. */
export const BOOTSTRAP_ACTOR: BuiltInActor = 'flags-bootstrap-file'

/**
 * The StoreSync hook that runs after the first load. The file is read and validated on every
 * start, so a broken file stops the service now rather than on the day an empty store needs it.
 * Its flags are created only in a store that has never been written (no flags, change counter
 * 0): deleting every flag later does not bring the file's flags back at the next restart.
 */
export function flagsBootstrap(path: string, flags: FlagRegistry, segments: SegmentRegistry, log: FastifyBaseLogger): (snapshot: Snapshot) => Promise<void> {
  return async (snapshot) => {
    // Loaded here, not at startup: the parser (yaml, Ajv) is needed only when the variable is set.
    const { FlagsFileError, readFlagsFile } = await import('@switchyard/core/flags/flags-file')
    let file
    try {
      file = await readFlagsFile(path)
    } catch (err) {
      if (err instanceof FlagsFileError) throw new BootstrapError(`FLAGS_BOOTSTRAP_FILE is not a valid flags file:\n${err.problems.join('\n')}`)
      throw err
    }
    if (snapshot.seq !== 0 || snapshot.flags.length > 0 || (snapshot.segments ?? []).length > 0) {
      log.info({ file: path }, 'the store already holds state: FLAGS_BOOTSTRAP_FILE not loaded')
      return
    }
    const actor = builtInActor(BOOTSTRAP_ACTOR, 'startup', log)
    // Segments first: the flags' rules name them.
    for (const spec of file.segments ?? []) {
      try {
        await segments.create(spec, actor)
      } catch (err) {
        if (err instanceof AppError && err.code === 'SEGMENT_EXISTS') continue
        throw new BootstrapError(
          `FLAGS_BOOTSTRAP_FILE: could not create segment '${spec.key}' (${(err as Error).message}); ` +
            `the store now holds part of ${path} and will not be bootstrapped again: apply the rest with \`flagctl apply ${path}\``,
        )
      }
    }
    let created = 0
    for (const spec of file.flags) {
      try {
        // As flagctl apply sends it: a state or percentage the file leaves out is the default, which a
        // paused schedule keeps (a create without them would freeze the schedule's phase instead).
        await flags.create({ state: FLAG_DEFAULTS.state, percentage: FLAG_DEFAULTS.percentage, ...spec }, actor, { allowPast: true })
        created++
      } catch (err) {
        // Another replica bootstrapping the same empty store created it first.
        if (err instanceof AppError && err.code === 'FLAG_EXISTS') continue
        throw new BootstrapError(
          `FLAGS_BOOTSTRAP_FILE: could not create flag '${spec.key}' (${(err as Error).message}) after ${created} of ${file.flags.length}; ` +
            `the store now holds part of ${path} and will not be bootstrapped again: apply the rest with \`flagctl apply ${path}\``,
        )
      }
    }
    log.info({ file: path, created, segments: file.segments?.length ?? 0 }, 'flags bootstrapped from FLAGS_BOOTSTRAP_FILE')
  }
}
