/**
 * The server adapters' benchmark (issue 15, "Benchmarks"), for any framework: requests/second of
 * three servers of one framework, each in its own child process (`bench/<framework>Server.ts
 * <variant>`), all alive at once and measured in turns, one slice at a time, so that they meet the
 * same (noisy, shared) machine:
 *   plain   the handler alone;
 *   submit  the adapter + the same handler awaiting one after-response submit;
 *   finish  the same handler doing its work in `res.on("finish", () => setImmediate(work))`.
 * Per round it prints each server's req/s and CPU per request, submit/plain (target >= 0.9) and
 * submit/finish (target >= 1.0); then the medians of the rounds. Prints, never asserts. A server
 * file answers `GET /` with a short text in each variant and prints `{"port":N}` as its first
 * stdout line; it leaves on SIGTERM or when its stdin closes. The servers import `effect-executor`,
 * the built package (dist/): run `npm run build` after changing src/. `bench/express.ts` and `bench/fastify.ts` run it for
 * their frameworks.
 *
 * Environment (defaults in brackets): BENCH_SECONDS [8] measured seconds per server and round,
 * BENCH_HTTP_SLICE [1] seconds per slice, BENCH_WARMUP_SECONDS [1], BENCH_CONNECTIONS [50],
 * BENCH_HTTP_ROUNDS [4].
 */
import autocannon from "autocannon"
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { availableParallelism, cpus, loadavg } from "node:os"
import { join } from "node:path"
import { env, fmt, killChildrenOnExit, median, ratio, revision, root, runMain, track, verdict } from "./harness.js"

const variants = ["plain", "submit", "finish"] as const
type Variant = (typeof variants)[number]

interface Measured {
  readonly perSecond: number
  /** The server's CPU time per request, in microseconds (`NaN` when /proc is not there). */
  readonly cpuMicros: number
}

/** CPU seconds (user + system, all threads) a process has used, from /proc; `undefined` elsewhere. */
const cpuOf = (pid: number | undefined): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

const stop = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => resolve(clearTimeout(timer)))
    child.kill("SIGTERM")
  })

/** Runs the benchmark of `framework` (as printed) on the servers of `bench/<serverFile>`. */
export const runAdapterBench = (framework: string, serverFile: string): void => {
  killChildrenOnExit()
  const SECONDS = env("BENCH_SECONDS", 8)
  const SLICE = env("BENCH_HTTP_SLICE", 1)
  const WARMUP = env("BENCH_WARMUP_SECONDS", 1)
  const CONNECTIONS = Math.round(env("BENCH_CONNECTIONS", 50))
  const ROUNDS = Math.round(env("BENCH_HTTP_ROUNDS", 4))

  /** Starts `bench/<serverFile> <variant>` and resolves with its port (its first stdout line). */
  const start = (variant: Variant): Promise<{ child: ChildProcess; port: number }> =>
    new Promise((resolve, reject) => {
      const child = track(spawn(process.execPath, ["--import", "tsx", join(root, "bench", serverFile), variant], {
        cwd: root,
        stdio: ["pipe", "pipe", "inherit"]
      }))
      child.once("exit", (code, signal) => reject(new Error(`${variant} server exited early (${code ?? signal})`)))
      let out = ""
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
        if (out.includes("\n")) resolve({ child, port: (JSON.parse(out.slice(0, out.indexOf("\n"))) as { port: number }).port })
      })
    })

  const hit = (port: number, duration: number) =>
    autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration })

  /** One round: fresh servers, warmed up, then measured slice by slice in turns. */
  const round = async (): Promise<Record<Variant, Measured>> => {
    const servers = await Promise.all(variants.map(start))
    try {
      for (const { port } of servers) await hit(port, WARMUP)
      const requests = variants.map(() => 0)
      const seconds = variants.map(() => 0)
      const cpu = variants.map(() => 0)
      const slices = Math.max(1, Math.round(SECONDS / SLICE))
      for (let slice = 0; slice < slices; slice++) {
        for (let k = 0; k < servers.length; k++) {
          const i = (slice + k) % servers.length // each slice starts with the next variant
          const before = cpuOf(servers[i]!.child.pid) ?? NaN
          const result = await hit(servers[i]!.port, SLICE)
          cpu[i]! += (cpuOf(servers[i]!.child.pid) ?? NaN) - before
          if (result.errors + result.timeouts + result.non2xx > 0) throw new Error(`${variants[i]}: errors in a slice`)
          requests[i]! += result.requests.total
          seconds[i]! += result.duration
        }
      }
      return Object.fromEntries(variants.map((v, i) => [v, {
        perSecond: requests[i]! / seconds[i]!,
        cpuMicros: (cpu[i]! / requests[i]!) * 1e6
      }])) as Record<Variant, Measured>
    } finally {
      await Promise.all(servers.map(({ child }) => stop(child)))
    }
  }

  runMain(async () => {
    console.log(
      `# ${framework} bench (${revision()}), node ${process.version}, ${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores; ` +
        `autocannon -c ${CONNECTIONS}, ${SECONDS} s per server and round in ${SLICE} s slices, ${ROUNDS} rounds; ` +
        `load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`
    )
    const overPlain: Array<number> = []
    const overFinish: Array<number> = []
    for (let r = 1; r <= ROUNDS; r++) {
      const m = await round()
      overPlain.push(m.submit.perSecond / m.plain.perSecond)
      overFinish.push(m.submit.perSecond / m.finish.perSecond)
      const each = (v: Variant) => `${v} ${fmt(m[v].perSecond)} req/s (${m[v].cpuMicros.toFixed(0)} µs CPU/request)`
      console.log(
        `round ${r}: ${variants.map(each).join(", ")}; ` +
          `submit/plain ${ratio(overPlain.at(-1)!)}, submit/finish ${ratio(overFinish.at(-1)!)}; load ${loadavg()[0]!.toFixed(2)}`
      )
    }
    console.log(
      `median of rounds: submit/plain ${ratio(median(overPlain))} (target >= 0.9: ${verdict(median(overPlain), 0.9)}), ` +
        `submit/finish ${ratio(median(overFinish))} (target >= 1.0: ${verdict(median(overFinish), 1)}); ` +
        `load average now ${loadavg().map((x) => x.toFixed(2)).join(" ")}`
    )
  })
}
