/**
 * Instructions per HTTP request, counted by valgrind's callgrind, for the servers `bench/run.ts`
 * times (`npx tsx bench/instructions.ts`; needs `valgrind`, not part of `npm run bench`).
 *
 * On a shared 2-core machine the same server binary serves 10-15% more or fewer requests per
 * second from one process start to the next, so a few-percent change cannot be seen in req/s.
 * Much of that is V8's: what it optimizes, and how, differs from one process to the next, and a
 * server then runs in one of a few modes for its whole life. Within a mode, counts repeat to the
 * instruction; between modes they differ by up to 7% (session 5 in bench/RESULTS.md: Effect's
 * run-loop handler for a success compiled on its own, with megamorphic `in` checks and calls to
 * `Equal.equals`, or not). So compare medians of several runs (BENCH_IR_RUNS), and look at which
 * functions moved before crediting a change. Counts do not see cache misses; req/s stays the
 * figure the target is about.
 *
 * Each server runs under `valgrind --tool=callgrind --instr-atstart=no`; after BENCH_IR_WARM
 * requests, counting is switched on for BENCH_IR_REQUESTS requests (autocannon, 20 connections),
 * then off. The V8 optimizing compiler still runs that late under valgrind and its share moves
 * between runs, so its functions are reported apart: "excluding the compiler" is the figure to
 * compare. Two servers run at a time.
 *
 * Environment (defaults in brackets):
 *   BENCH_IR_WARM [3000]       requests before counting starts
 *   BENCH_IR_REQUESTS [2000]   requests counted
 *   BENCH_IR_RUNS [1]          runs of each variant
 *   BENCH_HTTP_VARIANTS [plain,submit,middleware,serve,layer,fork]  see bench/httpServer.ts
 *   BENCH_IR_KEEP [unset]      a directory: each run's `callgrind_annotate` output is kept there
 *                              (`<variant>-<n>.txt`), to compare which functions moved
 */
import autocannon from "autocannon"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { env, fmt, killChildrenOnExit, median, ratio, revision, runMain } from "./harness.js"
import { chosenVariants, label, startServer, stopServer, type Variant } from "./servers.js"

killChildrenOnExit()

const WARM = Math.round(env("BENCH_IR_WARM", 3000))
const REQUESTS = Math.round(env("BENCH_IR_REQUESTS", 2000))
const RUNS = Math.round(env("BENCH_IR_RUNS", 1))
const order = chosenVariants("plain,submit,middleware,serve,layer,fork")

/** Functions of V8's compilers (TurboFan, Maglev, the baseline compiler) and of deoptimization. */
const compilerFunction =
  /compiler::|Compile|Maglev|Zone|Deoptim|CodeGenerator|RegisterAllocat|InstructionSelector|LiveRange|Graph|Turbofan/

interface Count {
  readonly variant: Variant
  readonly perRequest: number
  readonly excludingCompiler: number
}

const hasValgrind = (): boolean => {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const load = (port: number, amount: number) =>
  autocannon({ url: `http://127.0.0.1:${port}/`, connections: 20, amount, timeout: 60 })

const count = async (variant: Variant, dir: string): Promise<Count> => {
  const outFile = join(dir, `${variant}-${process.hrtime.bigint()}.callgrind`)
  const { child, port } = await startServer(variant, {
    wrapper: ["valgrind", "-q", "--tool=callgrind", "--instr-atstart=no", "--smc-check=all-non-file", `--callgrind-out-file=${outFile}`],
    timeoutMillis: 300_000
  })
  const callgrind = (mode: "on" | "off") =>
    execFileSync("callgrind_control", ["--instr=" + mode, String(child.pid)], { stdio: "ignore" })
  try {
    await load(port, WARM)
    callgrind("on")
    const result = await load(port, REQUESTS)
    callgrind("off")
    if (result["2xx"] !== REQUESTS) throw new Error(`${variant}: ${result["2xx"]} of ${REQUESTS} requests answered 2xx`)
  } finally {
    await stopServer(child, 120_000)
  }
  const total = Number(readFileSync(outFile, "utf8").match(/^totals:\s+(\d+)/m)?.[1])
  const annotated = execFileSync("callgrind_annotate", ["--inclusive=no", "--threshold=100", outFile], {
    encoding: "utf8",
    maxBuffer: 1 << 28
  })
  let compiler = 0
  for (const line of annotated.split("\n")) {
    const m = line.match(/^\s*([\d,]+) \([^)]*\)\s+(.*)$/)
    if (m !== null && !m[2]!.includes("PROGRAM TOTALS") && compilerFunction.test(m[2]!)) {
      compiler += Number(m[1]!.replace(/,/g, ""))
    }
  }
  const keep = process.env["BENCH_IR_KEEP"]
  if (keep !== undefined && keep !== "") writeFileSync(join(keep, `${variant}-${process.hrtime.bigint()}.txt`), annotated)
  rmSync(outFile)
  if (!Number.isFinite(total)) throw new Error(`${variant}: no totals in the callgrind output`)
  return { variant, perRequest: total / REQUESTS, excludingCompiler: (total - compiler) / REQUESTS }
}

const main = async () => {
  if (!hasValgrind()) {
    console.log("bench/instructions.ts needs valgrind (apt-get install valgrind); nothing measured.")
    return
  }
  console.log(
    `# instructions per request (${revision()}), callgrind, ${fmt(REQUESTS)} requests counted after ${fmt(WARM)}, ` +
      `${RUNS} run(s) per variant, ${new Date().toISOString()}`
  )
  const dir = mkdtempSync(join(tmpdir(), "effect-executor-ir-"))
  const jobs = Array.from({ length: RUNS }, () => order).flat()
  const counts: Array<Count> = []
  try {
    for (let i = 0; i < jobs.length; i += 2) {
      const pair = await Promise.all(jobs.slice(i, i + 2).map((variant) => count(variant, dir)))
      for (const c of pair) {
        counts.push(c)
        console.log(
          `${label[c.variant].padEnd(28)} ${fmt(c.perRequest).padStart(9)} instructions/request, ` +
            `${fmt(c.excludingCompiler).padStart(9)} excluding the compiler`
        )
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const of = (v: Variant) => median(counts.filter((c) => c.variant === v).map((c) => c.excludingCompiler))
  const base = of("plain")
  console.log(`\n| variant | instructions/request excluding the compiler (median) | a/x |\n|---|---|---|`)
  for (const v of order) {
    console.log(`| ${label[v]} | ${fmt(of(v))} (+${fmt(of(v) - base)}) | ${ratio(base / of(v))} |`)
  }
}

runMain(main)
