/**
 * How the command line fails: a `CliFailure` (exit code 1) when the store fails or refuses, an
 * @effect/cli `ValidationError` (exit code 2) for bad usage. Either way one line on stderr.
 *
 * @internal
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Option from "effect/Option"

/** The store failed or refused (unknown task, not retryable, cannot connect): exit code 1. */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string }> {}

/** The message of anything thrown or failed with, for one line on stderr. */
export const messageOf = (cause: unknown): string => {
  if (!(cause instanceof Error)) return typeof cause === "string" ? cause : String(cause)
  // connection errors of several addresses (IPv6 and IPv4) come as an AggregateError without a message
  if (cause.message === "" && cause instanceof AggregateError && cause.errors.length > 0) {
    return Array.from(new Set(cause.errors.map(messageOf))).join("; ")
  }
  return cause.message === "" ? cause.name : cause.message
}

/** Any cause as a `CliFailure`, so that nothing reaches the user as a stack trace. */
export const failureOfCause = (cause: Cause.Cause<unknown>): CliFailure => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    return error instanceof CliFailure ? error : new CliFailure({ message: messageOf(error) })
  }
  if (Cause.isInterruptedOnly(cause)) return new CliFailure({ message: "interrupted" })
  return new CliFailure({ message: `unexpected error: ${messageOf(Cause.squash(cause))}` })
}

/** Bad usage found after parsing (a value or a combination of options): exit code 2. */
export const usageError = (message: string): ValidationError.ValidationError =>
  ValidationError.invalidValue(HelpDoc.p(message))
