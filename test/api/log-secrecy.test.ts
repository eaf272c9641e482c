// No secret ever reaches the log: the log of a whole session, at the most verbose level, holds
// neither the admin token, nor the secrets of created tokens, nor a wrong secret someone tried.
import { describe, expect, it } from 'vitest'
import { generateSecret } from '../../packages/server/src/auth/tokens.js'
import { bearer, captureLogs, startApp } from '../support/helpers.js'

describe('the log of a full session', () => {
  it.each(['trace', 'info'])('holds no secret at level %s', async (logLevel) => {
    const adminToken = generateSecret()
    const logs = captureLogs()
    const app = await startApp({ logLevel, adminToken, authFailureLimit: 5 }, { logStream: logs.stream })
    const admin = bearer(adminToken)
    const send = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
      app.inject({ method, url, headers, payload, remoteAddress: '203.0.113.9' })

    // Create, toggle, roll out, evaluate.
    expect((await send('POST', '/flags', admin, { key: 'checkout', description: 'New checkout' })).statusCode).toBe(201)
    expect((await send('PATCH', '/flags/checkout', admin, { state: 'enabled' })).statusCode).toBe(200)
    expect((await send('PATCH', '/flags/checkout', admin, { state: 'percentage', percentage: 30, betaUsers: ['vip'] })).statusCode).toBe(200)
    expect((await send('POST', '/evaluate', admin, { flag: 'checkout', context: { userId: 'u1' } })).statusCode).toBe(200)

    // Tokens: create two, use them, revoke one.
    const created = []
    for (const [name, scope] of [
      ['checkout-service', 'evaluate'],
      ['ops', 'admin'],
    ] as const) {
      const res = await send('POST', '/tokens', admin, { name, scope })
      expect(res.statusCode).toBe(201)
      created.push(res.json() as { id: string; token: string })
    }
    expect((await send('POST', '/evaluate', bearer(created[0]!.token), { flags: ['checkout'], context: { userId: 'u2' } })).statusCode).toBe(200)
    expect((await send('GET', '/audit', bearer(created[1]!.token))).statusCode).toBe(200)
    expect((await send('DELETE', `/tokens/${created[1]!.id}`, admin)).statusCode).toBe(204)

    // An evaluate token on an admin route (403, not a failed authentication); then failed ones: a
    // wrong secret close to a real one, a revoked one, the admin secret under the wrong scheme and
    // in the URL, and no header: five failures, enough to be locked out.
    expect((await send('DELETE', '/flags/checkout', bearer(created[0]!.token))).statusCode).toBe(403)
    expect((await send('GET', '/flags', {})).statusCode).toBe(401)
    const wrong = `${adminToken.slice(0, -4)}abcd`
    expect((await send('PATCH', '/flags/checkout', bearer(wrong), { state: 'disabled' })).statusCode).toBe(401)
    expect((await send('GET', '/audit', bearer(created[1]!.token))).statusCode).toBe(401)
    expect((await send('GET', '/tokens', { authorization: `Basic ${adminToken}` })).statusCode).toBe(401)
    expect((await send('GET', `/tokens?token=${adminToken}`, {})).statusCode).toBe(401)
    expect((await send('POST', '/evaluate', bearer(wrong), { flag: 'checkout' })).statusCode).toBe(429)
    await app.close()

    const text = logs.text()
    expect(logs.records().length).toBeGreaterThan(5)
    expect(logs.records().some((r) => r.msg === 'token.created')).toBe(true)
    expect(logs.records().some((r) => r.msg === 'auth.locked_out')).toBe(true)
    for (const [what, secret] of [
      ['the admin token', adminToken],
      ['the wrong secret', wrong],
      ['the first created token', created[0]!.token],
      ['the second created token', created[1]!.token],
    ] as const) {
      expect(text.includes(secret), `${what} is in the log`).toBe(false)
      // Nor a long piece of it.
      expect(text.includes(secret.slice(3, 23)), `part of ${what} is in the log`).toBe(false)
    }
    expect(text).not.toMatch(/bearer /i)
    expect(text).not.toMatch(/authorization/i)
  })
})
