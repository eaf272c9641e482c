// The workspace layout ARCHITECTURE.md promises, checked from the import statements themselves:
// what each package may import, no import cycles between folders, and an SDK that loads nothing
// but Node.js and its own code at run time.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../support/helpers.js'

interface Import {
  specifier: string
  typeOnly: boolean
}

const PACKAGES = ['core', 'sdk', 'flagctl', 'server'] as const

function sources(pkg: string): string[] {
  const dir = join('packages', pkg, 'src')
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8')
  const found: Import[] = []
  for (const m of text.matchAll(/^(import|export)(\s+type)?\b[^'"]*?from\s+'([^']+)'/gm)) found.push({ specifier: m[3]!, typeOnly: !!m[2] })
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) found.push({ specifier: m[1]!, typeOnly: false })
  for (const m of text.matchAll(/await import\('([^']+)'\)/g)) found.push({ specifier: m[1]!, typeOnly: false })
  return found
}

/** A workspace specifier or a relative one, as the file it names (relative to the repository). */
function target(from: string, specifier: string): string | undefined {
  const workspace = /^@switchyard\/([^/]+)\/(.+)$/.exec(specifier)
  if (workspace) return join('packages', workspace[1]!, 'src', `${workspace[2]}.ts`)
  if (specifier.startsWith('.')) return normalize(join(dirname(from), specifier.replace(/\.js$/, '.ts')))
  return undefined
}

const packageOf = (file: string) => file.split('/')[1]!

describe('package boundaries', () => {
  it('lets core import no other package, and nothing import the server', () => {
    for (const pkg of PACKAGES) {
      for (const file of sources(pkg)) {
        for (const { specifier } of importsOf(file)) {
          const to = target(file, specifier)
          if (!to) continue
          const toPackage = packageOf(to)
          if (pkg === 'core') expect(toPackage, `${file} imports ${specifier}`).toBe('core')
          if (toPackage === 'server') expect(pkg, `${file} imports ${specifier}`).toBe('server')
          if (toPackage !== pkg) expect(specifier, `${file} reaches into another package by path`).toMatch(/^@switchyard\//)
        }
      }
    }
  })

  it('has no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>()
    for (const pkg of PACKAGES) {
      for (const file of sources(pkg)) {
        const from = dirname(file)
        for (const { specifier } of importsOf(file)) {
          const to = target(file, specifier)
          if (!to || dirname(to) === from) continue
          // A folder and its own subfolders are one concern (evaluation/ and evaluation/ofrep/).
          if (dirname(to).startsWith(`${from}/`) || from.startsWith(`${dirname(to)}/`)) continue
          if (!edges.has(from)) edges.set(from, new Set())
          edges.get(from)!.add(dirname(to))
        }
      }
    }
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const visit = (node: string, path: string[]) => {
      if (state.get(node) === 'done') return
      if (state.get(node) === 'open') return void cycles.push([...path.slice(path.indexOf(node)), node].join(' → '))
      state.set(node, 'open')
      for (const next of edges.get(node) ?? []) visit(next, [...path, node])
      state.set(node, 'done')
    }
    for (const node of edges.keys()) visit(node, [])
    expect(cycles).toEqual([])
  })

  it('loads nothing at run time in the SDK but Node.js, its own files and core files (the OpenFeature SDK only as types)', () => {
    const seen = new Set<string>()
    const external = new Set<string>()
    const queue = [join('packages', 'sdk', 'src', 'index.ts')]
    while (queue.length) {
      const file = queue.pop()!
      if (seen.has(file)) continue
      seen.add(file)
      for (const { specifier, typeOnly } of importsOf(file)) {
        if (typeOnly) continue
        const to = target(file, specifier)
        if (to) queue.push(to)
        else if (!specifier.startsWith('node:')) external.add(specifier)
      }
    }
    expect([...external].sort()).toEqual([])
    expect([...seen].map((f) => relative('packages', f).split('/')[0]).every((p) => p === 'sdk' || p === 'core')).toBe(true)
  })
})
