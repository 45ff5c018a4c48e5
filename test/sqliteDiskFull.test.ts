/**
 * The SQLite engine on a full disk (issue 13, item 1): `Executor.layerSqlite` with its file on a
 * small tmpfs (`tmpfsDir`, needs root: skipped otherwise, see `test/faultSupport.ts`), which the test
 * fills up (a filler file written until ENOSPC) while clients submit, then frees again.
 *
 * - while the disk is full, every refused submit fails with `StoreUnavailable`: never a defect, none
 *   hangs;
 * - once the space is back, submits are acknowledged again, and every acknowledged task (before,
 *   during and after) succeeds: in the running layer, and read back from the file by a new one.
 *
 * No mocks and no fixed sleeps: the test waits on the submits' answers and polls the store a
 * bounded number of times.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, ManagedRuntime } from "effect"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { DurableExecutor, Executor, ExecutorAdmin, TaskHandle } from "../src/index.js"
import {
  canRunRootFaults,
  countingLogger,
  describeExit,
  gatedEcho,
  pollUntil,
  runClients,
  seconds,
  SubmitLedger,
  type TmpfsDir,
  tmpfsDir,
  within
} from "./faultSupport.js"

const DISK_BYTES = 8 * 1024 * 1024
const GATED = 16

const LEASE_MILLIS = 1_000

/** Opened by the test while the disk is full: the gated tasks end then, and their end must be written. */
const { open: openGate, returned, task: DiskEcho } = gatedEcho("DiskEcho")

