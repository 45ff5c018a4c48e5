/**
 * After-response tasks on Express (README, "Express"), durable on SQLite.
 *
 *   npx tsx --conditions=source examples/express.ts    # PORT (3000) and TASKS_DB (data/tasks.db)
 *
 * `POST /signup?email=...` answers `{ "task": "<id>" }` at once; the welcome mail is sent after the
 * response. `GET /api/tasks/<id>` answers the task's status as JSON.
 */
import { Schema } from "effect"
import { Executor, PromiseExecutor, Task, TaskHandle } from "effect-executor"
import * as ExpressAdapter from "effect-executor/ExpressAdapter"
import express from "express"

const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Schema.String }),
  run: Task.fromPromise(async ({ to }) => console.log(`welcome mail sent to ${to}`))
})

const executor = PromiseExecutor.make(
  Executor.layerSqlite({ filename: process.env.TASKS_DB ?? "data/tasks.db", tasks: [SendWelcome] })
)

const app = express()
app.use(ExpressAdapter.middleware(executor)) // res.locals.tasks, req.tasks
app.use(ExpressAdapter.statusRoute(executor, { prefix: "/api" })) // GET /api/tasks/:id
app.post("/signup", async (req, res) => {
  const to = req.query.email
  if (typeof to !== "string") return void res.status(400).json({ error: "email is required" })
  // held until this response has been written, then run (and kept in the SQLite file until it has)
  const handle = await ExpressAdapter.tasks(res).submit(SendWelcome.make({ to }))
  res.json({ task: TaskHandle.encode(handle) })
})

await executor.start() // opens the store and resumes unfinished tasks before the first request
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as { port: number }).port}`)
})
// SIGTERM: stop taking requests, then drain (running tasks get the layer's drainTimeout)
process.once("SIGTERM", () => server.close(() => void executor.close()))
