/**
 * What both benchmarks (`bench/run.ts`, `bench/durable.ts`) need: their settings from the
 * environment, number formatting, medians and verdicts, the revision a figure belongs to, and the
 * child processes they start, killed whatever way the run ends.
 */
import { type ChildProcess, execFileSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** A positive number from the environment, or `fallback`. */
export const env = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${raw}`)
  return value
}

/** A comma-separated list from the environment, or `fallback`. */
export const envList = (name: string, fallback: string): Array<string> =>
  (process.env[name] ?? fallback).split(",").map((s) => s.trim()).filter((s) => s.length > 0)

export const fmt = (n: number): string => Math.round(n).toLocaleString("en-US")
export const ratio = (n: number): string => n.toFixed(2)
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
export const verdict = (value: number, target: number): string => (value >= target ? "met" : "MISSED")

/** The commit, and whether src/ differs from it, so that a figure can be traced to the code. */
export const revision = (): string => {
  try {
    const git = (...args: Array<string>) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim()
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "src").length > 0 ? " + uncommitted src/ changes" : ""}`
  } catch {
    return "unknown revision"
  }
}

/** The child processes a benchmark started; each leaves the set when it exits. */
export const children = new Set<ChildProcess>()

export const track = (child: ChildProcess): ChildProcess => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

export const killAll = (signal: NodeJS.Signals): void => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
}

/** Runs a benchmark's main; its children are killed when it ends, and a failure sets exit code 1. */
export const runMain = (main: () => Promise<void>): void => {
  main().then(
    () => killAll("SIGKILL"),
    (error) => {
      console.error(error)
      killAll("SIGKILL")
      process.exitCode = 1
    }
  )
}

/** No child outlives the benchmark: on exit, SIGINT and SIGTERM they are killed. */
export const killChildrenOnExit = (): void => {
  process.on("exit", () => killAll("SIGKILL"))
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAll("SIGKILL")
      process.exit(130)
    })
  }
}
