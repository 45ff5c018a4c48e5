/**
 * After-response tasks on Fastify (README, "Fastify"), durable on SQLite.
 *
 *   npx tsx --conditions=source examples/fastify.ts    # PORT (3000) and TASKS_DB (data/tasks.db)
 *
 * `POST /signup?email=...` answers `{ "task": "<id>" }` at once; the welcome mail is sent after the
 * response. `GET /api/tasks/<id>` answers the task's status as JSON.
 */
import { Schema } from "effect"
import { Executor, PromiseExecutor, Task, TaskHandle } from "effect-executor"
import * as FastifyAdapter from "effect-executor/FastifyAdapter"
import Fastify from "fastify"

const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Schema.String }),
  run: Task.fromPromise(async ({ to }) => console.log(`welcome mail sent to ${to}`))
})

const executor = PromiseExecutor.make(
  Executor.layerSqlite({ filename: process.env.TASKS_DB ?? "data/tasks.db", tasks: [SendWelcome] })
)

const app = Fastify()
// request.tasks in every route, GET /api/tasks/:id, and app.close() drains the executor
await app.register(FastifyAdapter.plugin(executor, { prefix: "/api" }))
app.post<{ Querystring: { email?: string } }>("/signup", async (request, reply) => {
  const to = request.query.email
  if (typeof to !== "string") return reply.code(400).send({ error: "email is required" })
  // held until this response has been written, then run (and kept in the SQLite file until it has)
  const handle = await request.tasks.submit(SendWelcome.make({ to }))
  return { task: TaskHandle.encode(handle) }
})

await executor.start() // opens the store and resumes unfinished tasks before the first request
await app.listen({ port: Number(process.env.PORT ?? 3000) })
console.log(`listening on http://localhost:${(app.server.address() as { port: number }).port}`)
// SIGTERM: stop taking requests, then drain (running tasks get the layer's drainTimeout)
process.once("SIGTERM", () => void app.close())
