/**
 * One Express 5 server for `bench/express.ts`, in a child process of its own:
 *
 *   node --import tsx bench/expressServer.ts <plain | submit | finish>
 *
 * Every variant answers `GET /` with `res.send("hi")` from an async handler (the same handler in
 * all three, as the Fastify servers have it); the work is a no-op async function.
 * - `plain`:  the handler alone, no middleware;
 * - `submit`: `ExpressAdapter.middleware` on `Executor.layerMemory()`, and the handler awaits one
 *             `tasks.submit(work)` first (held until the response is written, then run);
 * - `finish`: the handler runs the work in `res.on("finish", () => setImmediate(work))`: what users
 *             write without the library.
 *
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` as its first stdout line. Leaves on
 * SIGTERM, or when its parent's stdin closes.
 */
import { Executor, PromiseExecutor } from "effect-executor"
import * as ExpressAdapter from "effect-executor/ExpressAdapter"
import express from "express"

export const expressVariants = ["plain", "submit", "finish"] as const
export type ExpressVariant = (typeof expressVariants)[number]

const variant = process.argv[2] as ExpressVariant
if (!expressVariants.includes(variant)) {
  process.stderr.write(`usage: expressServer.ts <${expressVariants.join(" | ")}>\n`)
  process.exit(2)
}

const work = async () => {}
const app = express()
const executor = variant === "submit" ? PromiseExecutor.make(Executor.layerMemory()) : undefined

if (executor !== undefined) {
  await executor.start()
  app.use(ExpressAdapter.middleware(executor))
  app.get("/", async (_req, res) => {
    await ExpressAdapter.tasks(res).submit(work)
    res.send("hi")
  })
} else if (variant === "finish") {
  app.get("/", async (_req, res) => {
    res.on("finish", () => setImmediate(work))
    res.send("hi")
  })
} else {
  app.get("/", async (_req, res) => {
    res.send("hi")
  })
}

const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`)
})
const stop = () => server.close(() => void (executor?.close() ?? Promise.resolve()).then(() => process.exit(0)))
process.once("SIGTERM", stop)
process.stdin.on("end", stop).on("error", stop).resume()
