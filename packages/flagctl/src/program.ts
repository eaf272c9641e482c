// flagctl's command line: commander wiring only. Each action is a function in commands/, and
// every failure ends as one of the exit codes in errors.ts.
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { SCOPES } from '@switchyard/core/auth/schema'
import { FLAG_STATES, STICKINESS } from '@switchyard/core/flags/schema'
import { GUARD_ACTIONS, GUARD_DEFAULTS, MAX_GUARD_BREACHES } from '@switchyard/core/flags/schedule'
import { VERSION } from '@switchyard/core/version'
import { DEFAULT_URL } from './client.js'
import { createContext, type CommandContext, type GlobalOptions } from './context.js'
import { ApiError, CliError, EXIT } from './errors.js'
import { betaFlag, createFlag, deleteFlag, disableFlag, enableFlag, evaluateFlag, getFlag, listFlags } from './commands/flags.js'
import { acceptStore, createToken, listTokens, reseedStore, revokeToken, showAudit, showFleet } from './commands/admin.js'
import { addMembers, createSegment, deleteSegment, getSegment, listSegments, removeMembers } from './commands/segments.js'
import { clearVariants, listVariants, setVariants, setWeights } from './commands/variants.js'
import { clearSchedule, pauseSchedule, resumeSchedule, rollout, showSchedule } from './commands/schedule.js'
import { TARGETS_PER_REQUEST } from './client.js'

const HELP_FOOTER = `
Environment:
  SWITCHYARD_URL    the API base URL (--url wins; default ${DEFAULT_URL})
  SWITCHYARD_TOKEN  the API token (--token wins); reads need an evaluate or admin token, writes an admin one

Exit codes: 0 ok · 1 usage or invalid flags file · 2 the API refused (its message is printed) · 3 network · 10 plan found changes`

const repeatable = (value: string, previous: string[]) => [...previous, value]

