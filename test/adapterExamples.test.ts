/**
 * The server examples of the README (examples/node-http.ts, express.ts, fastify.ts, hono.ts), each
 * started as users start it, in a child process on a fresh SQLite file and port 0: a signup submits the
 * welcome mail, which runs after the response, and its id polled through the example's status
 * route answers `succeeded`; SIGTERM drains and exits 0.
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { readBody, request } from "./httpSupport.js"
import { startChild, stopChild } from "./processes.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-adapter-examples-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const send = (port: number, path: string, method: string) =>
  Effect.runPromise(Effect.flatMap(request(port, path, method), (response) =>
    Effect.map(readBody(response), (body) => ({ status: response.status, body }))))

describe("server examples", () => {
  for (const example of ["examples/node-http.ts", "examples/express.ts", "examples/fastify.ts", "examples/hono.ts"]) {
    it(`${example}: a signup's welcome mail is sent after the response, and its id polled through /api/tasks/:id answers succeeded`, async () => {
      const child = startChild(example, example, [], {
        nodeArgs: ["--conditions=source"],
        env: { PORT: "0", TASKS_DB: join(dir, `${example.replace(/\W/g, "-")}.db`) }
      })
      try {
        const port = Number((await child.line(/^listening on http:\/\/localhost:(\d+)$/))[1])
        const signup = await send(port, "/signup?email=ada%40example.com", "POST")
        expect(signup.status, signup.body).toBe(200)
        const { task } = JSON.parse(signup.body) as { task: string }
        expect(task).toMatch(/^[A-Za-z0-9_-]{24}$/)
        await child.line(/^welcome mail sent to ada@example\.com$/)
        // the mail is sent; the task's end is written just after: poll until the route says so
        let polled = await send(port, `/api/tasks/${task}`, "GET")
        for (let i = 0; i < 100 && polled.status === 200 && !polled.body.includes(`"state":"succeeded"`); i++) {
          await new Promise((resolve) => setTimeout(resolve, 20))
          polled = await send(port, `/api/tasks/${task}`, "GET")
        }
        expect(polled.status, polled.body).toBe(200)
        expect(JSON.parse(polled.body)).toMatchObject({ id: task, task: "SendWelcome", state: "succeeded" })
        const forged = await send(port, "/api/tasks/AAAAAAAAAAAAAAAAAAAAAAAA", "GET")
        expect(forged).toEqual({ status: 404, body: `{"error":"no such task"}` })
        expect(await stopChild(child)).toBe(0)
      } finally {
        child.process.kill("SIGKILL")
        await child.exited
      }
    }, 60_000)
  }
})
