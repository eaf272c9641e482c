// POST /flags/:key/targets: atomic additions to and removals from the beta lists (issue 15).
import { afterAll, describe, expect, it } from 'vitest'
import { call, createFlag, getFlag, listAudit, startApp, updateFlag } from '../support/helpers.js'

const app = await startApp()
afterAll(() => app.close())

const targets = (key: string, body: Record<string, unknown>, expected = 200) => call(app, 'POST', `/flags/${key}/targets`, { body, expected })

describe('POST /flags/:key/targets', () => {
  it('adds and removes ids in one step, keeps the lists in order without duplicates, and answers the flag with its ETag', async () => {
    await createFlag(app, { key: 'edited', state: 'beta_users', betaUsers: ['keep', 'drop'], betaTenants: ['acme'] })
    const res = await targets('edited', { add: { users: ['new', 'keep'], tenants: ['globex'] }, remove: { users: ['drop'], tenants: ['acme'] } })
    expect(res.json()).toMatchObject({ betaUsers: ['keep', 'new'], betaTenants: ['globex'], version: 2, state: 'beta_users' })
    expect(res.headers.etag).toBe('"2"')
  })

  it('records the ids added and removed in the audit event', async () => {
    await createFlag(app, { key: 'audited_targets', betaUsers: ['a'] })
    await targets('audited_targets', { add: { users: ['b', 'c'] }, remove: { users: ['a'] } })
    const [event] = (await listAudit(app, { flag: 'audited_targets', limit: 1 })).events
    expect(event).toMatchObject({ action: 'flag.updated', version: 2, changes: { betaUsers: { added: ['b', 'c'], removed: ['a'] } } })
  })

  it('writes nothing when every id is already where the edit puts it', async () => {
    await createFlag(app, { key: 'unchanged', betaUsers: ['a'] })
    expect((await targets('unchanged', { add: { users: ['a'] }, remove: { tenants: ['nobody'] } })).json()).toMatchObject({ version: 1 })
    expect((await listAudit(app, { flag: 'unchanged' })).events).toHaveLength(1)
  })

  it('applies on top of a change it did not read: no If-Match, nothing overwritten', async () => {
    await createFlag(app, { key: 'layered', betaUsers: ['first'] })
    await updateFlag(app, 'layered', { state: 'enabled', betaUsers: ['first', 'second'] })
    expect((await targets('layered', { add: { users: ['third'] } })).json()).toMatchObject({ state: 'enabled', betaUsers: ['first', 'second', 'third'] })
  })

  it('matches ids in NFC: removing the NFD form of a stored id removes it', async () => {
    await createFlag(app, { key: 'nfc_targets', betaUsers: ['jos\u00e9'] })
    expect((await targets('nfc_targets', { remove: { users: ['jose\u0301'] } })).json()).toMatchObject({ betaUsers: [] })
  })

  it('refuses bad input with 400 naming the field, and changes nothing', async () => {
    await createFlag(app, { key: 'guarded', betaUsers: ['a'] })
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'body'],
      [{ add: { users: ['x'] }, remove: { users: ['x'] } }, 'body.add.users[0]'],
      [{ add: { groups: ['x'] } }, 'body.add.groups'],
      [{ add: { users: [''] } }, 'body.add.users[0]'],
      [{ add: { users: 'x' } }, 'body.add.users'],
    ]
    for (const [body, field] of cases) expect((await targets('guarded', body, 400)).json().field, JSON.stringify(body)).toBe(field)
    expect(await getFlag(app, 'guarded')).toMatchObject({ betaUsers: ['a'], version: 1 })
  })

  it('refuses a list past 10,000 ids, and answers 404 for an unknown flag', async () => {
    await createFlag(app, { key: 'full', betaUsers: Array.from({ length: 10_000 }, (_, i) => `u${i}`) })
    expect((await targets('full', { add: { users: ['one-more'] } }, 400)).json()).toMatchObject({ field: 'body.add.users' })
    expect((await getFlag(app, 'full')).version).toBe(1)
    expect((await targets('missing', { add: { users: ['a'] } }, 404)).json()).toMatchObject({ code: 'FLAG_NOT_FOUND' })
  })

  it('needs an admin token', async () => {
    await call(app, 'POST', '/flags/edited/targets', { body: { add: { users: ['x'] } }, token: null, expected: 401 })
  })
})
