/**
 * The HTTP servers the benchmarks compare (each one is `bench/httpServer.ts <variant>`), and which
 * of them a run measures. The first is always `plain`, the baseline the others are divided by.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { envList, root, track } from "./harness.js"

export type Variant =
  | "plain"
  | "submit"
  | "middleware"
  | "bare"
  | "layer"
  | "fork"
  | "serve"
  | "realistic"
  | "realistic-submit"

export const variants: ReadonlyArray<Variant> = [
  "plain",
  "submit",
  "middleware",
  "bare",
  "layer",
  "fork",
  "serve",
  "realistic",
  "realistic-submit"
]

export const label: Record<Variant, string> = {
  plain: "(a) handler, no submit",
  submit: "(b) middleware + submit",
  middleware: "(c) middleware, no submit",
  bare: "(d) bare response",
  layer: "(e) handler + layerMemory",
  fork: "(f) forkDaemon(Effect.void)",
  serve: "(g) (b), HttpServer.serve(app, mw)",
  realistic: "(r) SQLite read + JSON",
  "realistic-submit": "(s) (r) + middleware + submit"
}

/** The variants named in `BENCH_HTTP_VARIANTS` (comma-separated), or `fallback`. */
export const chosenVariants = (fallback: string): ReadonlyArray<Variant> => {
  const chosen = envList("BENCH_HTTP_VARIANTS", fallback)
  for (const name of chosen) {
    if (!variants.includes(name as Variant)) throw new Error(`BENCH_HTTP_VARIANTS: unknown variant "${name}"`)
  }
  if (chosen[0] !== "plain") throw new Error("BENCH_HTTP_VARIANTS must start with plain, the baseline")
  return chosen as Array<Variant>
}

/** How to start a server: extra Node flags, and a program to run Node under (valgrind). */
export interface StartOptions {
  readonly nodeArgs?: ReadonlyArray<string>
  readonly wrapper?: ReadonlyArray<string>
  readonly timeoutMillis?: number
}

/**
 * Starts `bench/httpServer.ts <variant>` in a child process and waits for the port it prints.
 * Its stdin stays a pipe: the child leaves when it closes, even if this process is killed -9.
 */
export const startServer = (
  variant: Variant,
  options: StartOptions = {}
): Promise<{ child: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const timeoutMillis = options.timeoutMillis ?? 30_000
    const nodeArgs = [...(options.nodeArgs ?? []), "--import", "tsx", join(root, "bench", "httpServer.ts"), variant]
    const [command, ...args] = [...(options.wrapper ?? []), process.execPath, ...nodeArgs]
    const child = spawn(command!, args, { cwd: root, stdio: ["pipe", "pipe", "inherit"] })
    track(child)
    let out = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${variant} server did not print its port within ${timeoutMillis / 1000} s`))
    }, timeoutMillis)
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${variant} server exited early (code ${code}, signal ${signal})`))
    })
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (chunk: string) => {
      out += chunk
      const newline = out.indexOf("\n")
      if (newline < 0) return
      clearTimeout(timer)
      try {
        resolve({ child, port: (JSON.parse(out.slice(0, newline)) as { port: number }).port })
      } catch (error) {
        child.kill("SIGKILL")
        reject(error)
      }
    })
  })

/** Stops a server with SIGTERM (`NodeRuntime.runMain` closes its layers), SIGKILL after `graceMillis`. */
export const stopServer = (child: ChildProcess, graceMillis = 5_000): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })
