/**
 * After-response tasks on Hono served by @hono/node-server (README, "Hono"), durable on SQLite.
 *
 *   npx tsx --conditions=source examples/hono.ts    # PORT (3000) and TASKS_DB (data/tasks.db)
 *
 * `POST /signup?email=...` answers `{ "task": "<id>" }` at once; the welcome mail is sent after the
 * response. `GET /api/tasks/<id>` answers the task's status as JSON.
 */
import { serve } from "@hono/node-server"
import { Schema } from "effect"
import { Executor, PromiseExecutor, Task, TaskHandle } from "effect-executor"
import * as HonoAdapter from "effect-executor/HonoAdapter"
import { Hono } from "hono"

const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Schema.String }),
  run: Task.fromPromise(async ({ to }) => console.log(`welcome mail sent to ${to}`))
})

const executor = PromiseExecutor.make(
  Executor.layerSqlite({ filename: process.env.TASKS_DB ?? "data/tasks.db", tasks: [SendWelcome] })
)

const app = new Hono<HonoAdapter.Env>()
app.use(HonoAdapter.middleware(executor)) // c.var.tasks
app.get("/api/tasks/:id", HonoAdapter.statusRoute(executor))
app.post("/signup", async (c) => {
  const to = c.req.query("email")
  if (to === undefined) return c.json({ error: "email is required" }, 400)
  // held until this response has been written, then run (and kept in the SQLite file until it has)
  const handle = await c.var.tasks.submit(SendWelcome.make({ to }))
  return c.json({ task: TaskHandle.encode(handle) })
})

await executor.start() // opens the store and resumes unfinished tasks before the first request
const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, (info) => {
  console.log(`listening on http://localhost:${info.port}`)
})
// SIGTERM: stop taking requests, then drain (running tasks get the layer's drainTimeout)
process.once("SIGTERM", () => server.close(() => void executor.close()))
