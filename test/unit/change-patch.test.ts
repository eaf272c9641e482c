// The change-patch format: applyPatch(before, diffRecord(before, after)) rebuilds `after` for any
// pair of records, a change to a large flag costs bytes in proportion to the change, not the list.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { applyPatch, diffRecord, PatchError, type RecordPatch } from '../../packages/core/src/replica/change-patch.js'
import { FLAG_DEFAULTS, type Flag } from '../../packages/core/src/flags/schema.js'

type Rec = Record<string, unknown>

/** Few ids, so lists overlap, repeat and collide across before and after. */
const id = fc.integer({ min: 0, max: 39 }).map((n) => `user-${n}`)
const idList = fc.oneof(fc.array(id, { maxLength: 30 }), fc.uniqueArray(id, { maxLength: 30 }))
const scalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null))
const nested = fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), idList), { maxKeys: 3 })
const value = fc.oneof(scalar, nested, { arbitrary: idList, weight: 2 })
/** Field names shared by before and after, so fields are kept, changed, added and removed. */
const field = fc.constantFrom('key', 'state', 'percentage', 'meta', 'betaUsers', 'betaTenants', 'tags', 'note')
const record = fc.dictionary(field, value, { maxKeys: 8 })

/** A list after an edit: some ids removed, some inserted (possibly repeats), possibly reordered. */
function editedList(list: readonly string[]): fc.Arbitrary<string[]> {
  return fc
    .record({
      // Mostly kept, so that many edits are small enough to travel as additions and removals.
      keep: fc.array(
        fc.nat(9).map((n) => n > 0),
        { minLength: list.length, maxLength: list.length },
      ),
      inserts: fc.array(fc.tuple(fc.oneof({ arbitrary: fc.constant('end' as const), weight: 3 }, fc.nat()), id), { maxLength: 4 }),
      order: fc.constantFrom('kept', 'kept', 'kept', 'reversed', 'shuffled'),
      shuffled: fc.shuffledSubarray([...list], { minLength: list.length, maxLength: list.length }),
    })
    .map(({ keep, inserts, order, shuffled }) => {
      const base = order === 'shuffled' ? shuffled : order === 'reversed' ? [...list].reverse() : [...list]
      const next = base.filter((_, i) => keep[i])
      for (const [at, x] of inserts) next.splice(at === 'end' ? next.length : at % (next.length + 1), 0, x)
      return next
    })
}

/** `after` as a mutation of `before`: each field kept, dropped, replaced, or (lists) edited; new fields added. */
const pair: fc.Arbitrary<[Rec, Rec]> = record.chain((before) => {
  const fields = Object.entries(before).map(([name, v]) => {
    type Outcome = { drop: true } | { value: unknown }
    const options: fc.WeightedArbitrary<Outcome>[] = [
      { arbitrary: fc.constant({ value: v }), weight: 1 },
      { arbitrary: fc.constant({ drop: true as const }), weight: 1 },
      { arbitrary: value.map((next) => ({ value: next })), weight: 1 },
    ]
    if (Array.isArray(v)) options.push({ arbitrary: editedList(v as string[]).map((next) => ({ value: next })), weight: 6 })
    return fc.oneof(...options).map((outcome) => [name, outcome] as const)
  })
  return fc.tuple(fc.tuple(...fields), fc.dictionary(field, value, { maxKeys: 3 })).map(([outcomes, added]) => {
    const after: Rec = { ...added }
    for (const [name, outcome] of outcomes) if ('value' in outcome) after[name] = outcome.value
    return [before, after] as [Rec, Rec]
  })
})

