/**
 * Benchmarks with baselines measured in the same run (`npm run bench`). Prints ratios, never asserts.
 * They measure the built package (`dist/`, what users install, imported as `effect-executor`), so
 * `npm run bench` builds first; after changing `src/`, run `npm run build` before `npx tsx bench/run.ts`.
 *
 * 1. Memory executor throughput: N no-op tasks (`Effect.void`) submitted with
 *    `Executor.submit(_, { when: "now" })` through `Executor.layerMemory`, all completed, versus
 *    `Effect.fork` of the same effects then joining them. Target ratio >= 0.5.
 * 2. HTTP requests/second with autocannon (-c 50) against servers each in its own child process
 *    (bench/httpServer.ts): (a) the handler without middleware and without its submit line,
 *    (b) `AfterResponse.middleware` + the handler with one `Executor.submit(Effect.void)`,
 *    (c) the middleware without submit, (d) the bare response with no `Effect.gen` step (a
 *    reference), (g) (b) with the middleware given to `HttpServer.serve(app, middleware)` instead
 *    of applied to the router. Each round starts one fresh server per variant and measures them
 *    in turns, one slice of a second each (see `httpRound`). Target b/a >= 0.9.
 *    With `fork` among the variants, (b) is also set against (f), the same handler forking its work
 *    with `Effect.forkDaemon` (what a user writes without this library). Target b/f >= 1.0.
 *    With `realistic` and `realistic-submit`, (r) a handler doing one SQLite read by primary key
 *    and answering the row as JSON, is set against (s), the same with the middleware and one held
 *    `Executor.submit(Effect.void)`: what a submit costs a handler that does some work. Target s/r >= 0.95.
 *    `npx tsx bench/instructions.ts` counts the same servers' instructions per request instead
 *    (deterministic; needs valgrind).
 *
 * Environment (defaults in brackets):
 *   BENCH_SECONDS [8]          measured autocannon time per server and round
 *   BENCH_HTTP_SLICE [1]       seconds per slice: the servers of a round are measured in turns
 *   BENCH_WARMUP_SECONDS [1]   unmeasured autocannon run against each fresh server first
 *   BENCH_CONNECTIONS [50]     autocannon connections
 *   BENCH_HTTP_ROUNDS [4]      how many times the sequence of variants runs
 *   BENCH_HTTP_VARIANTS [plain,submit,middleware,bare,serve]  also `layer`, `fork`, `realistic`,
 *                              `realistic-submit` (see bench/httpServer.ts)
 *   BENCH_TASKS [200000]       tasks per memory round
 *   BENCH_ROUNDS [4]           memory rounds (each: one baseline, one executor)
 *   BENCH_CONCURRENCY [1000]   layerMemory concurrency in the memory benchmark
 *   BENCH_ONLY [all]           "memory" or "http"
 *   BENCH_CPU_PROF [unset]     a directory: server children run with --cpu-prof (a sample every 250 µs) into <dir>/<variant>/
 *                              (one profile per thread; the main thread's is the large one)
 *
 * Only 127.0.0.1 is used; every child process is killed before exit.
 */
import autocannon from "autocannon"
import { Effect, Fiber } from "effect"
import type { ChildProcess } from "node:child_process"
import { availableParallelism, cpus, loadavg } from "node:os"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { Executor } from "effect-executor"
import type { TaskHandle } from "effect-executor"
import { chosenVariants, label, startServer, stopServer, type Variant } from "./servers.js"
import { env, fmt, killChildrenOnExit, median, ratio, revision, runMain, verdict } from "./harness.js"

killChildrenOnExit()

const SECONDS = env("BENCH_SECONDS", 8)
const WARMUP_SECONDS = env("BENCH_WARMUP_SECONDS", 1)
const CONNECTIONS = Math.round(env("BENCH_CONNECTIONS", 50))
const HTTP_ROUNDS = Math.round(env("BENCH_HTTP_ROUNDS", 4))
const SLICE_SECONDS = env("BENCH_HTTP_SLICE", 1)
const TASKS = Math.round(env("BENCH_TASKS", 200_000))
const ROUNDS = Math.round(env("BENCH_ROUNDS", 4))
const CONCURRENCY = Math.round(env("BENCH_CONCURRENCY", 1000))
const ONLY = process.env.BENCH_ONLY ?? "all"
const CPU_PROF = process.env.BENCH_CPU_PROF


// ---------------------------------------------------------------------------------------------
// 1. Memory executor throughput
// ---------------------------------------------------------------------------------------------

