// The SDK and flagctl as a user outside this repository gets them (issue 17): packed, installed
// from the tarballs into a fresh project, and used there against a running service. Neither may
// bring a dependency along, and the SDK's types must stand on their own.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ADMIN, createFlag, createToken, REPO_ROOT, startApp, tempDir } from '../support/helpers.js'

const run = promisify(execFile)

describe('the packages a user installs', () => {
  it('packs @switchyard/sdk and @switchyard/flagctl, installs them in a project of their own with nothing else, and uses both there', async () => {
    // The packages ship what `npm run build` writes: brought up to date first (esbuild; tsc for the SDK's types).
    await run('npm', ['run', 'build', '-w', 'packages/core', '-w', 'packages/sdk', '-w', 'packages/flagctl'], { cwd: REPO_ROOT })
    const project = tempDir('switchyard-user-project-')
    onTestFinished(() => project.remove())
    const { stdout } = await run('npm', ['pack', '-w', 'packages/sdk', '-w', 'packages/flagctl', '--pack-destination', project.path, '--json'], {
      cwd: REPO_ROOT,
    })
    const tarballs = (JSON.parse(stdout) as { filename: string }[]).map((p) => p.filename)
    expect(tarballs.sort()).toEqual(['switchyard-flagctl-0.1.0.tgz', 'switchyard-sdk-0.1.0.tgz'])

    writeFileSync(join(project.path, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }))
    // --offline: nothing may come from the registry, since neither package depends on anything.
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs.map((t) => `./${t}`)], { cwd: project.path })
    const installed = readdirSync(join(project.path, 'node_modules')).filter((name) => !name.startsWith('.'))
    expect(installed).toEqual(['@switchyard'])
    expect(readdirSync(join(project.path, 'node_modules', '@switchyard')).sort()).toEqual(['flagctl', 'sdk'])

    const app = await startApp({ streamHeartbeatMs: 1000 })
    onTestFinished(() => app.close())
    await createFlag(app, { key: 'checkout_v2', state: 'beta_users', betaUsers: ['alice'] })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const { token } = await createToken(app, 'user-app', 'evaluate')

    // The SDK, in TypeScript as `tsc --init` sets it up (skipLibCheck): its declarations name nothing
    // the project lacks but the optional OpenFeature peer, and its types are real, not `any`.
    const declarations = readdirSync(join(project.path, 'node_modules', '@switchyard', 'sdk', 'dist')).filter((f) => f.endsWith('.d.ts'))
    for (const file of declarations) {
      expect(readFileSync(join(project.path, 'node_modules', '@switchyard', 'sdk', 'dist', file), 'utf8'), file).not.toMatch(/@switchyard\/core|typebox/)
    }
    writeFileSync(
      join(project.path, 'app.ts'),
      [
        "import { createClient, type Context, type Flag } from '@switchyard/sdk'",
        'const flags = await createClient({ url: process.env.SWITCHYARD_URL!, token: process.env.SWITCHYARD_TOKEN! })',
        '// @ts-expect-error: a state the model does not have (unused, this line fails the compile: the type would be any)',
        "const sideways: Flag['state'] = 'sideways'",
        'void sideways',
        "const alice: Context = { userId: 'alice' }",
        "const flag: Flag | undefined = flags.flag('checkout_v2')",
        "const bob = flags.isEnabled('checkout_v2', { userId: 'bob' })",
        "console.log(JSON.stringify({ alice: flags.isEnabled('checkout_v2', alice), bob, version: flag?.version }))",
        'await flags.close()',
        '',
      ].join('\n'),
    )
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    await run(
      process.execPath,
      [
        tsc,
        '--strict',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        join(REPO_ROOT, 'node_modules', '@types'),
        'app.ts',
      ],
      {
        cwd: project.path,
      },
    ).catch((err: { stdout?: string }) => {
      throw new Error(`the installed SDK's types do not type-check on their own:\n${err.stdout}`)
    })
    const env = { ...process.env, SWITCHYARD_URL: url, SWITCHYARD_TOKEN: token }
    const answer = await run(process.execPath, ['app.js'], { cwd: project.path, env })
    expect(JSON.parse(answer.stdout)).toEqual({ alice: true, bob: false, version: 1 })

    // flagctl, from the project's node_modules/.bin.
    const flagctl = join(project.path, 'node_modules', '.bin', 'flagctl')
    expect((await run(flagctl, ['--version'], { cwd: project.path })).stdout.trim()).toBe('0.1.0')
    const listed = await run(flagctl, ['list', '--json'], { cwd: project.path, env: { ...env, SWITCHYARD_TOKEN: ADMIN } })
    expect((JSON.parse(listed.stdout) as { flags: { key: string }[] }).flags.map((f) => f.key)).toEqual(['checkout_v2'])
  }, 120_000)
})
