/**
 * The command line, run as users run it: `node bin/effect-executor.mjs ...` in a child process,
 * against store files (and a PostgreSQL schema) filled through the TaskStore contract.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { PgStore, SqliteStore } from "../src/index.js"
import { randomTaskId } from "../src/internal/handleId.js"
import { type NewTask, type StoredState, TaskStore } from "../src/TaskStore.js"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer, pgUrl } from "./pgSupport.js"
import { newTask as newTaskRow } from "./support.js"

const bin = fileURLToPath(new URL("../bin/effect-executor.mjs", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "effect-executor-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `store-${++files}.db`)

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const cli = (...args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") {
        return reject(new Error(`effect-executor ${args.join(" ")} did not exit by itself (${error.message}): ${stderr}`))
      }
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    })
  )

const HOUR = 3_600_000
const MINUTE = 60_000

const newTask = (overrides: Partial<NewTask> & { readonly createdAt: number }): NewTask =>
  newTaskRow({ name: "SendWelcome", ...overrides })

/**
 * One task in each state, created one minute apart (oldest first in this list):
 * succeeded 2 hours ago, failed 30 minutes ago (queue `reports`), succeeded 1 minute ago,
 * running, queued, held.
 */
const seed = Effect.gen(function*() {
  const store = yield* TaskStore
  const now = Date.now()
  const at = (ago: number) => now - ago
  const owner = "worker-1"
  const lease = 10 * HOUR
  const oldSucceeded = newTask({ createdAt: at(3 * HOUR) })
  const failed = newTask({ name: "BuildReport", queue: "reports", createdAt: at(3 * HOUR - MINUTE) })
  const recentSucceeded = newTask({ createdAt: at(3 * HOUR - 2 * MINUTE) })
  const running = newTask({ createdAt: at(3 * HOUR - 3 * MINUTE) })
  const queued = newTask({ createdAt: at(3 * HOUR - 4 * MINUTE), runAt: at(-HOUR) })
  const held = newTask({ createdAt: at(3 * HOUR - 5 * MINUTE), state: "held", owner, leaseExpiresAt: at(-HOUR) })

  const claimOne = (queue: string, now: number) =>
    Effect.map(store.claim({ owner, queue, limit: 1, now, leaseMillis: lease }), (claimed) => claimed[0]!.claim)
  yield* store.insert([oldSucceeded])
  const first = yield* claimOne("default", at(3 * HOUR))
  yield* store.complete([{ id: oldSucceeded.id, owner, claim: first, result: JSON.stringify({ sent: true }) }], at(2 * HOUR))
  yield* store.insert([failed])
  const second = yield* claimOne("reports", at(40 * MINUTE))
  yield* store.fail([{
    id: failed.id,
    owner,
    claim: second,
    error: JSON.stringify({ _tag: "TaskFailed", reason: "defect", detail: "disk full" }),
    retryAt: undefined
  }], at(30 * MINUTE))
  yield* store.insert([recentSucceeded])
  const third = yield* claimOne("default", at(2 * MINUTE))
  yield* store.complete([{ id: recentSucceeded.id, owner, claim: third, result: JSON.stringify({ sent: true }) }], at(MINUTE))
  yield* store.insert([running])
  yield* claimOne("default", at(MINUTE))
  yield* store.insert([queued, held])
  return {
    oldSucceeded: oldSucceeded.id,
    failed: failed.id,
    recentSucceeded: recentSucceeded.id,
    running: running.id,
    queued: queued.id,
    held: held.id
  }
})

type Ids = Effect.Effect.Success<typeof seed>

const expectedStates: Record<keyof Ids, StoredState> = {
  oldSucceeded: "succeeded",
  failed: "failed",
  recentSucceeded: "succeeded",
  running: "running",
  queued: "queued",
  held: "held"
}

/** A fresh SQLite store file with the seeded tasks. */
const seededFile = async () => {
  const filename = freshFile()
  const ids = await Effect.runPromise(Effect.provide(seed, SqliteStore.layer({ filename })))
  return { filename, ids }
}