/** Records travel as JSON; the patch does too (the journal is JSON lines). */
const throughJson = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v)
    Object.freeze(x)
  }
  return x
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`)

function flagWith(betaUsers: string[], overrides: Partial<Flag> = {}): Flag {
  const at = new Date(0).toISOString()
  return { ...FLAG_DEFAULTS, key: 'big_flag', betaUsers, betaTenants: [], version: 3, createdAt: at, updatedAt: at, updatedBy: 'ops', ...overrides } as Flag
}

describe('diffRecord and applyPatch', () => {
  it('rebuild `after` from `before` for any pair of records, through JSON, without touching `before`', () => {
    fc.assert(
      fc.property(pair, ([b, a]) => {
        const before = deepFreeze(throughJson(b))
        const after = throughJson(a)
        const snapshot = structuredClone(before)
        const patch = throughJson(diffRecord(before, after))
        expect(patch.op).toBe('patch')
        expect(applyPatch(before, patch)).toEqual(after)
        expect(before).toEqual(snapshot)
      }),
      { numRuns: 2000 },
    )
  })

  it('send ids removed from and appended to a list as additions and removals when they are fewer than the list', () => {
    const edit = fc
      .uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 4, maxLength: 30 })
      .chain((list) =>
        fc.record({
          list: fc.constant(list),
          keep: fc.array(fc.boolean(), { minLength: list.length, maxLength: list.length }),
          appended: fc.uniqueArray(fc.string({ minLength: 7, maxLength: 9 }), { maxLength: 5 }),
        }),
      )
      .filter(({ list, keep, appended }) => {
        const removed = keep.filter((k) => !k).length
        return removed + appended.length > 0 && removed + appended.length < list.length - removed + appended.length
      })
    fc.assert(
      fc.property(edit, ({ list, keep, appended }) => {
        const next = [...list.filter((_, i) => keep[i]), ...appended]
        const patch = diffRecord({ key: 'k', betaUsers: list }, { key: 'k', betaUsers: next })
        expect(patch).toEqual({ op: 'patch', lists: { betaUsers: { add: appended, remove: list.filter((_, i) => !keep[i]) } } })
        expect(applyPatch({ key: 'k', betaUsers: list }, patch)).toEqual({ key: 'k', betaUsers: next })
      }),
      { numRuns: 500 },
    )
  })

  it('puts a created record whole and deletes a removed one', () => {
    const flag = flagWith(['alice'])
    expect(diffRecord(null, flag)).toEqual({ op: 'put', value: flag })
    expect(applyPatch(null, diffRecord(null, flag))).toEqual(flag)
    expect(diffRecord(flag, null)).toEqual({ op: 'delete' })
    expect(applyPatch(flag, diffRecord(flag, null))).toBeNull()
    expect(applyPatch(null, { op: 'delete' })).toBeNull()
  })

  it('makes an empty patch for an unchanged record, even with its lists copied', () => {
    const flag = flagWith(ids('user', 100))
    const patch = diffRecord(flag, { ...flag, betaUsers: [...flag.betaUsers], tags: [...flag.tags] })
    expect(patch).toEqual({ op: 'patch' })
    expect(applyPatch(flag, patch)).toEqual(flag)
  })

  it('names only the changed fields for a state toggle on a flag with 10,000 beta ids: under 1 KB', () => {
    const before = flagWith(ids('user', 10_000), { state: 'beta_users' })
    const after = { ...before, betaUsers: [...before.betaUsers], state: 'enabled' as const, version: 4, updatedAt: new Date(1).toISOString() }
    const patch = diffRecord(before, after)
    expect(patch).toEqual({ op: 'patch', set: { state: 'enabled', version: 4, updatedAt: after.updatedAt } })
    expect(Buffer.byteLength(JSON.stringify(patch))).toBeLessThan(1024)
    expect(applyPatch(before, throughJson(patch))).toEqual(after)
  })

  it('sends one id added to and one removed from a 10,000-id list as that addition and removal: under 1 KB', () => {
    const before = flagWith(ids('user', 10_000))
    const after = { ...before, betaUsers: [...before.betaUsers.filter((u) => u !== 'user-04242'), 'newcomer'], version: 4 }
    const patch = diffRecord(before, after)
    expect(patch).toEqual({ op: 'patch', set: { version: 4 }, lists: { betaUsers: { add: ['newcomer'], remove: ['user-04242'] } } })
    expect(Buffer.byteLength(JSON.stringify(patch))).toBeLessThan(1024)
    expect(applyPatch(before, throughJson(patch))).toEqual(after)
  })

  it('sends a list swapped for another whole, in `set`', () => {
    const before = flagWith(ids('old', 1000))
    const after = { ...before, betaUsers: ids('new', 1000) }
    const patch = diffRecord(before, after)
    expect(patch).toEqual({ op: 'patch', set: { betaUsers: after.betaUsers } })
    expect(applyPatch(before, throughJson(patch))).toEqual(after)
  })

  it('sends a list whole once its additions and removals are as long as the new list', () => {
    const before = { betaUsers: ['a', 'b', 'c', 'd'] }
    // Two removed and two added: 4 ids of patch for a 4-id list.
    expect(diffRecord(before, { betaUsers: ['a', 'b', 'x', 'y'] })).toEqual({ op: 'patch', set: { betaUsers: ['a', 'b', 'x', 'y'] } })
    // One removed and one added: 2 ids for a 4-id list, so a list patch.
    expect(diffRecord(before, { betaUsers: ['a', 'b', 'c', 'y'] })).toEqual({ op: 'patch', lists: { betaUsers: { add: ['y'], remove: ['d'] } } })
  })

  it.each([
    ['reversed', ids('user', 10), ids('user', 10).reverse()],
    ['with one id moved to the end', ids('user', 10), [...ids('user', 10).slice(1), 'user-00000']],
    ['with an id inserted in the middle', ids('user', 10), [...ids('user', 10).slice(0, 5), 'inserted', ...ids('user', 10).slice(5)]],
    ['with a repeated id dropped', [...ids('user', 10), 'user-00003'], ids('user', 10)],
  ])('sends a list %s whole, as additions and removals cannot reproduce it', (_what, list, next) => {
    const patch = diffRecord({ betaUsers: list }, { betaUsers: next })
    expect(patch).toEqual({ op: 'patch', set: { betaUsers: next } })
    expect(applyPatch({ betaUsers: list }, patch)).toEqual({ betaUsers: next })
  })

  it('unsets a removed field and sets an added one', () => {
    const patch = diffRecord({ key: 'k', note: 'gone' }, { key: 'k', extra: { nested: true } })
    expect(patch).toEqual({ op: 'patch', set: { extra: { nested: true } }, unset: ['note'] })
    expect(applyPatch({ key: 'k', note: 'gone' }, throughJson(patch))).toEqual({ key: 'k', extra: { nested: true } })
  })

  it('refuses with PatchError a patch for a record that does not exist', () => {
    expect(() => applyPatch(null, { op: 'patch', set: { state: 'enabled' } })).toThrow(PatchError)
    expect(() => applyPatch(null, { op: 'patch' })).toThrow('a patch names a record that does not exist')
  })

  it('refuses with PatchError a list edit on a field the record does not hold as a list', () => {
    const patch: RecordPatch = { op: 'patch', lists: { betaUsers: { add: ['x'], remove: [] } } }
    expect(() => applyPatch({ betaUsers: 'not a list' }, patch)).toThrow(PatchError)
    expect(() => applyPatch({}, patch)).toThrow("a patch edits list 'betaUsers', which the record does not hold as a list")
  })
})