/** Baseline: fork every effect from one fiber, then join each fiber. Returns milliseconds. */
const forkJoinRound = (n: number) =>
  Effect.gen(function*() {
    const fibers: Array<Fiber.RuntimeFiber<void>> = new Array(n)
    const start = performance.now()
    for (let i = 0; i < n; i++) fibers[i] = yield* Effect.fork(Effect.void)
    for (let i = 0; i < n; i++) yield* Fiber.join(fibers[i]!)
    return performance.now() - start
  })

/**
 * The executor: submit every task, then await the last handle. A small `maxRetained` means early
 * handles are evicted before the loop ends, so awaiting each one is not possible; one lane, equal
 * priorities and one-step bodies make the last submitted task the last to finish (checked by
 * `checkCompletion`). The layer is built before and closed after the timed part.
 */
const executorRound = (n: number, body: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function*() {
    const start = performance.now()
    let last: TaskHandle.TaskHandle<void, never> | undefined
    for (let i = 0; i < n; i++) last = yield* Executor.submit(body, { when: "now" })
    yield* Executor.await(last!)
    return performance.now() - start
  }).pipe(
    Effect.provide(Executor.layerMemory({ concurrency: CONCURRENCY, maxBacklog: n + 1, maxRetained: 1000 }))
  )

/** Untimed: with a counting body, all n tasks have run once the last handle resolves. */
const checkCompletion = (n: number) =>
  Effect.gen(function*() {
    let ran = 0
    yield* executorRound(n, Effect.sync(() => void ran++))
    if (ran !== n) throw new Error(`completion check: ${ran} of ${n} tasks had run when the last handle resolved`)
  })

interface MemoryResult {
  readonly baselineMs: Array<number>
  readonly executorMs: Array<number>
}

const memoryBench = async (): Promise<MemoryResult> => {
  console.log(`\n## Memory executor: ${fmt(TASKS)} tasks x ${ROUNDS} rounds (concurrency ${CONCURRENCY}, maxRetained 1000)`)
  // Warm-up (JIT) and the completion check, untimed.
  await Effect.runPromise(forkJoinRound(TASKS))
  await Effect.runPromise(checkCompletion(TASKS))

  const result: MemoryResult = { baselineMs: [], executorMs: [] }
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which one goes first so drift (GC, thermal) does not favour one side.
    const order = round % 2 === 1 ? ["fork", "executor"] as const : ["executor", "fork"] as const
    for (const which of order) {
      const ms = await Effect.runPromise(which === "fork" ? forkJoinRound(TASKS) : executorRound(TASKS))
      ;(which === "fork" ? result.baselineMs : result.executorMs).push(ms)
    }
    const b = result.baselineMs.at(-1)!
    const e = result.executorMs.at(-1)!
    console.log(
      `round ${round}: fork+join ${fmt((TASKS / b) * 1000)} tasks/s (${b.toFixed(0)} ms), ` +
        `executor ${fmt((TASKS / e) * 1000)} tasks/s (${e.toFixed(0)} ms), ratio ${ratio(b / e)}, load ${loadavg()[0]!.toFixed(2)}`
    )
  }
  return result
}

// ---------------------------------------------------------------------------------------------
// 2. HTTP
// ---------------------------------------------------------------------------------------------

const httpOrder = chosenVariants("plain,submit,middleware,bare,serve")


interface HttpRun {
  readonly variant: Variant
  readonly round: number
  readonly requests: number
  readonly perSecond: number
  /** The server process's CPU time (all its threads) per request, in microseconds, when readable. */
  readonly cpuMicros: number | undefined
  readonly p50: number
  readonly p99: number
  readonly bad: number
}

const load = (port: number, duration: number) =>
  autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration })

/**
 * CPU seconds a process has used (user + system, all threads), from Linux's /proc; `undefined`
 * elsewhere. The load generator and the server share this machine's 2 cores, so how many requests
 * a server answers per second also depends on how the two are scheduled; CPU time per request does
 * not, and is printed beside req/s.
 */
const cpuSecondsOf = (pid: number | undefined): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields 14 and 15 of stat (utime, stime), counted after the command name; clock ticks of 1/100 s
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/**
 * One round: a fresh server process per variant, all alive at once, each warmed up, then measured
 * in slices of BENCH_HTTP_SLICE seconds taken in turn (a,b,c,...,b,c,...,a,...), BENCH_SECONDS in all
 * per variant. This machine's speed drifts by tens of percent over seconds (the same server
 * measured 9,000-15,000 req/s within one run): measured one after the other, each variant met
 * a different machine; in turns, they meet the same one.
 */
