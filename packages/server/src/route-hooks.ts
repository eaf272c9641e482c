// Route-level hooks, attached in onRoute: a hook that only some routes need costs the others nothing.

/** The route's hooks (none, one or a list, as Fastify accepts them) with `hook` run last. */
export function appendHook<T>(hooks: T | T[] | undefined, hook: T): T[] {
  return hooks === undefined ? [hook] : Array.isArray(hooks) ? [...hooks, hook] : [hooks, hook]
}

/** The route's hooks with `hook` run first, ahead of any the route declares itself. */
export function prependHook<T>(hooks: T | T[] | undefined, hook: T): T[] {
  return hooks === undefined ? [hook] : Array.isArray(hooks) ? [hook, ...hooks] : [hook, hooks]
}
