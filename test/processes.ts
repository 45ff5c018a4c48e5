/**
 * Child processes for the tests that start fixture processes (`test/fixtures/*.ts`), and undo
 * actions that run even when a test file ends without its `afterAll` (a crash, a timeout).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

// ---- cleanup, even when afterAll is never reached ---------------------------------------

/** Synchronous undo actions of whatever is still set up, run at exit in reverse order. */
const leftovers = new Map<symbol, () => void>()

const cleanUpLeftovers = () => {
  for (const [key, undo] of Array.from(leftovers).reverse()) {
    leftovers.delete(key)
    try {
      undo()
    } catch {
      // best effort: the next one still runs
    }
  }
}

process.once("exit", cleanUpLeftovers)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    cleanUpLeftovers()
    process.kill(process.pid, signal)
  })
}

/** Registers a synchronous undo action to run at exit; answers the function that forgets it. */
export const atExit = (undo: () => void) => {
  const key = Symbol()
  leftovers.set(key, undo)
  return () => leftovers.delete(key)
}

// ---- fixture processes ------------------------------------------------------------------

const repoRoot = fileURLToPath(new URL("..", import.meta.url))

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  readonly pid: number
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | string>
  /** Resolves with the first stdout line (already printed or to come) that matches. */
  readonly line: (pattern: RegExp, timeoutMillis?: number) => Promise<RegExpExecArray>
  /** Whether it is still running. */
  readonly alive: () => boolean
  /** Everything it wrote, for failure messages. */
  readonly output: () => string
}

const children = new Set<ChildProcess>()

/**
 * Starts `test/fixtures/<file>` (or `<file>` from the repository root when it has a `/`) with
 * `node --import tsx`, with `options.nodeArgs` before it and `options.env` over this process's
 * environment. Killed at exit if still running.
 */
export const startChild = (
  name: string,
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly nodeArgs?: ReadonlyArray<string> } = {}
): Child => {
  const script = file.includes("/") ? join(repoRoot, file) : join(repoRoot, "test", "fixtures", file)
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  const forget = atExit(() => child.kill("SIGKILL"))
  const lines: Array<string> = []
  let output = ""
  const listeners = new Set<() => void>()
  let exitedWith: number | string | undefined
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child)
      forget()
      exitedWith = code ?? signal ?? "?"
      for (const listener of listeners) listener()
      resolve(exitedWith)
    })
  )
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  createInterface({ input: child.stdout! }).on("line", (text) => {
    lines.push(text)
    output += text + "\n"
    for (const listener of listeners) listener()
  })
  const line = (pattern: RegExp, timeoutMillis = 30_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        for (const text of lines) {
          const match = pattern.exec(text)
          if (match !== null) return done(() => resolve(match))
        }
        if (exitedWith !== undefined) {
          done(() => reject(new Error(`${name} exited (${exitedWith}) before printing ${pattern}:\n${output}`)))
        }
      }
      const timer = setTimeout(
        () => done(() => reject(new Error(`${name} printed no ${pattern} in ${timeoutMillis} ms:\n${output}`))),
        timeoutMillis
      )
      const done = (settle: () => void) => {
        clearTimeout(timer)
        listeners.delete(check)
        settle()
      }
      listeners.add(check)
      check()
    })
  return {
    name,
    process: child,
    pid: child.pid!,
    exited,
    line,
    alive: () => exitedWith === undefined,
    output: () => output
  }
}

/** SIGTERM, then SIGKILL if it has not exited within 15 s; resolves with the exit code. */
export const stopChild = async (child: Child) => {
  if (!child.alive()) return child.exited
  child.process.kill("SIGTERM")
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 15_000)
  const code = await child.exited
  clearTimeout(timer)
  return code
}

/** Kills every child still running (a test that failed half-way) and waits for the exits. */
export const killChildren = () =>
  Promise.all(Array.from(children, (child) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })))

