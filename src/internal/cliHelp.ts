/**
 * The command line's help, in a module of its own with no imports: `bin/effect-executor.mjs`
 * answers `--help` from it without loading Effect and the rest of `cli.ts` (a tenth of the time).
 *
 * @internal
 */

export const usage = `Usage: effect-executor <command> [options] (--sqlite FILE | --pg URL [--schema NAME])

Inspect and steer the tasks of an effect-executor store; no executor needs to run.

Commands:
  list [--state S] [--queue Q] [--limit N]  recent tasks, newest first, and counts by queue and state
  status ID                                 one task: state, attempts, times, result or error
  retry ID                                  run a failed or interrupted task again from its first attempt
  cancel ID                                 interrupt a held or queued task now; ask a running one to stop
  prune [--older-than DURATION]             delete tasks that finished longer ago than DURATION

Store (exactly one):
  --sqlite FILE        the SQLite store file (it must exist)
  --pg URL             a PostgreSQL URL, e.g. postgres://user@localhost:5432/app
  --schema NAME        the PostgreSQL schema of the tables (default effect_executor)

Options:
  --state S            held, queued, running, succeeded, failed or interrupted
  --queue Q            only the tasks of queue Q
  --limit N            at most N tasks, 1 to 10000 (default 20)
  --older-than D       a duration such as 90s, 30m, 1h, 7d (default 1h)
  --json               print JSON instead of tables
  -h, --help           print this help

Times are UTC. Exit codes: 0 done, 1 the store failed or refused, 2 bad usage.
`

/** Whether the command line asks for help: `-h` or `--help` before any `--`, or the command `help`. */
export const asksForHelp = (argv: ReadonlyArray<string>): boolean => {
  const endOfOptions = argv.indexOf("--")
  const optionPart = endOfOptions === -1 ? argv : argv.slice(0, endOfOptions)
  return optionPart.includes("--help") || optionPart.includes("-h") || optionPart[0] === "help"
}