const httpRound = async (round: number): Promise<Array<HttpRun>> => {
  const servers: Array<{ variant: Variant; child: ChildProcess; port: number }> = []
  try {
    for (const variant of httpOrder) {
      const { child, port } = await startServer(variant, {
        nodeArgs: CPU_PROF === undefined ? [] : ["--cpu-prof", "--cpu-prof-interval", "250", "--cpu-prof-dir", join(CPU_PROF, variant)]
      })
      servers.push({ variant, child, port })
    }
    for (const server of servers) await load(server.port, WARMUP_SECONDS)
    const totals = servers.map(() => ({
      requests: 0,
      seconds: 0,
      cpu: 0 as number | undefined,
      bad: 0,
      p50: [] as Array<number>,
      p99: [] as Array<number>
    }))
    const slices = Math.max(1, Math.round(SECONDS / SLICE_SECONDS))
    for (let slice = 0; slice < slices; slice++) {
      for (let k = 0; k < servers.length; k++) {
        // each slice starts with the next variant, so that none always follows the same one
        const i = (slice + k) % servers.length
        const cpuBefore = cpuSecondsOf(servers[i]!.child.pid)
        const r = await load(servers[i]!.port, SLICE_SECONDS)
        const cpuAfter = cpuSecondsOf(servers[i]!.child.pid)
        const total = totals[i]!
        total.cpu = cpuBefore === undefined || cpuAfter === undefined || total.cpu === undefined
          ? undefined
          : total.cpu + cpuAfter - cpuBefore
        total.requests += r.requests.total
        total.seconds += r.duration
        total.bad += r.errors + r.timeouts + r.non2xx
        total.p50.push(r.latency.p50)
        total.p99.push(r.latency.p99)
      }
    }
    return servers.map(({ variant }, i) => {
      const total = totals[i]!
      const run: HttpRun = {
        variant,
        round,
        requests: total.requests,
        perSecond: total.requests / total.seconds,
        cpuMicros: total.cpu === undefined ? undefined : (total.cpu / total.requests) * 1e6,
        p50: median(total.p50),
        p99: median(total.p99),
        bad: total.bad
      }
      console.log(
        `round ${round} ${label[variant].padEnd(26)} ${fmt(run.perSecond).padStart(7)} req/s, ` +
          `${run.cpuMicros === undefined ? "?" : run.cpuMicros.toFixed(1)} µs CPU/request ` +
          `(${fmt(run.requests)} in ${total.seconds.toFixed(1)} s, median p50 ${run.p50} ms, p99 ${run.p99} ms` +
          `${run.bad > 0 ? `, ${run.bad} errors/timeouts/non-2xx` : ""}) load ${loadavg()[0]!.toFixed(2)}`
      )
      return run
    })
  } finally {
    await Promise.all(servers.map(({ child }) => stopServer(child)))
  }
}

