/**
 * Which store a command works on (`--sqlite FILE` or `--pg URL [--schema NAME]`), and running a
 * command on it. The store modules and the database drivers are imported only here, when a
 * command opens its store: `--help` and bad usage never load them.
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import type * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { StoreUnavailable } from "../../ExecutorError.js"
import type { TaskStore } from "../../TaskStore.js"
import { type CliFailure, usageError } from "./failure.js"
import { textOption } from "./textOption.js"

/** A store named on the command line. */
export type Store =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "pg"; readonly url: string; readonly schema: string }

/** The store options as parsed, before they are checked. */
export interface StoreOptions {
  readonly sqlite: Option.Option<string>
  readonly pg: Option.Option<string>
  readonly schema: Option.Option<string>
}

/** The store options every command takes; exactly one of `--sqlite` and `--pg`. */
export const storeOptions: Options.Options<StoreOptions> = Options.all({
  sqlite: Options.optional(textOption("sqlite", "FILE", "The SQLite store file (it must exist); either --sqlite or --pg.")),
  pg: Options.optional(textOption("pg", "URL", "A PostgreSQL URL, e.g. postgres://user@localhost:5432/app; either --sqlite or --pg.")),
  schema: Options.optional(textOption("schema", "NAME", "The PostgreSQL schema of the tables (default effect_executor)."))
})

const DEFAULT_SCHEMA = "effect_executor"

const isPostgresUrl = (url: string): boolean => {
  try {
    const { protocol } = new URL(url)
    return protocol === "postgres:" || protocol === "postgresql:"
  } catch {
    return false
  }
}

/**
 * The store the options name. Checked after parsing rather than in the options themselves: an
 * unknown flag stops @effect/cli from matching the options after it, and its "unknown argument"
 * says more than "say which store".
 */
export const resolveStore = (options: StoreOptions): Effect.Effect<Store, ValidationError.ValidationError> => {
  const { pg, schema, sqlite } = options
  if (Option.isSome(sqlite) && Option.isSome(pg)) return Effect.fail(usageError("give either --sqlite or --pg, not both"))
  if (Option.isSome(sqlite)) {
    if (Option.isSome(schema)) return Effect.fail(usageError("--schema applies to --pg only"))
    return Effect.succeed({ _tag: "sqlite", filename: sqlite.value })
  }
  if (Option.isNone(pg)) return Effect.fail(usageError("say which store: --sqlite FILE or --pg URL"))
  if (!isPostgresUrl(pg.value)) {
    return Effect.fail(usageError("--pg needs a URL such as postgres://user@localhost:5432/app"))
  }
  const name = Option.getOrElse(schema, () => DEFAULT_SCHEMA)
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) {
    return Effect.fail(
      usageError(`bad --schema "${name.slice(0, 40)}" (lower-case letters, digits and _, starting with a letter or _)`)
    )
  }
  return Effect.succeed({ _tag: "pg", url: pg.value, schema: name })
}

/**
 * Runs `use` on the store that `options` name, opened for this run and closed after it, and prints
 * its answer.
 */
export const runOnStore = (
  options: StoreOptions,
  use: (store: TaskStore) => Effect.Effect<string, CliFailure | StoreUnavailable>
): Effect.Effect<void, CliFailure | ValidationError.ValidationError> =>
  resolveStore(options).pipe(
    Effect.flatMap((store) =>
      Effect.flatMap(Effect.promise(() => import("./connect.js")), (connect) => connect.useStore(store, use))
    ),
    Effect.flatMap(Console.log)
  )
