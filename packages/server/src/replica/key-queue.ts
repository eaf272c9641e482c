// Writes to one record, one at a time within a replica: each drafts from what the one before it
// committed, so a replica's own writes never conflict with each other (issue 15: 100 concurrent
// PATCHes through one replica used to race each other into the retry limit).

/** Runs tasks for one key in arrival order, one at a time; tasks for other keys run alongside. */
export class KeyQueue {
  private readonly tails = new Map<string, Promise<void>>()

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    const result = previous.then(task)
    const tail = result.then(
      () => undefined,
      () => undefined,
    )
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }

  /** Keys with a write queued or running. */
  get size(): number {
    return this.tails.size
  }
}
