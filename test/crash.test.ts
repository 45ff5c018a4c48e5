/**
 * The durable promise under `kill -9`: a real server process (`test/fixtures/crashServer.ts`) on a
 * SQLite file takes submissions from concurrent HTTP clients, is killed with SIGKILL while tasks
 * are queued, running and being submitted, and is started again on the same files. Then:
 * - no acknowledged submission (a 200 answer with a handle) is lost: every one ends `Succeeded`;
 * - a task runs more than once only if it was `running` in the store at the kill.
 *
 * No mocks and no fixed sleeps: the test waits on the child's stdout, on HTTP answers, and polls
 * the databases a bounded number of times.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, ManagedRuntime } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"

const TOTAL = 2_000
const CLIENTS = 48
/** Acknowledged submissions before the kill; the rest are in flight or never sent. */
const KILL_AFTER = 1_000
const repoRoot = fileURLToPath(new URL("..", import.meta.url))
const fixture = join(repoRoot, "test", "fixtures", "crashServer.ts")

// ---- the child process --------------------------------------------------------------------

interface Child {
  readonly process: ChildProcess
  readonly port: number
  readonly exited: Promise<void>
  readonly output: () => string
}

const children = new Set<ChildProcess>()

/** Starts the server on `files` and resolves once it prints `LISTENING <port>`. */
const startChild = (tasksDb: string, runsDb: string): Promise<Child> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, tasksDb, runsDb], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let output = ""
    let listening = false
    const exited = new Promise<void>((done) =>
      child.once("exit", (code, signal) => {
        children.delete(child)
        if (!listening) reject(new Error(`the server exited (${code ?? signal}) before listening:\n${output}`))
        done()
      })
    )
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = /^LISTENING (\d+)$/.exec(line)
      if (match !== null && !listening) {
        listening = true
        resolve({ process: child, port: Number(match[1]), exited, output: () => output })
      } else {
        output += line + "\n"
      }
    })
  })

const killChild = async (child: Child) => {
  child.process.kill("SIGKILL")
  await child.exited
}

// ---- HTTP clients -------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly body: string
}

/** One request; resolves only with a complete response, rejects when the connection breaks. */
const send = (agent: Http.Agent, port: number, method: string, path: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = Http.request({ host: "127.0.0.1", port, method, path, agent }, (res) => {
      let body = ""
      let ended = false
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (body += chunk))
      res.on("end", () => {
        ended = true
        resolve({ status: res.statusCode ?? 0, body })
      })
      res.on("error", reject)
      res.on("close", () => {
        if (!ended) reject(new Error("the response was cut off"))
      })
    })
    req.on("error", reject)
    req.end()
  })

// ---- reading the databases (read-only, as an outsider) ------------------------------------

type Db = ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, unknown>

const openReadOnly = (filename: string): Db =>
  ManagedRuntime.make(SqliteClient.layer({ filename, readonly: true, disableWAL: true }))

const query = <A extends object>(db: Db, statement: string) =>
  db.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(statement)))

interface TaskRow {
  readonly id: string
  readonly state: string
  readonly payload: string
  readonly attempts: number
}

const readTasks = async (db: Db) => {
  const rows = await query<TaskRow>(db, "SELECT id, state, payload, attempts FROM effect_executor_tasks")
  return rows.map((row) => ({ ...row, n: (JSON.parse(row.payload) as { n: number }).n }))
}

/** Executions per `n`, from the `runs` table the task writes to. */
const readRuns = async (db: Db) => {
  const rows = await query<{ n: number; runs: number }>(db, "SELECT n, COUNT(*) AS runs FROM runs GROUP BY n")
  return new Map(rows.map((row) => [row.n, row.runs]))
}

const waitFor = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

// ---- the test -----------------------------------------------------------------------------

const cleanups: Array<() => Promise<void> | void> = []