describe.runIf(canRunRootFaults)("SQLite on a full disk (a tmpfs of its own)", () => {
  let disk: TmpfsDir | undefined
  const runtimes: Array<{ readonly dispose: () => Promise<void> }> = []

  afterAll(async () => {
    // the layers close their files before the tmpfs is unmounted
    for (const runtime of runtimes) await within(runtime.dispose(), 15_000, "closing a layer").catch(() => undefined)
    await disk?.remove()
  }, 60_000)

  it("typed StoreUnavailable while the disk is full, recovery once space is back, nothing acknowledged lost", async () => {
    disk = await tmpfsDir(DISK_BYTES)
    const filename = join(disk.path, "tasks.db")
    const logs = countingLogger()
    const open = (runTasks: boolean) => {
      const runtime = ManagedRuntime.make(
        Executor.layerSqlite({ filename, tasks: [DiskEcho], concurrency: 32, leaseDuration: `${LEASE_MILLIS} millis`, pollInterval: "100 millis", runTasks })
          .pipe(Layer.provide(logs.layer))
      )
      runtimes.push(runtime)
      return runtime
    }
    const executor = open(true)
    await executor.runPromise(Effect.void)
    const submit = (n: number, gated = false) =>
      executor.runPromiseExit(
        DurableExecutor.submit(DiskEcho.make(gated ? { n, gated } : { n })).pipe(Effect.timeout("10 seconds"))
      )
    /** The executor's counts of tasks not finished yet. */
    const unfinished = () =>
      executor.runPromise(Effect.flatMap(ExecutorAdmin.ExecutorAdmin, (admin) => admin.counts())).then((counts) =>
        counts.filter((c) => c.state === "held" || c.state === "queued" || c.state === "running")
      )
    // the file as an outsider sees it (read-only), for the leases
    const outsider = ManagedRuntime.make(SqliteClient.layer({ filename, readonly: true }))
    runtimes.unshift(outsider)
    const count = async (statement: string, params: ReadonlyArray<unknown>) =>
      Number((await outsider.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe<{ c: number }>(statement, params))))[0]!.c)
    const report: Array<string> = []
    try {
      // 1. a healthy disk: acknowledged; GATED of them stay running until the gate opens
      const healthy = new SubmitLedger()
      const before = await Promise.all(Array.from({ length: 200 }, (_, n) => submit(n, n < GATED)))
      before.forEach((exit, n) => healthy.record(n, exit))
      expect(healthy.unexpected([]), healthy.unexpectedSamples([])).toEqual([])
      let waiting = "not read yet"
      await pollUntil(() => `only the gated tasks left before the disk fills (${waiting})`, async () => {
        const counts = await unfinished()
        waiting = JSON.stringify(counts)
        return counts.reduce((sum, c) => sum + c.count, 0) === GATED
      })

      // 2. the disk is full: submits go on until 100 have been refused (at most 20,000 tried); then
      // the gated tasks end, and the disk stays full until their leases (which cannot be renewed)
      // have been over for two lease durations: by then no end-write bounded by the lease is still
      // being tried, so only the recovery, once space is back, can finish these tasks
      const filled = disk.fill()
      const full = new SubmitLedger()
      const fullFrom = Date.now()
      const clients = runClients(16, (n) => submit(100_000 + n), full)
      await pollUntil(() => `100 refused submits on the full disk (${full.summary()})`, () =>
        full.failures >= 100 || full.attempts >= 20_000, { attempts: 600, every: 50 })
      openGate()
      await pollUntil(() => `the gated tasks returned (${returned()})`, () => returned() === GATED)
      let live = -1
      await pollUntil(() => `the leases of the running tasks over for ${2 * LEASE_MILLIS} ms (${live} not yet)`, async () =>
        (live = await count(
          `SELECT count(*) AS c FROM effect_executor_tasks WHERE state = 'running' AND lease_expires_at >= ?`,
          [Date.now() - 2 * LEASE_MILLIS]
        )) === 0, { attempts: 200, every: 50 })
      await within(clients.stop(), 15_000, "the submits in flight on the full disk")
      report.push(
        `SQLite on a ${DISK_BYTES / 1024 / 1024} MB tmpfs filled (${filled} bytes of filler) for ${seconds(fullFrom)}:`,
        `  ${full.attempts} submits while full: ${full.summary()}`
      )
      // the full disk refused submits, each with StoreUnavailable: no defect, no hang
      expect(full.failures).toBeGreaterThan(0)
      expect.soft(full.unexpected(), full.unexpectedSamples()).toEqual([])

      // 3. space is back: every submit is acknowledged again
      disk.free()
      const after = new SubmitLedger()
      const exits = await Promise.all(Array.from({ length: 300 }, (_, i) => submit(200_000 + i)))
      exits.forEach((exit, i) => after.record(200_000 + i, exit))
      report.push(`  300 submits once freed: ${after.summary()}`)
      expect(exits.map(describeExit).filter((kind) => kind !== "Success"), after.unexpectedSamples([])).toEqual([])

      // every acknowledged task (before, during, after) succeeds, in this layer...
      const acked = [...healthy.acked.values(), ...full.acked.values(), ...after.acked.values()]
      let left = "not read yet"
      const freedAt = Date.now()
      await pollUntil(() => `every task finished once the disk was freed (${left})`, async () => {
        const rows = await unfinished()
        left = JSON.stringify(rows)
        return rows.length === 0
      }, { attempts: 200, every: 100 })
      report.push(`  all finished ${seconds(freedAt)} after the space came back`)
      const statuses = async (runtime: ManagedRuntime.ManagedRuntime<DurableExecutor.DurableExecutor, unknown>) => {
        const tags = new Map<string, number>()
        for (const id of acked) {
          const exit = await runtime.runPromiseExit(DurableExecutor.status(TaskHandle.unsafeMake(id)))
          const tag = exit._tag === "Success" ? exit.value._tag : describeExit(exit)
          tags.set(tag, (tags.get(tag) ?? 0) + 1)
        }
        return Object.fromEntries(tags)
      }
      expect(await statuses(executor)).toEqual({ Succeeded: acked.length })

      // ...and read back from the file by a layer opened after this one closed
      await within(executor.dispose(), 15_000, "closing the layer")
      const reader = open(false)
      expect(await statuses(reader)).toEqual({ Succeeded: acked.length })
      report.push(`  ${acked.length} acknowledged, all Succeeded, read back from the file by a new layer`)
    } finally {
      openGate()
      console.log([...report, `  executor logs: ${logs.summary()}`].join("\n"))
    }
  }, 60_000)
})
