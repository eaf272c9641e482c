// A yes/no question on the terminal, for the commands that change a lot or cannot be undone.
import { createInterface } from 'node:readline/promises'

/** Asks on stderr, reads stdin; anything but y or yes is a no. */
export async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim())
  } finally {
    prompt.close()
  }
}