/** `--attr name=value`: the value as JSON when it reads as a number, a boolean or a list (`12`, `true`, `["qa"]`), else as text. */
function attribute(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const eq = value.indexOf('=')
  if (eq < 1) throw new InvalidArgumentError('must be name=value')
  const raw = value.slice(eq + 1)
  let parsed: unknown = raw
  try {
    parsed = JSON.parse(raw)
  } catch {
    // Text.
  }
  const ok = ['string', 'number', 'boolean'].includes(typeof parsed) || (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string'))
  return { ...previous, [value.slice(0, eq)]: ok ? parsed : raw }
}

function percentage(value: string): number {
  const n = Number(value.replace(/%$/, ''))
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number from 0 to 100')
  return n
}

function positiveInteger(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number above 0')
  return n
}

function positiveNumber(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds above 0')
  return n
}

function revisionNumber(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError('must be a revision as the service returns it in X-Switchyard-Revision, e.g. 42')
  return Number(value)
}

type Action = (ctx: CommandContext, ...args: never[]) => Promise<number | void> | number | void

type AsCode = typeof import('./commands/as-code.js')
/** A flags-as-code command, loaded when used: the file parser and validator (yaml, Ajv) stay out of every other command's start-up. */
const asCode =
  (name: keyof AsCode): Action =>
  async (ctx, ...args) =>
    ((await import('./commands/as-code.js'))[name] as Action)(ctx, ...args)

function buildProgram(): { program: Command; exitCode(): number } {
  let exitCode: number = EXIT.ok
  // Commander passes the positional arguments, then the command's options, then the command.
  const run =
    (action: Action) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command
      const options = command.optsWithGlobals<GlobalOptions>()
      const code = await (action as (ctx: CommandContext, ...rest: unknown[]) => Promise<number | void>)(createContext(options), ...args.slice(0, -2), options)
      exitCode = code ?? EXIT.ok
    }

  const program = new Command('flagctl')
    .description('Operate a Switchyard flag service over its REST API, and keep flags as code (export → plan → apply).')
    .version(VERSION)
    .option('--url <url>', 'API base URL (or SWITCHYARD_URL)')
    .option('--token <token>', 'API token (or SWITCHYARD_TOKEN, which keeps it out of the process list)')
    .option('--json', 'print JSON for scripts instead of tables')
    .option('--timeout <seconds>', 'give up on a request after this long (default 10)', positiveNumber)
    .option('--min-revision <revision>', "read at least this revision (a write's X-Switchyard-Revision); a replica behind waits or answers 503", revisionNumber)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', HELP_FOOTER)

  program
    .command('list')
    .description('list flags, sorted by key')
    .addOption(new Option('--state <state>', 'only flags in this state').choices(FLAG_STATES))
    .option('--tag <tag>', 'only flags with this tag')
    .option('--scheduled', 'only flags with a schedule (STATE shows what it has in force)')
    .action(run(listFlags))
  program.command('get').description('show one flag').argument('<key>').action(run(getFlag))
  program
    .command('create')
    .description('create a flag (disabled until you enable it)')
    .argument('<key>', 'snake_case key')
    .option('--description <text>', 'what the flag is for')
    .option('--tag <tag>', 'a tag (repeatable)', repeatable, [])
    .action(run(createFlag))
  program.command('enable').description('switch a flag on for everyone').argument('<key>').action(run(enableFlag))
  program.command('disable').description('switch a flag off for everyone').argument('<key>').action(run(disableFlag))
  program
    .command('rollout')
    .description('roll a flag out to a percentage of users now, or over time: a ramp or steps (beta users and tenants stay in)')
    .argument('<key>')
    .argument('[percent]', 'now: 0 to 100, at most three decimals', percentage)
    .option('--ramp <from..to>', 'over time: the percentage rises (or falls) from one to the other, e.g. 1..100')
    .option('--over <duration>', 'how long the ramp takes: 90s, 30m, 12h, 7d')
    .option('--interval <duration>', 'the ramp moves in steps this long (e.g. 1h) rather than continuously')
    .option('--steps <percents>', 'over time: these percentages one after the other, e.g. 1,5,25,50,100')
    .option('--every <duration>', 'the time between steps, e.g. 1d')
    .option('--start <instant>', 'when the ramp or the first step starts: now (default) or an ISO-8601 instant, e.g. 2030-03-02T09:00:00Z')
    .addOption(new Option('--stickiness <field>', 'context value the rollout hashes').choices(STICKINESS))
    .option(
      '--guard <expression>',
      "with --ramp or --steps: watch a metric while the schedule runs, '<query> <comparator> <number>' (>, >=, <, <=; a sample that meets it is a breach)",
    )
    .option('--source <name>', 'where the guard reads the metric: prometheus (default) or a source the service is configured with')
    .addOption(
      new Option('--action <action>', 'what a tripped guard does (default pause; rollback: back to what was in force at the last healthy sample)').choices(
        GUARD_ACTIONS,
      ),
    )
    .option('--guard-interval <duration>', `how often the guard reads the metric, 5s to 1h (default ${GUARD_DEFAULTS.interval})`)
    .option('--breaches <n>', `breaching samples in a row that trip the guard, 1 to ${MAX_GUARD_BREACHES} (default ${GUARD_DEFAULTS.breaches})`)
    .option('--no-hold-on-error', 'let the schedule run on while the source cannot be read (by default it holds until it reads healthy)')
    .addHelpText(
      'after',
      `
Starting now, the flag is at the first percentage at once (in the same write) and the rest follows
on the service's clock: no process of yours needs to keep running. Examples:
  flagctl rollout copilot_v2 25
  flagctl rollout copilot_v2 --ramp 1..100 --over 7d --interval 1h
  flagctl rollout copilot_v2 --steps 1,5,25,50,100 --every 1d --start 2030-03-02T09:00:00Z
  flagctl rollout copilot_v2 --ramp 1..100 --over 7d --guard 'job:errors:ratio5m{job="checkout"} > 0.01' --action rollback
The guard's query is everything before its last comparator outside brackets and quotes (PromQL for
prometheus), and it goes in the same write as the schedule.
flagctl schedule show|pause|resume|clear copilot_v2 follows and stops it.`,
    )
    .action(run(rollout))
  program
    .command('beta')
    .description("add or remove beta users and tenants (their effect depends on the flag's state)")
    .argument('<key>')
    .addArgument(new Argument('<action>').choices(['add', 'remove']))
    .option('--user <id>', 'a user id (repeatable)', repeatable, [])
    .option('--tenant <id>', 'a tenant id (repeatable)', repeatable, [])
    .action(run(betaFlag))
  program
    .command('delete')
    .description('delete a flag (asks first on a terminal)')
    .argument('<key>')
    .option('-y, --yes', 'delete without asking')
    .action(run(deleteFlag))
  program
    .command('evaluate')
    .description('evaluate a flag for a user and/or tenant')
    .argument('<key>')
    .option('--user <id>', 'userId of the context')
    .option('--tenant <id>', 'tenantId of the context')
    .option('--attr <name=value>', 'a context attribute rules match on (repeatable); 12, true and ["a","b"] are read as JSON, "12" is text', attribute, {})
    .option('--explain', 'show each step the evaluation took: beta lists, rules, the rollout')
    .action(run(evaluateFlag))
  program
    .command('audit')
    .description('the audit trail, newest first')
    .argument('[key]', 'only events of this flag')
    .option('--actor <name>', 'only changes made with this token name')
    .option('--limit <n>', 'how many events (default 20, at most 1000)', positiveInteger, 20)
    .action(run(showAudit))

  const memberOptions = (command: Command) =>
    command
      .option('--users <ids>', 'user ids, comma-separated (repeatable)', repeatable, [])
      .option('--tenants <ids>', 'tenant ids, comma-separated (repeatable)', repeatable, [])
      .option('--users-file <file>', 'user ids, one a line (- for stdin)')
      .option('--tenants-file <file>', 'tenant ids, one a line (- for stdin)')
  const batches = `in requests of at most ${TARGETS_PER_REQUEST.toLocaleString('en')} ids`
  const segments = program.command('segments').description('manage segments: named audiences that rules target with in_segment')
  segments.command('list').description('list segments with their member counts, sorted by key').action(run(listSegments))
  segments.command('get').description('show one segment (--json prints every member)').argument('<key>').action(run(getSegment))
  memberOptions(
    segments
      .command('create')
      .description(`create a segment, members ${batches} (clauses: declare the segment in a flags file and apply it)`)
      .argument('<key>', 'lowercase, digits, _ and -')
      .option('--description <text>', 'who is in it'),
  ).action(run(createSegment))
  memberOptions(segments.command('add').description(`add members, ${batches}`).argument('<key>')).action(run(addMembers))
  memberOptions(segments.command('remove').description(`remove members, ${batches}`).argument('<key>')).action(run(removeMembers))
  segments
    .command('delete')
    .description("delete a segment (asks first on a terminal); refused while a flag's rules name it")
    .argument('<key>')
    .option('-y, --yes', 'delete without asking')
    .action(run(deleteSegment))

  const variants = program.command('variants').description("manage a flag's variants: the values it serves, and the weighted split that picks one")
  variants
    .command('list')
    .description("list a flag's variants in order (the order of its split), its offVariant marked")
    .argument('<flag>')
    .action(run(listVariants))
  variants
    .command('set')
    .description("replace a flag's variants with those given, in the order given (based on the version read)")
    .argument('<flag>')
    .option('--variant <key[:weight]=value>', 'a variant (repeatable, in split order); the value is read as JSON, else as text', repeatable, [])
    .option('--off <key>', 'the variant served when the flag is off (default: the flag keeps its own, if given again)')
    .addHelpText(
      'after',
      `
The weight (0 to 100, at most three decimals; none means 0) is the variant's share of the default split;
the weights must sum to 100. The value is JSON when it reads as JSON, else text:
  blue → "blue"   12 → 12   true → true   '"12"' → "12"   '{"limit":10}' → {"limit":10}   (null is refused)
Every variant of a flag holds one JSON type. Example:
  flagctl variants set checkout_colour --variant grey=grey --variant blue:50=blue --variant green:50=green --off grey`,
    )
    .action(run(setVariants))
  variants
    .command('weights')
    .description('change the weights of the variants named (the others keep theirs; the weights must sum to 100)')
    .argument('<flag>')
    .argument('<key=weight...>', 'e.g. blue=60 green=40')
    .action(run(setWeights))
  variants
    .command('clear')
    .description('remove every variant and the offVariant: the flag answers on or off again (refused while a rule names a variant)')
    .argument('<flag>')
    .option('-y, --yes', 'clear without asking')
    .action(run(clearVariants))

  const schedule = program.command('schedule').description("follow and stop a flag's schedule (flagctl rollout --ramp or --steps sets one)")
  schedule
    .command('show')
    .description('each step or the ramp, what is in force now, and the next transition with how long until it')
    .argument('<key>')
    .action(run(showSchedule))
  schedule
    .command('pause')
    .description('freeze the flag at what its schedule has in force now (based on the version read)')
    .argument('<key>')
    .action(run(pauseSchedule))
  schedule
    .command('resume')
    .description('go on where it was paused: what is left of the schedule moves later by the time it was paused')
    .argument('<key>')
    .action(run(resumeSchedule))
  schedule
    .command('clear')
    .description('remove the schedule (asks first on a terminal); the flag keeps the state and percentage in force')
    .argument('<key>')
    .option('-y, --yes', 'clear without asking')
    .action(run(clearSchedule))

  const tokens = program.command('tokens').description('manage API tokens')
  tokens.command('list').description('list tokens (never their secrets)').action(run(listTokens))
  tokens
    .command('create')
    .description('create a named token; its secret is printed this once')
    .argument('<name>')
    .addOption(new Option('--scope <scope>', 'what the token may do').choices(SCOPES).default('evaluate'))
    .action(run(createToken))
  tokens.command('revoke').description('revoke a token').argument('<id>').action(run(revokeToken))

  program.command('fleet').description('every live replica: its epoch, revision, lag and state hash (from the heartbeats in the store)').action(run(showFleet))
  program
    .command('reseed')
    .description('after the store lost data: write the state of the replica at --url back, under a new epoch every replica adopts')
    .action(run(reseedStore))
  program
    .command('accept-store')
    .description('after the store lost data: go on with what it holds now (only ADMIN_TOKEN remains), under a new epoch')
    .option('-y, --yes', 'accept without asking')
    .action(run(acceptStore))

  program
    .command('export')
    .description('write the live flags as a flags file (sorted and stable, for git)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .addOption(new Option('--format <format>', 'file format (default: json for a .json file or with --json, else yaml)').choices(['yaml', 'json']))
    .action(run(asCode('exportFlags')))
  program
    .command('plan')
    .description('show what apply would change; exits 10 when something would (a CI drift check)')
    .argument('<file>', 'flags file (YAML or JSON; - for stdin)')
    .option('--prune', 'also delete flags the file does not mention')
    .action(run(asCode('planFlags')))
  program
    .command('apply')
    .description('make the live flags match a flags file, stopping at the first concurrent edit')
    .argument('<file>', 'flags file (YAML or JSON; - for stdin, with --yes)')
    .option('--prune', 'also delete flags the file does not mention')
    .option('-y, --yes', 'apply without asking for confirmation')
    .action(run(asCode('applyFlags')))
  program
    .command('schema')
    .description('print the JSON Schema of the flags file')
    .action(run(asCode('printSchema')))

  return { program, exitCode: () => exitCode }
}

/** Runs flagctl on `argv` (as process.argv) and answers its exit code; it never throws. */
export async function runFlagctl(argv: readonly string[]): Promise<number> {
  const { program, exitCode } = buildProgram()
  try {
    await program.parseAsync([...argv])
    return exitCode()
  } catch (err) {
    // Commander has already printed its usage error (or the help / version asked for).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    process.stderr.write(`flagctl: ${describeFailure(err)}\n`)
    return err instanceof CliError ? err.exitCode : EXIT.usage
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof ApiError) return `the API refused (${err.status} ${err.code}): ${err.message}`
  if (err instanceof CliError) return err.message
  return `unexpected error: ${(err as Error).stack ?? String(err)}`
}
