/**
 * One Fastify 5 server for `bench/fastify.ts`, in a child process of its own:
 *
 *   node --import tsx bench/fastifyServer.ts <plain | submit | finish>
 *
 * Every variant answers `GET /` with "hi" from an async handler; the work is a no-op async function.
 * - `plain`:  the handler alone, no plugin;
 * - `submit`: `FastifyAdapter.plugin` on `Executor.layerMemory()`, and the handler awaits one
 *             `request.tasks.submit(work)` first (held until the response is written, then run);
 * - `finish`: the handler runs the work in `reply.raw.on("finish", () => setImmediate(work))`: what
 *             users write without the library.
 *
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` as its first stdout line. Leaves on
 * SIGTERM, or when its parent's stdin closes.
 */
import { Executor, PromiseExecutor } from "effect-executor"
import * as FastifyAdapter from "effect-executor/FastifyAdapter"
import Fastify from "fastify"

const variants = ["plain", "submit", "finish"] as const
const variant = process.argv[2] as (typeof variants)[number]
if (!variants.includes(variant)) {
  process.stderr.write(`usage: fastifyServer.ts <${variants.join(" | ")}>\n`)
  process.exit(2)
}

const work = async () => {}
const app = Fastify()

if (variant === "submit") {
  const executor = PromiseExecutor.make(Executor.layerMemory())
  await executor.start()
  await app.register(FastifyAdapter.plugin(executor)) // app.close() drains it
  app.get("/", async (request) => {
    await request.tasks.submit(work)
    return "hi"
  })
} else if (variant === "finish") {
  app.get("/", async (_request, reply) => {
    reply.raw.on("finish", () => setImmediate(work))
    return "hi"
  })
} else {
  app.get("/", async () => "hi")
}

await app.listen({ port: 0, host: "127.0.0.1" })
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as { port: number }).port })}\n`)
const stop = () => void app.close().then(() => process.exit(0))
process.once("SIGTERM", stop)
process.stdin.on("end", stop).on("error", stop).resume()