const httpBench = async (): Promise<Array<HttpRun>> => {
  console.log(
    `\n## HTTP: autocannon -c ${CONNECTIONS}, ${SECONDS} s per server in slices of ${SLICE_SECONDS} s taken in turn ` +
      `(after ${WARMUP_SECONDS} s warm-up), one child process per server, ${HTTP_ROUNDS} rounds of ` +
      httpOrder.map((v) => label[v].slice(0, 3)).join(",")
  )
  const runs: Array<HttpRun> = []
  for (let round = 1; round <= HTTP_ROUNDS; round++) runs.push(...await httpRound(round))
  return runs
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  const started = performance.now()
  console.log(
    `# effect-executor bench (${revision()}) — node ${process.version}, ${cpus()[0]?.model ?? "cpu"}, ` +
      `${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)} (other load skews results), ` +
      new Date().toISOString()
  )
  const summary: Array<string> = []

  if (ONLY === "all" || ONLY === "memory") {
    const m = await memoryBench()
    const bMed = (TASKS / median(m.baselineMs)) * 1000
    const eMed = (TASKS / median(m.executorMs)) * 1000
    const bBest = (TASKS / Math.min(...m.baselineMs)) * 1000
    const eBest = (TASKS / Math.min(...m.executorMs)) * 1000
    summary.push(
      `| memory: Effect.fork + Fiber.join | median ${fmt(bMed)} tasks/s, best ${fmt(bBest)} | 1.00 |`,
      `| memory: Executor.submit (when: "now") + await last | median ${fmt(eMed)} tasks/s, best ${fmt(eBest)} | ` +
        `median ${ratio(eMed / bMed)}, best ${ratio(eBest / bBest)} (target >= 0.5: ${verdict(eMed / bMed, 0.5)}) |`
    )
  }

  if (ONLY === "all" || ONLY === "http") {
    const runs = await httpBench()
    const mean = (v: Variant) => {
      const xs = runs.filter((r) => r.variant === v).map((r) => r.perSecond)
      return xs.reduce((a, b) => a + b, 0) / xs.length
    }
    const each = (v: Variant) => runs.filter((r) => r.variant === v).map((r) => fmt(r.perSecond)).join(" / ")
    const perRound = (v: Variant) =>
      Array.from({ length: HTTP_ROUNDS }, (_, i) => {
        const a = runs.find((r) => r.variant === "plain" && r.round === i + 1)!
        const x = runs.find((r) => r.variant === v && r.round === i + 1)!
        return ratio(x.perSecond / a.perSecond)
      }).join(" / ")
    const a = mean("plain")
    for (const v of httpOrder) {
      const letter = label[v].slice(1, 2)
      const row = `| http ${label[v]} | ${each(v)} req/s (mean ${fmt(mean(v))}) | `
      if (v === "plain") summary.push(`${row}1.00 |`)
      else {
        const rounds = Array.from({ length: HTTP_ROUNDS }, (_, i) =>
          runs.find((r) => r.variant === v && r.round === i + 1)!.perSecond /
          runs.find((r) => r.variant === "plain" && r.round === i + 1)!.perSecond)
        // issue 14: the median of the rounds at least 0.85 (the goal stays 0.95)
        const target = v === "submit" ? `; median of rounds ${ratio(median(rounds))}, floor 0.85: ${verdict(median(rounds), 0.85)}` : ""
        summary.push(`${row}${letter}/a ${ratio(mean(v) / a)} (per round ${perRound(v)}${target}) |`)
      }
    }
    // one variant against another, round by round: `x` against `base`, as `name` (b/f, s/r)
    const against = (x: Variant, base: Variant, name: string, target: number) => {
      if (!httpOrder.includes(x) || !httpOrder.includes(base)) return
      const rounds = Array.from({ length: HTTP_ROUNDS }, (_, i) =>
        runs.find((r) => r.variant === x && r.round === i + 1)!.perSecond /
        runs.find((r) => r.variant === base && r.round === i + 1)!.perSecond)
      summary.push(
        `| http ${label[x]} against ${label[base]} | ${name} mean ${ratio(mean(x) / mean(base))}, ` +
          `median of rounds ${ratio(median(rounds))} (per round ${rounds.map(ratio).join(" / ")}; ` +
          `target >= ${target.toFixed(2)}: ${verdict(median(rounds), target)}) |`
      )
    }
    // the executor against what a user writes without it: the same handler forking its work
    against("submit", "fork", "b/f", 1)
    // a submit in a handler that does some work: the realistic pair
    against("realistic-submit", "realistic", "s/r", 0.95)
    // requests per CPU-second of the server: the same ratio, without the load generator's share
    const cpu = (v: Variant) => runs.filter((r) => r.variant === v).map((r) => r.cpuMicros)
    if (runs.every((r) => r.cpuMicros !== undefined)) {
      const meanCpu = (v: Variant) => cpu(v).reduce((x, y) => x! + y!, 0)! / HTTP_ROUNDS
      for (const v of httpOrder) {
        const letter = label[v].slice(1, 2)
        const row = `| http ${label[v]}, server CPU per request | ${cpu(v).map((x) => x!.toFixed(1)).join(" / ")} µs ` +
          `(mean ${meanCpu(v).toFixed(1)}) | `
        summary.push(v === "plain" ? `${row}1.00 |` : `${row}a/${letter} ${ratio(meanCpu("plain") / meanCpu(v))} |`)
      }
    }
  }

  console.log(`\n## Summary\n\n| benchmark | result | ratio |\n|---|---|---|\n${summary.join("\n")}`)
  console.log(
    `\ntotal time ${((performance.now() - started) / 1000).toFixed(0)} s; 1-minute load average now ` +
      `${loadavg()[0]!.toFixed(2)} (this run alone keeps it near 1-1.5 on 2 cores; more means other processes competed)`
  )
}

runMain(main)
