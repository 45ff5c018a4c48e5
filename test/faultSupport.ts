/**
 * Real faults for the fault tests (`test/pgFaults.test.ts`, `test/sqliteDiskFull.test.ts`):
 *
 * - `privatePostgres()`: a throwaway PostgreSQL cluster of the test file's own (`initdb` into a
 *   temporary folder as the `postgres` OS user, `pg_ctl` on a free port, database `test`), which the
 *   test may stop, start and restart: never the shared server that other suites use meanwhile;
 * - `tmpfsDir(size)`: a small tmpfs the test can fill up (ENOSPC) and free again;
 * - `startChild(...)`: a fixture process (`test/fixtures/*.ts`) whose stdout lines the test waits on;
 * - `pollUntil(...)`: a bounded number of polls, never a fixed sleep.
 *
 * Both need root (`runuser`, `mount`). `canRunRootFaults` says whether they work here; when they do
 * not, the tests skip with one line saying why. CI runs as root and sets EFFECT_EXECUTOR_REQUIRE_PG=1:
 * there, a root that cannot set them up fails the file instead of skipping.
 *
 * Nothing is left behind: every cluster is stopped and removed, every tmpfs unmounted and every child
 * killed by the `remove` calls the tests make in `afterAll`, and, if a test file ends without them
 * (a crash, a timeout), by this module's exit handler.
 */
import { Cause, Effect, Exit, Logger, Option, Schema } from "effect"
import { execFile, execFileSync } from "node:child_process"
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { Task } from "../src/index.js"
import { atExit, type Child } from "./processes.js"

export { type Child, killChildren, startChild, stopChild } from "./processes.js"

const run = promisify(execFile)

export const pgBin = process.env.EFFECT_EXECUTOR_PG_BIN ?? "/usr/lib/postgresql/15/bin"

const asPostgres = (command: string, args: ReadonlyArray<string>, timeoutMillis = 60_000) =>
  run("runuser", ["-u", "postgres", "--", join(pgBin, command), ...args], { timeout: timeoutMillis })

const describeError = (error: unknown) => {
  const { message, stderr } = error as { message?: string; stderr?: string }
  return (stderr?.trim() || message || String(error)).split("\n")[0]!
}

// ---- cleanup, even when afterAll is never reached: see ./processes.ts (atExit)

// ---- can the root faults run here? ------------------------------------------------------

