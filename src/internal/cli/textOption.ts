/**
 * The options that take a value. @effect/cli reports such an option given last, without its value,
 * as an unknown argument: `main.ts` knows them by name, to say what is missing instead.
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import { usageError } from "./failure.js"

const names = new Set<string>()

/**
 * `--name PSEUDONAME`: an option that takes a text. The text may not be empty, nor start with
 * `--` (`--sqlite --json` lacks the file name rather than naming a file `--json`).
 */
export const textOption = (name: string, pseudoName: string, description: string): Options.Options<string> => {
  names.add(name)
  return Options.text(name).pipe(
    Options.withPseudoName(pseudoName),
    Options.withDescription(description),
    Options.mapEffect((value) =>
      value === "" || value.startsWith("--") ? Effect.fail(usageError(`--${name} needs a value`)) : Effect.succeed(value)
    )
  )
}

/** Whether `arg` is `--name` of an option made by `textOption`. */
export const isTextOption = (arg: string): boolean => arg.startsWith("--") && names.has(arg.slice(2))