const withStore = <A>(filename: string, body: (store: TaskStore) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Effect.flatMap(TaskStore, body).pipe(Effect.provide(SqliteStore.layer({ filename }))))

const stateIn = (filename: string, id: string) =>
  withStore(filename, (store) => Effect.map(store.status(id), (task) => Option.getOrUndefined(task)?.state))

const expectOk = (run: Run) => {
  expect(run.stderr).toBe("")
  expect(run.code).toBe(0)
}

/** Refused: one line on stderr, no stack trace, nothing on stdout. */
const expectError = (run: Run, code: 1 | 2, fragment: string) => {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code, stdout: "" })
  expect(run.stderr).toMatch(/^effect-executor: [^\n]+\n$/)
  expect(run.stderr).toContain(fragment)
  expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+/)
}

interface TaskJson {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly state: StoredState
  readonly attempts: number
  readonly createdAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly cancelRequested: boolean
  readonly result: unknown
  readonly error: unknown
}

describe("command line", () => {
  it("--help prints the usage of every command, and <command> --help that command's options", async () => {
    const run = await cli("--help")
    expectOk(run)
    expect(run.stdout).toMatch(/^effect-executor\n/)
    expect(run.stdout).toContain("$ effect-executor")
    for (const word of ["list", "status", "retry", "cancel", "prune", "<ID>", "--sqlite FILE", "--pg URL", "--json", "--older-than"]) {
      expect(run.stdout).toContain(word)
    }
    // not a terminal: no colours
    expect(run.stdout).not.toContain("\u001b[")

    const status = await cli("status", "--help")
    expectOk(status)
    expect(status.stdout).toMatch(/^\$ status .*<ID>$/m)
    expect(status.stdout).toContain("--schema NAME")
    expect(status.stdout).not.toContain("--older-than")
    expect((await cli("help", "status")).stdout).toBe(status.stdout)

    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    expect(await cli("--version")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" })
  })

  it("list prints a table of the recent tasks, newest first, and the counts by queue and state", async () => {
    const { filename, ids } = await seededFile()
    const run = await cli("list", "--sqlite", filename)
    expectOk(run)
    const lines = run.stdout.split("\n")
    expect(lines[0]).toMatch(/^ID\s+NAME\s+QUEUE\s+STATE\s+ATTEMPTS\s+CREATED\s+FINISHED$/)
    const rows = lines.slice(1, 7)
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual([
      ids.held,
      ids.queued,
      ids.running,
      ids.recentSucceeded,
      ids.failed,
      ids.oldSucceeded
    ])
    for (const [key, id] of Object.entries(ids)) {
      const row = rows.find((row) => row.startsWith(id))!
      expect(row.split(/\s+/)[3]).toBe(expectedStates[key as keyof Ids])
    }
    expect(rows.find((row) => row.startsWith(ids.failed))).toMatch(/BuildReport\s+reports\s+failed\s+1\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d{4}-/)
    expect(run.stdout).toContain("6 of 6 tasks, newest first")
    expect(run.stdout).toMatch(/QUEUE\s+HELD\s+QUEUED\s+RUNNING\s+SUCCEEDED\s+FAILED\s+INTERRUPTED\s+TOTAL/)
    expect(run.stdout).toMatch(/default\s+1\s+1\s+1\s+2\s+0\s+0\s+5/)
    expect(run.stdout).toMatch(/reports\s+0\s+0\s+0\s+0\s+1\s+0\s+1/)
    expect(run.stdout).toMatch(/\(all\)\s+1\s+1\s+1\s+2\s+1\s+0\s+6/)

    const failedOnly = await cli("list", "--sqlite", filename, "--state", "failed")
    expectOk(failedOnly)
    expect(failedOnly.stdout).toContain(ids.failed)
    expect(failedOnly.stdout).not.toContain(ids.queued)
    expect(failedOnly.stdout).toContain("1 of 1 failed task, newest first")

    const none = await cli("list", "--sqlite", filename, "--state=interrupted", "--queue=reports")
    expectOk(none)
    expect(none.stdout).toMatch(/^no interrupted tasks in queue reports\n/)
  })

  it("list --json matches the store", async () => {
    const { filename, ids } = await seededFile()
    const run = await cli("list", "--json", "--sqlite", filename)
    expectOk(run)
    const listed = JSON.parse(run.stdout) as {
      tasks: Array<TaskJson>
      counts: Array<{ queue: string; state: StoredState; count: number }>
    }
    const stored = await withStore(filename, (store) => Effect.all({ tasks: store.list({ limit: 100 }), counts: store.counts() }))
    expect(listed.tasks.map((task) => task.id)).toEqual(stored.tasks.map((task) => task.id))
    expect(listed.counts).toEqual(stored.counts)
    for (const [key, id] of Object.entries(ids)) {
      const task = listed.tasks.find((task) => task.id === id)!
      const row = stored.tasks.find((task) => task.id === id)!
      expect(task).toMatchObject({
        state: expectedStates[key as keyof Ids],
        name: row.name,
        queue: row.queue,
        attempts: row.attempts,
        createdAt: row.createdAt,
        startedAt: row.startedAt ?? null,
        finishedAt: row.finishedAt ?? null
      })
    }
    expect(listed.tasks.find((task) => task.id === ids.failed)?.error).toEqual({
      _tag: "TaskFailed",
      reason: "defect",
      detail: "disk full"
    })
    expect(listed.tasks.find((task) => task.id === ids.oldSucceeded)?.result).toEqual({ sent: true })

    const limited = JSON.parse((await cli("list", "--sqlite", filename, "--queue", "default", "--limit", "2", "--json")).stdout)
    expect(limited.tasks.map((task: TaskJson) => task.id)).toEqual([ids.held, ids.queued])
    expect(limited.counts.every((row: { queue: string }) => row.queue === "default")).toBe(true)
  })

  it("status prints one task's details, or its JSON", async () => {
    const { filename, ids } = await seededFile()
    const run = await cli("status", ids.failed, "--sqlite", filename)
    expectOk(run)
    expect(run.stdout).toMatch(new RegExp(`^id\\s+${ids.failed}$`, "m"))
    expect(run.stdout).toMatch(/^name\s+BuildReport$/m)
    expect(run.stdout).toMatch(/^state\s+failed$/m)
    expect(run.stdout).toMatch(/^attempts\s+1$/m)
    expect(run.stdout).toMatch(/^finished\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m)
    expect(run.stdout).toMatch(/^error\s+\{$/m)
    expect(run.stdout).toContain(`"detail": "disk full"`)

    const asJson = await cli("status", ids.recentSucceeded, "--sqlite", filename, "--json")
    expectOk(asJson)
    const stored = Option.getOrThrow(await withStore(filename, (store) => store.status(ids.recentSucceeded)))
    expect(JSON.parse(asJson.stdout)).toEqual({
      id: ids.recentSucceeded,
      name: "SendWelcome",
      queue: "default",
      state: "succeeded",
      attempts: 1,
      priority: 0,
      runAt: stored.runAt,
      createdAt: stored.createdAt,
      startedAt: stored.startedAt,
      finishedAt: stored.finishedAt,
      cancelRequested: false,
      result: { sent: true },
      error: null
    })

    // ids are base64url: one that starts with "-" is still an id, not an option
    const dashed = newTask({ id: `-${randomTaskId().slice(1)}`, createdAt: Date.now() })
    await withStore(filename, (store) => store.insert([dashed]))
    const dashedRun = await cli("status", dashed.id, "--sqlite", filename)
    expectOk(dashedRun)
    expect(dashedRun.stdout).toMatch(/^state\s+queued$/m)
  })

  it("never prints the session a task was submitted with, in text or JSON", async () => {
    const { filename } = await seededFile()
    const secret = "sid-7c41e0aa"
    const task = newTask({ createdAt: Date.now(), session: secret })
    await withStore(filename, (store) => store.insert([task]))
    for (
      const args of [
        ["status", task.id],
        ["status", task.id, "--json"],
        ["list"],
        ["list", "--json"]
      ]
    ) {
      const run = await cli(...args, "--sqlite", filename)
      expectOk(run)
      expect(run.stdout, args.join(" ")).toContain(task.id)
      expect(run.stdout, args.join(" ")).not.toContain(secret)
      expect(run.stdout, args.join(" ")).not.toMatch(/session|hmac:/i)
    }
  })

  it("retry queues a failed task again, and refuses an unfinished one", async () => {
    const { filename, ids } = await seededFile()
    const run = await cli("retry", ids.failed, "--sqlite", filename)
    expectOk(run)
    expect(run.stdout).toBe(`task ${ids.failed} is queued again (it was failed; its attempts start over)\n`)
    const task = Option.getOrThrow(await withStore(filename, (store) => store.status(ids.failed)))
    expect(task).toMatchObject({ state: "queued", attempts: 0, finishedAt: undefined })

    expectError(await cli("retry", ids.queued, "--sqlite", filename), 1, "only failed or interrupted tasks can be retried")
    expectError(await cli("retry", ids.recentSucceeded, "--sqlite", filename), 1, "has succeeded")
    expect(await stateIn(filename, ids.queued)).toBe("queued")
  })

  it("cancel interrupts a queued task at once and requests the cancellation of a running one", async () => {
    const { filename, ids } = await seededFile()
    const run = await cli("cancel", ids.queued, "--sqlite", filename)
    expectOk(run)
    expect(run.stdout).toBe(`task ${ids.queued} cancelled: it was queued and is now interrupted\n`)
    expect(await stateIn(filename, ids.queued)).toBe("interrupted")

    const running = await cli("cancel", ids.running, "--sqlite", filename, "--json")
    expectOk(running)
    expect(JSON.parse(running.stdout)).toEqual({ id: ids.running, outcome: "requested", previousState: "running" })
    const task = Option.getOrThrow(await withStore(filename, (store) => store.status(ids.running)))
    expect(task).toMatchObject({ state: "running", cancelRequested: true })
    const text = await cli("cancel", ids.running, "--sqlite", filename)
    expect(text.stdout).toContain("cancellation requested")

    expectError(await cli("cancel", ids.oldSucceeded, "--sqlite", filename), 1, "already finished (succeeded)")
  })

  it("prune deletes the tasks finished longer ago than --older-than (default 1 hour)", async () => {
    const { filename, ids } = await seededFile()
    const run = await cli("prune", "--sqlite", filename)
    expectOk(run)
    expect(run.stdout).toMatch(/^pruned 1 finished task \(finished before \S+Z, more than 1h ago\)\n$/)
    expect(await stateIn(filename, ids.oldSucceeded)).toBeUndefined()
    expect(await stateIn(filename, ids.failed)).toBe("failed")
    expect(await stateIn(filename, ids.recentSucceeded)).toBe("succeeded")

    const more = await cli("prune", "--older-than", "20m", "--sqlite", filename, "--json")
    expectOk(more)
    expect(JSON.parse(more.stdout)).toMatchObject({ pruned: 1 })
    expect(await stateIn(filename, ids.failed)).toBeUndefined()
    expect(await stateIn(filename, ids.recentSucceeded)).toBe("succeeded")
    expect(await stateIn(filename, ids.running)).toBe("running")
  })

  /** Runs the cases, three at a time, and names the failing one. */
  const expectErrors = async (cases: ReadonlyArray<readonly [ReadonlyArray<string>, 1 | 2, string]>) => {
    const runs: Array<Run> = []
    for (let i = 0; i < cases.length; i += 3) {
      runs.push(...await Promise.all(cases.slice(i, i + 3).map(([args]) => cli(...args))))
    }
    cases.forEach(([args, code, fragment], i) => {
      try {
        expectError(runs[i]!, code, fragment)
      } catch (error) {
        throw new Error(`effect-executor ${args.join(" ")}: ${(error as Error).message}`)
      }
    })
  }

  it("bad usage: one line on stderr, exit code 2, no stack trace", async () => {
    const filename = join(dir, "never-opened.db")
    const id = randomTaskId()
    await expectErrors([
      [[], 2, "missing command"],
      [["lst", "--sqlite", filename], 2, `unknown command "lst"`],
      [["status", "--sqlite", filename], 2, "missing argument <ID>"],
      [["retry", "--json", "--sqlite", filename], 2, "missing argument <ID>"],
      [["list", "--verbose", "--sqlite", filename], 2, "unknown argument: '--verbose'"],
      [["list", "-v", "--sqlite", filename], 2, "unknown argument: '-v'"],
      [["status", "not-an-id", "--sqlite", filename], 2, `malformed task ID "not-an-id"`],
      [["list", "--state", "done", "--sqlite", filename], 2, `bad --state "done"`],
      [["list", "--limit", "many", "--sqlite", filename], 2, `bad --limit "many"`],
      [["prune", "--older-than", "soon", "--sqlite", filename], 2, `bad --older-than "soon"`],
      [["status", id, "--state", "failed", "--sqlite", filename], 2, "unknown argument: '--state'"],
      [["list", "--sqlite", filename, "--pg", pgUrl], 2, "either --sqlite or --pg, not both"],
      [["list"], 2, "--sqlite FILE or --pg URL"],
      [["list", "--sqlite"], 2, "--sqlite needs a value"],
      [["list", "--sqlite", "--json"], 2, "--sqlite needs a value"],
      [["list", "--sqlite", filename, "--queue"], 2, "--queue needs a value"],
      [["list", "--pg", "not a url"], 2, "--pg needs a URL"]
    ])
  }, 120_000)

  it("a store that cannot be used, or an unknown task: one line on stderr, exit code 1, no stack trace", async () => {
    const { filename } = await seededFile()
    const notADatabase = join(dir, "not-a-database.db")
    writeFileSync(notADatabase, "this is not SQLite\n".repeat(100))
    const directory = join(dir, "a-directory")
    mkdirSync(directory)
    const missing = join(dir, "missing.db")
    await expectErrors([
      [["list", "--sqlite", missing], 1, `cannot open ${missing}: no such file`],
      [["list", "--sqlite", directory], 1, "not a file"],
      [["list", "--sqlite", notADatabase], 1, "file is not a database"],
      [["status", "A".repeat(24), "--sqlite", filename], 1, `no task ${"A".repeat(24)}`],
      [["cancel", "A".repeat(24), "--sqlite", filename], 1, `no task ${"A".repeat(24)}`],
      [["list", "--pg", "postgres://postgres@127.0.0.1:1/test"], 1, "cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:1/test"]
    ])
    // nothing was created for the missing file
    expect(existsSync(missing)).toBe(false)
  }, 120_000)
})

describe.runIf(pgAvailable)("command line on PostgreSQL", () => {
  const schemas: Array<string> = []
  afterAll(() => Effect.runPromise(dropSchemas(schemas)))

  it("list --pg URL --schema S --json, and status", async () => {
    const schema = freshSchema()
    schemas.push(schema)
    const ids = await Effect.runPromise(
      Effect.provide(seed, PgStore.layer({ schema }).pipe(Layer.provide(pgClientLayer({ maxConnections: 2 }))))
    )
    const run = await cli("list", "--pg", pgUrl, "--schema", schema, "--json")
    expectOk(run)
    const listed = JSON.parse(run.stdout) as { tasks: Array<TaskJson>; counts: Array<unknown> }
    expect(listed.tasks.map((task) => [task.id, task.state])).toEqual([
      [ids.held, "held"],
      [ids.queued, "queued"],
      [ids.running, "running"],
      [ids.recentSucceeded, "succeeded"],
      [ids.failed, "failed"],
      [ids.oldSucceeded, "succeeded"]
    ])
    expect(listed.counts).toContainEqual({ queue: "reports", state: "failed", count: 1 })

    const status = await cli("status", ids.failed, "--pg", pgUrl, "--schema", schema)
    expectOk(status)
    expect(status.stdout).toMatch(/^state\s+failed$/m)

    expectError(await cli("list", "--pg", pgUrl, "--schema", freshSchema()), 1, "has no effect-executor tasks table")
  })
})