const initdb = async (root: string) => {
  await run("chown", ["postgres:", root])
  await asPostgres("initdb", ["-D", join(root, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
}

const newRoot = (prefix: string) => mkdtempSync(join(tmpdir(), prefix))

const probe = async (): Promise<string | undefined> => {
  if (process.platform !== "linux") return "they need Linux"
  if (process.getuid?.() !== 0) return `they need root (this process runs as uid ${process.getuid?.()})`
  if (!existsSync(join(pgBin, "initdb")) || !existsSync(join(pgBin, "pg_ctl"))) {
    return `no initdb/pg_ctl in ${pgBin} (set EFFECT_EXECUTOR_PG_BIN)`
  }
  const mountPoint = newRoot("effect-executor-probe-")
  try {
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
    await run("umount", [mountPoint])
  } catch (error) {
    return `mount -t tmpfs failed: ${describeError(error)}`
  } finally {
    rmSync(mountPoint, { recursive: true, force: true })
  }
  const root = newRoot("effect-executor-pg-probe-")
  const forget = atExit(() => rmSync(root, { recursive: true, force: true }))
  try {
    await initdb(root)
  } catch (error) {
    return `initdb as the postgres user failed: ${describeError(error)}`
  } finally {
    rmSync(root, { recursive: true, force: true })
    forget()
  }
  return undefined
}

const whyNot = await probe()

/** True when this process can run a PostgreSQL of its own and mount a tmpfs. */
export const canRunRootFaults: boolean = whyNot === undefined

if (whyNot !== undefined) {
  const what = "the fault tests that restart PostgreSQL and fill a disk"
  const how = `${whyNot}; run them as root on Linux with PostgreSQL 15 binaries in ${pgBin} ` +
    `(sudo npx vitest run test/pgFaults.test.ts test/sqliteDiskFull.test.ts)`
  if (process.env.EFFECT_EXECUTOR_REQUIRE_PG === "1" && process.getuid?.() === 0) throw new Error(`${what} cannot run: ${how}`)
  console.warn(`Root fault tests skipped (${what}): ${how}.`)
}

// ---- a PostgreSQL of the test's own -----------------------------------------------------

/** A TCP port nobody listens on right now (the kernel's pick for port 0). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")))
    })
  })

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/test` */
  readonly url: string
  readonly port: number
  /** `pg_ctl stop -m fast`: connections are terminated, the port refuses connections until `start`. */
  readonly stop: () => Promise<void>
  /** Starts it again on the same port and folder; resolves once it accepts connections. */
  readonly start: () => Promise<void>
  /** `pg_ctl restart -m fast`: down and up again in one step. */
  readonly restart: () => Promise<void>
  /** Stops it (immediate) and deletes its folder. Safe to call twice. */
  readonly remove: () => Promise<void>
  /** The server's log, for failure messages. */
  readonly log: () => string
}

/**
 * A PostgreSQL 15 cluster for one test file: trust authentication, user postgres, database `test`,
 * `fsync=off`, listening on 127.0.0.1 on a free port (and a socket in its own folder). Call
 * `remove()` in `afterAll`; the exit handler removes it too if that never runs.
 */
export const privatePostgres = async (): Promise<PrivatePostgres> => {
  if (!canRunRootFaults) throw new Error(`privatePostgres: ${whyNot}`)
  const root = newRoot("effect-executor-pg-")
  const forgetFolder = atExit(() => rmSync(root, { recursive: true, force: true }))
  await initdb(root)
  const data = join(root, "data")
  const logFile = join(root, "server.log")
  const port = await freePort()
  const serverOptions = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c shared_buffers=32MB",
    "-c max_connections=100"
  ].join(" ")
  const pgCtl = (args: ReadonlyArray<string>) => asPostgres("pg_ctl", ["-D", data, ...args])
  const stopNow = () => {
    execFileSync("runuser", ["-u", "postgres", "--", join(pgBin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], {
      stdio: "ignore",
      timeout: 30_000
    })
  }
  // from here on, the exit handler stops the server (if it runs) before the folder goes
  const forgetServer = atExit(() => {
    if (existsSync(join(data, "postmaster.pid"))) stopNow()
  })
  const start = async () => {
    await pgCtl(["-l", logFile, "-o", serverOptions, "-w", "-t", "60", "start"])
  }
  await start()
  await asPostgres("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "test"])
  let removed = false
  return {
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    port,
    stop: async () => {
      await pgCtl(["-m", "fast", "-w", "-t", "60", "stop"])
    },
    start,
    restart: async () => {
      await pgCtl(["-l", logFile, "-o", serverOptions, "-m", "fast", "-w", "-t", "60", "restart"])
    },
    remove: async () => {
      if (removed) return
      removed = true
      if (existsSync(join(data, "postmaster.pid"))) {
        await pgCtl(["-m", "immediate", "-w", "-t", "30", "stop"]).catch(() => stopNow())
      }
      forgetServer()
      rmSync(root, { recursive: true, force: true })
      forgetFolder()
    },
    log: () => {
      try {
        return readFileSync(logFile, "utf8")
      } catch {
        return ""
      }
    }
  }
}

// ---- a small disk that can be filled ----------------------------------------------------

export interface TmpfsDir {
  readonly path: string
  /** Writes a filler file until the disk is full (ENOSPC); answers the bytes it wrote. */
  readonly fill: () => number
  /** Deletes the filler: the space is free again. */
  readonly free: () => void
  /** Deletes the filler, unmounts the tmpfs and removes the mount point. Safe to call twice. */
  readonly remove: () => Promise<void>
}

/**
 * A tmpfs of `sizeBytes` mounted on a fresh folder. Close every file opened in it (dispose the
 * layers) before `remove()`; a file still open only makes the unmount lazy.
 */
export const tmpfsDir = async (sizeBytes: number): Promise<TmpfsDir> => {
  if (!canRunRootFaults) throw new Error(`tmpfsDir: ${whyNot}`)
  const path = newRoot("effect-executor-tmpfs-")
  await run("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0777`, "tmpfs", path])
  const unmount = () => {
    try {
      execFileSync("umount", [path], { stdio: "ignore" })
    } catch {
      execFileSync("umount", ["-l", path], { stdio: "ignore" })
    }
    rmSync(path, { recursive: true, force: true })
  }
  const forget = atExit(unmount)
  const filler = join(path, "filler")
  const free = () => rmSync(filler, { force: true })
  let removed = false
  return {
    path,
    fill: () => {
      const fd = openSync(filler, "a")
      let written = 0
      try {
        // big writes first, then smaller ones into what is left, down to a byte
        for (const size of [1 << 20, 1 << 16, 4096, 512, 1]) {
          const chunk = Buffer.alloc(size, 0x5a)
          for (;;) {
            try {
              written += writeSync(fd, chunk)
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === "ENOSPC") break
              throw error
            }
          }
        }
      } finally {
        closeSync(fd)
      }
      return written
    },
    free,
    remove: async () => {
      if (removed) return
      removed = true
      free()
      forget()
      unmount()
    }
  }
}

// ---- tasks and logs of in-process layers -------------------------------------------------

/**
 * A task that answers its `n`. A call with `gated: true` waits until `open()` is called (so that
 * it is running while the test makes its fault), then counts itself in `returned()`.
 */
export const gatedEcho = (name: string) => {
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => (openGate = resolve))
  let returned = 0
  const task = Task.make(name, {
    payload: Schema.Struct({ n: Schema.Int, gated: Schema.optional(Schema.Boolean) }),
    success: Schema.Int,
    run: ({ gated, n }) =>
      gated === true
        ? Effect.promise(() => gate).pipe(Effect.zipRight(Effect.sync(() => ++returned)), Effect.as(n))
        : Effect.succeed(n)
  })
  return { task, open: () => openGate(), returned: () => returned }
}

/** The logs of an in-process layer, counted by level and message instead of printed. */
export const countingLogger = () => {
  const counts = new Map<string, number>()
  const logger = Logger.make(({ logLevel, message }) => {
    const text = `${logLevel.label} ${String(Array.isArray(message) ? message[0] : message).slice(0, 60)}`
    counts.set(text, (counts.get(text) ?? 0) + 1)
  })
  return {
    layer: Logger.replace(Logger.defaultLogger, logger),
    summary: () => Array.from(counts).map(([text, count]) => `${text} x${count}`).join("; ") || "none"
  }
}

/** The time since `from`, for the tests' printouts. */
export const seconds = (from: number, to = Date.now()) => `${((to - from) / 1000).toFixed(1)} s`

// ---- waiting ------------------------------------------------------------------------------

const pause = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * Polls `done` every `every` ms, at most `attempts` times; fails with `what()` when it never holds,
 * or at once when one of `alive` has exited. A poll that throws (the database is restarting)
 * counts as not done.
 */
export const pollUntil = async (
  what: () => string,
  done: () => Promise<boolean> | boolean,
  { alive = [] as ReadonlyArray<Child>, attempts = 300, every = 100 } = {}
) => {
  let lastError: unknown
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      if (await done()) return
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    for (const child of alive) {
      if (!child.alive()) throw new Error(`${child.name} exited while waiting for ${what()}:\n${child.output()}`)
    }
    await pause(every)
  }
  const error = lastError === undefined ? "" : ` (last poll failed: ${describeError(lastError)})`
  throw new Error(`not reached after ${attempts} polls of ${every} ms: ${what()}${error}`)
}

/** Fails with `what` when `promise` has not settled within `millis`: "nothing hangs", checked. */
export const within = <A>(promise: Promise<A>, millis: number, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hung: ${what} did not end within ${millis} ms`)), millis)
    })
  ]).finally(() => clearTimeout(timer))
}

// ---- submits under a fault ----------------------------------------------------------------

/**
 * What an Exit is, in one word or two: `Success`, `Fail <tag>`, `Die <tag or name>` (a defect
 * anywhere in the cause, even beside a failure), `Hang` (the test's own timeout), `Interrupt`.
 */
export const describeExit = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "Success"
  const defects = Array.from(Cause.defects(exit.cause))
  if (defects.length > 0) {
    const defect = defects[0] as { _tag?: unknown; name?: unknown } | undefined
    return `Die ${String(defect?._tag ?? defect?.name ?? typeof defect)}`
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const tag = String((failure.value as { _tag?: unknown } | undefined)?._tag ?? failure.value)
    return tag === "TimeoutException" ? "Hang" : `Fail ${tag}`
  }
  return Cause.isInterruptedOnly(exit.cause) ? "Interrupt" : "Empty"
}

/**
 * A cause in a few lines: each error or defect with its message and the message of its own cause
 * (a `SqlError`'s driver error says what happened: "Connection terminated", "database system is
 * shutting down", ...), then the top of `Cause.pretty`.
 */
export const explainCause = (cause: Cause.Cause<unknown>): string => {
  const describe = (error: unknown) => {
    const { _tag, cause: inner, message, name } = (error ?? {}) as { _tag?: unknown; cause?: unknown; message?: unknown; name?: unknown }
    const innerMessage = (inner as { message?: unknown } | undefined)?.message
    return `${String(_tag ?? name ?? typeof error)}: ${String(message ?? error)}` +
      (innerMessage === undefined ? "" : ` (cause: ${String(innerMessage)})`)
  }
  const parts = [
    ...Array.from(Cause.defects(cause), (defect) => `defect ${describe(defect)}`),
    ...Array.from(Cause.failures(cause), (failure) => `failure ${describe(failure)}`)
  ]
  return [...parts, ...Cause.pretty(cause).split("\n").slice(0, 6)].join("\n")
}

/** Every submit a test made under a fault, by outcome, with the handles it was answered. */
export class SubmitLedger {
  /** n → task id, for every acknowledged submit. */
  readonly acked = new Map<number, string>()
  readonly kinds = new Map<string, number>()
  /** The first cause of each kind other than `Success`, pretty-printed, for failure messages. */
  readonly samples = new Map<string, string>()
  attempts = 0
  failures = 0

  record(n: number, exit: Exit.Exit<{ readonly id: string }, unknown>) {
    this.attempts++
    const kind = describeExit(exit)
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1)
    if (Exit.isSuccess(exit)) {
      this.acked.set(n, exit.value.id)
      return
    }
    this.failures++
    if (!this.samples.has(kind)) this.samples.set(kind, explainCause(exit.cause))
  }

  /** The outcomes other than a success or one of `typed`, as `<kind> x<count>`: `[]` when all is well. */
  unexpected(typed: ReadonlyArray<string> = ["Fail StoreUnavailable"]) {
    return Array.from(this.kinds).filter(([kind]) => kind !== "Success" && !typed.includes(kind))
      .map(([kind, count]) => `${kind} x${count}`)
  }

  /** The first cause of each unexpected kind. */
  unexpectedSamples(typed: ReadonlyArray<string> = ["Fail StoreUnavailable"]) {
    return Array.from(this.samples).filter(([kind]) => !typed.includes(kind))
      .map(([kind, sample]) => `--- ${kind}:\n${sample}`).join("\n")
  }

  summary() {
    return Array.from(this.kinds).map(([kind, count]) => `${kind} ${count}`).join(", ")
  }
}

/**
 * `count` clients, each submitting `n = 0, 1, 2, ...` (shared) one after another until stopped,
 * recording every outcome in `ledger`. After a failed submit a client waits `backoffMillis`
 * before the next (a client told 503 comes back a little later; without it the clients of a
 * refused store spin). `stop()` resolves once every client's submit in flight has answered.
 */
export const runClients = (
  count: number,
  submit: (n: number) => Promise<Exit.Exit<{ readonly id: string }, unknown>>,
  ledger: SubmitLedger,
  { backoffMillis = 10 } = {}
) => {
  let stopping = false
  let next = 0
  const client = async () => {
    while (!stopping) {
      const n = next++
      const exit = await submit(n)
      ledger.record(n, exit)
      if (Exit.isFailure(exit)) await pause(backoffMillis)
    }
  }
  const clients = Array.from({ length: count }, client)
  return {
    stop: async () => {
      stopping = true
      await Promise.all(clients)
    },
    next: () => next
  }
}
