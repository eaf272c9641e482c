#!/usr/bin/env node
// The flagctl executable: runs the command line and exits with its code.
import { runFlagctl } from './program.js'

// A reader that stopped early (`flagctl export | head`) is not a failure of flagctl.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

// exitCode rather than exit(): stdout piped to another program is flushed before the process ends.
process.exitCode = await runFlagctl(process.argv)
