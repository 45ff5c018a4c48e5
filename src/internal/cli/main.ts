/**
 * The command line (`effect-executor list|status|retry|cancel|prune`), on @effect/cli: works
 * directly on a `TaskStore` (SQLite file or PostgreSQL schema), with no executor running.
 * `bin/effect-executor.mjs` imports this module from `dist/` and calls `main`.
 *
 * Exit codes: 0 done, 1 the store failed or refused, 2 bad usage. Errors are one line on stderr.
 *
 * @internal
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import { cancel } from "./cancel.js"
import { failureOfCause } from "./failure.js"
import { list } from "./list.js"
import { prune } from "./prune.js"
import { retry } from "./retry.js"
import { status } from "./status.js"
import { taskIdsAsArguments } from "./task.js"
import { isTextOption } from "./textOption.js"

const commands = [list, status, retry, cancel, prune] as const

// `effect-executor`: its subcommands do the work
const root = Command.make("effect-executor").pipe(
  Command.withDescription("Inspect and steer the tasks of an effect-executor store; no executor needs to run."),
  Command.withSubcommands(commands)
)

// (a descriptor, unlike a Command, is covariant: the five fit one parameter type)
const commandNames = commands.flatMap(({ descriptor }: { readonly descriptor: CommandDescriptor.Command<unknown> }) =>
  Array.from(CommandDescriptor.getNames(descriptor))
)

// dist/internal/cli/main.js and src/internal/cli/main.ts are as deep in the package
const { version } = createRequire(import.meta.url)("../../../package.json") as { readonly version: string }

const cli = Command.run(root, {
  name: "effect-executor",
  version,
  footer: HelpDoc.blocks([
    HelpDoc.p("effect-executor <command> --help describes the options of a command."),
    HelpDoc.p("Times are UTC. Exit codes: 0 done, 1 the store failed or refused, 2 bad usage.")
  ])
})

const environment = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  CliConfig.layer({ isCaseSensitive: true, showBuiltIns: false }),
  Logger.remove(Logger.defaultLogger)
)

/** What a run prints and its exit code. */
export interface Outcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: 0 | 1 | 2
}

const ansi = /\u001b\[[0-9;]*m/g

const oneLine = (message: string): string => message.replace(/\s*[\r\n]+\s*/g, " ").trim()

/** An @effect/cli error as one line, worded like the command line's own. */
const usageMessage = (error: ValidationError.ValidationError, argv: ReadonlyArray<string>): string => {
  const last = argv[argv.length - 1]!
  if (ValidationError.isCommandMismatch(error)) {
    return `unknown command "${argv[0]!.slice(0, 40)}" (expected ${commandNames.join(", ")})`
  }
  if (isTextOption(last)) return `${last} needs a value`
  // a word such as -abc is taken for short options: the error names none of them
  const cluster = argv.find((arg) => /^-[^-]/.test(arg))
  if (ValidationError.isUnclusteredFlag(error) && HelpDoc.isEmpty(error.error) && cluster !== undefined) {
    return `received unknown argument: '${cluster.slice(0, 40)}'`
  }
  const text = oneLine(HelpDoc.toAnsiText(error.error).replace(ansi, ""))
  return text === "" ? "bad usage; see --help" : text.charAt(0).toLowerCase() + text.slice(1)
}

/**
 * The console @effect/cli and the commands print to: it keeps what they print for `run` to answer
 * (help without colours unless `color`), and drops @effect/cli's own error reports, several
 * lines each, since `run` answers one line instead.
 */
const collectingConsole = (lines: Array<string>, color: boolean): Effect.Effect<Console.Console> =>
  Effect.map(Effect.console, (console) => ({
    ...console,
    log: (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        const text = args.join(" ").replace(/\n+$/, "")
        lines.push(color ? text : text.replace(ansi, ""))
      }),
    error: () => Effect.void
  }))

/** `help [command]` as `[command] --help`, and the dashed task IDs as arguments. */
const normalize = (argv: ReadonlyArray<string>): ReadonlyArray<string> =>
  taskIdsAsArguments(argv[0] === "help" ? [...argv.slice(1), "--help"] : argv)

/** Runs the command line `argv` (without `node` and the script) and answers what to print. */
export const run = (argv: ReadonlyArray<string>, options: { readonly color: boolean }): Promise<Outcome> => {
  if (argv.length === 0) {
    return Promise.resolve({
      stdout: "",
      stderr: `effect-executor: missing command (${commandNames.join(", ")}); see --help\n`,
      exitCode: 2
    })
  }
  const lines: Array<string> = []
  const program = Effect.flatMap(
    collectingConsole(lines, options.color),
    (console) => Effect.withConsole(cli(["node", "effect-executor", ...normalize(argv)]), console)
  )
  return Effect.runPromiseExit(Effect.provide(program, environment)).then((exit): Outcome => {
    if (Exit.isSuccess(exit)) return { stdout: lines.map((line) => `${line}\n`).join(""), stderr: "", exitCode: 0 }
    const failure = Cause.failureOption(exit.cause)
    const [message, exitCode] = Option.isSome(failure) && ValidationError.isValidationError(failure.value)
      ? [usageMessage(failure.value, argv), 2 as const]
      : [oneLine(failureOfCause(exit.cause).message), 1 as const]
    return { stdout: "", stderr: `effect-executor: ${message}\n`, exitCode }
  })
}

/** Runs the command line on the process: prints, and answers the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const color = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined
  const outcome = await run(argv, { color })
  if (outcome.stdout !== "") process.stdout.write(outcome.stdout)
  if (outcome.stderr !== "") process.stderr.write(outcome.stderr)
  return outcome.exitCode
}
