/**
 * After-response tasks on a plain node:http server (README, "node:http"), durable on SQLite.
 *
 *   npx tsx --conditions=source examples/node-http.ts    # PORT (3000) and TASKS_DB (data/tasks.db)
 *
 * `POST /signup?email=...` answers `{ "task": "<id>" }` at once; the welcome mail is sent after the
 * response. `GET /api/tasks/<id>` answers the task's status as JSON.
 */
import { Schema } from "effect"
import { Executor, PromiseExecutor, Task, TaskHandle } from "effect-executor"
import * as NodeAdapter from "effect-executor/NodeAdapter"
import { createServer } from "node:http"

const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Schema.String }),
  run: Task.fromPromise(async ({ to }) => console.log(`welcome mail sent to ${to}`))
})

const executor = PromiseExecutor.make(
  Executor.layerSqlite({ filename: process.env.TASKS_DB ?? "data/tasks.db", tasks: [SendWelcome] })
)
const status = NodeAdapter.statusRoute(executor, { prefix: "/api" }) // GET /api/tasks/:id

const server = createServer(NodeAdapter.handler(executor, async (req, res, tasks) => {
  if (status(req, res)) return
  const url = new URL(req.url ?? "/", "http://localhost")
  const to = url.searchParams.get("email")
  if (req.method !== "POST" || url.pathname !== "/signup" || to === null) return res.writeHead(404).end()
  // held until this response has been written, then run (and kept in the SQLite file until it has)
  const handle = await tasks.submit(SendWelcome.make({ to }))
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ task: TaskHandle.encode(handle) }))
}))

await executor.start() // opens the store and resumes unfinished tasks before the first request
server.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as { port: number }).port}`)
})
// SIGTERM: stop taking requests, then drain (running tasks get the layer's drainTimeout)
process.once("SIGTERM", () => server.close(() => void executor.close()))