afterEach(async () => {
  for (const child of children) child.kill("SIGKILL")
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe("durable executor under kill -9", () => {
  it("loses no acknowledged task, and runs again only the tasks that were running at the kill", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-executor-crash-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const tasksDb = join(dir, "tasks.db")
    const runsDb = join(dir, "runs.db")
    const agent = new Http.Agent({ keepAlive: true, maxSockets: CLIENTS })
    cleanups.push(() => agent.destroy())

    // ---- phase 1: submit as fast as possible, kill -9 in the middle ------------------------
    const started = Date.now()
    const since = (at: number) => `${((Date.now() - at) / 1000).toFixed(1)} s`
    const first = await startChild(tasksDb, runsDb)
    const firstUp = since(started)
    const submitting = Date.now()
    const runsDuring = openReadOnly(runsDb)
    cleanups.push(() => runsDuring.dispose())
    const tasksDuring = openReadOnly(tasksDb)
    cleanups.push(() => tasksDuring.dispose())

    const acknowledged = new Map<number, string>() // n -> handle
    let next = 0
    let inFlight = 0
    let broken = 0
    let stop = false
    let onAck: (() => void) | undefined
    const client = async () => {
      while (!stop && next < TOTAL) {
        const n = next++
        inFlight++
        try {
          const answer = await send(agent, first.port, "POST", `/work?n=${n}`)
          if (answer.status === 200) {
            acknowledged.set(n, (JSON.parse(answer.body) as { handle: string }).handle)
            onAck?.()
          } else {
            throw new Error(`POST /work?n=${n} answered ${answer.status}: ${answer.body}`)
          }
        } catch (error) {
          if (!stop) throw error // before the kill every submission must be acknowledged
          broken++
        } finally {
          inFlight--
        }
      }
    }
    const clients = Promise.all(Array.from({ length: CLIENTS }, client))
    clients.catch(() => {}) // awaited below; its failure must not be an unhandled rejection first

    // wait (on acknowledgements, not on time) until enough are acknowledged, tasks have run, and
    // the store shows tasks running (each takes 10 to 40 ms: they are still running at the kill)
    let runsAtKill = 0
    let inFlightAtKill = 0
    for (;;) {
      await Promise.race([new Promise<void>((resolve) => (onAck = resolve)), clients])
      if (next >= TOTAL && inFlight === 0) throw new Error("every submission was answered before the kill condition")
      if (acknowledged.size < KILL_AFTER) continue
      runsAtKill = (await query<{ c: number }>(runsDuring, "SELECT COUNT(*) AS c FROM runs"))[0]!.c
      const running = (await query<{ c: number }>(
        tasksDuring,
        "SELECT COUNT(*) AS c FROM effect_executor_tasks WHERE state = 'running'"
      ))[0]!.c
      if (runsAtKill > 0 && running > 0) break
    }
    stop = true
    inFlightAtKill = inFlight
    const submitTime = since(submitting)
    const killedAt = Date.now()
    await killChild(first)
    await clients
    await runsDuring.dispose()
    await tasksDuring.dispose()

    // ---- the store as the kill left it --------------------------------------------------------
    const atKill = openReadOnly(tasksDb)
    const rowsAtKill = await readTasks(atKill)
    await atKill.dispose()
    const stateAtKill = new Map(rowsAtKill.map((row) => [row.id, row.state]))
    const countIn = (state: string) => rowsAtKill.filter((row) => row.state === state).length
    const runningAtKill = new Set(rowsAtKill.filter((row) => row.state === "running").map((row) => row.id))

    // an acknowledged submit was committed before its answer: every one is in the file
    const missingAtKill = [...acknowledged.values()].filter((id) => !stateAtKill.has(id))
    expect(missingAtKill).toEqual([])
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER)
    expect(inFlightAtKill).toBeGreaterThan(0)
    // the kill found work in progress: tasks running in the store
    expect(runningAtKill.size).toBeGreaterThan(0)

    // ---- phase 2: start again on the same files, wait until everything has finished ---------
    const restarting = Date.now()
    const second = await startChild(tasksDb, runsDb)
    const secondUp = since(restarting)
    const tasksAfter = openReadOnly(tasksDb)
    cleanups.push(() => tasksAfter.dispose())
    let unfinished = -1
    for (let poll = 0; poll < 600; poll++) { // 30 s at most
      unfinished = (await query<{ c: number }>(
        tasksAfter,
        "SELECT COUNT(*) AS c FROM effect_executor_tasks WHERE state IN ('held', 'queued', 'running')"
      ))[0]!.c
      if (unfinished === 0) break
      if (second.process.exitCode !== null) throw new Error(`the restarted server exited:\n${second.output()}`)
      await waitFor(50)
    }
    expect(unfinished, `tasks still unfinished 30 s after the restart; server output:\n${second.output()}`).toBe(0)
    const recoveryTime = since(restarting)

    // every acknowledged handle answers Succeeded with its own n, through the new process
    const entries = [...acknowledged.entries()]
    const notSucceeded: Array<string> = []
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (let entry = entries.pop(); entry !== undefined; entry = entries.pop()) {
        const [n, id] = entry
        const answer = await send(agent, second.port, "GET", `/status/${id}`)
        const status = answer.status === 200 ? JSON.parse(answer.body) as { _tag: string; value?: number } : undefined
        if (status?._tag !== "Succeeded" || status.value !== n) notSucceeded.push(`${n} ${id}: ${answer.status} ${answer.body}`)
      }
    }))
    expect(notSucceeded).toEqual([])

    const rows = await readTasks(tasksAfter)
    const runsDb2 = openReadOnly(runsDb)
    cleanups.push(() => runsDb2.dispose())
    const runs = await readRuns(runsDb2)
    const byPid = await query<{ pid: number; c: number }>(runsDb2, "SELECT pid, COUNT(*) AS c FROM runs GROUP BY pid")
    // takeover: when the second process started again the tasks the first was running at the kill
    const restartedAt = await query<{ n: number; at: number }>(
      runsDb2,
      `SELECT n, MIN(at) AS at FROM runs WHERE pid = ${second.process.pid} GROUP BY n`
    )
    const runningAtKillN = new Set(rowsAtKill.filter((row) => row.state === "running").map((row) => row.n))
    const takeovers = restartedAt.filter((row) => runningAtKillN.has(row.n)).map((row) => row.at - killedAt)
    expect(takeovers.length).toBe(runningAtKillN.size)
    // the attempt that died is counted
    const byId = new Map(rows.map((row) => [row.id, row]))
    expect([...runningAtKill].filter((id) => byId.get(id)!.attempts < 2)).toEqual([])

    // everything in the store (acknowledged or not) succeeded and ran at least once
    expect(rows.filter((row) => row.state !== "succeeded").map((row) => `${row.id} ${row.state}`)).toEqual([])
    expect(rows.filter((row) => (runs.get(row.n) ?? 0) === 0).map((row) => row.n)).toEqual([])
    // a run needs a row: nothing ran that was not submitted
    const submitted = new Set(rows.map((row) => row.n))
    expect([...runs.keys()].filter((n) => !submitted.has(n))).toEqual([])

    // duplicates only among the tasks that were running when the process died
    const duplicates = rows.filter((row) => runs.get(row.n)! > 1)
    const unexplained = duplicates.filter((row) => !runningAtKill.has(row.id))
      .map((row) => `n=${row.n} ${row.id}: ${runs.get(row.n)} runs, ${stateAtKill.get(row.id) ?? "absent"} at the kill`)
    expect(unexplained).toEqual([])

    console.log(
      [
        `crash test: ${TOTAL} submissions by ${CLIENTS} clients, SIGKILL after ${acknowledged.size} acknowledged`,
        `  in flight at the kill: ${inFlightAtKill} (connections broken: ${broken}); runs recorded when the kill was decided: ${runsAtKill}`,
        `  store at the kill: ${rowsAtKill.length} rows: held ${countIn("held")}, queued ${countIn("queued")}, ` +
        `running ${countIn("running")}, succeeded ${countIn("succeeded")}`,
        `  after the restart: ${rows.length} rows, all succeeded; acknowledged lost: 0`,
        `  ran more than once: ${duplicates.length} (all among the ${runningAtKill.size} running at the kill); ` +
        `max runs of one task: ${Math.max(...runs.values())}`,
        `  times: first start ${firstUp}, submitting until the kill ${submitTime}, restart ${secondUp}, ` +
        `restart until all finished ${recoveryTime}`,
        `  takeover: the ${takeovers.length} tasks running at the kill started again ` +
        `${(Math.min(...takeovers) / 1000).toFixed(2)}-${(Math.max(...takeovers) / 1000).toFixed(2)} s after the kill ` +
        `(of which restart ${secondUp})`,
        `  executions by process: ${byPid.map((row) => `${row.pid === byPid[0]!.pid ? "first" : "second"} ${row.c}`).join(", ")}`
      ].join("\n")
    )

    await killChild(second)
  }, 180_000)
})
