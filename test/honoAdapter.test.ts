/**
 * The Hono adapter (`HonoAdapter`): the adapter conformance suite on a real Hono app served by
 * `@hono/node-server`, and what is particular to it.
 */
import { type ServerType, serve } from "@hono/node-server"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Hono } from "hono"
import { stream, streamText } from "hono/streaming"
import type { Server } from "node:http"
import * as HonoAdapter from "../src/HonoAdapter.js"
import { type TaskHandle, TaskStatus } from "../src/index.js"
import { type AdapterHarness, adapterConformance, type HarnessServer, scopedExecutor, scopedServer, send } from "./adapterConformance.js"
import { readBody, request } from "./httpSupport.js"

/** `serve` on 127.0.0.1, port 0; `close` drops open connections. */
const listen = (app: Hono<HonoAdapter.Env>): Promise<HarnessServer> =>
  new Promise((resolve) => {
    const server: ServerType = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            ;(server as Server).closeAllConnections()
          })
      }))
  })

const harness: AdapterHarness = {
  name: "Hono",
  fixture: "honoAdapterServer.ts",
  start: (executor, routes) => {
    const app = new Hono<HonoAdapter.Env>()
    app.use(HonoAdapter.middleware(executor))
    app.get("/api/tasks/:id", HonoAdapter.statusRoute(executor, { session: (c) => c.req.header("x-session") }))
    app.post("/stream", async (c) => {
      const chunks = await routes.stream(c.var.tasks)
      c.header("content-type", "text/plain")
      // Hono's streaming helper: each write goes out as it is made
      return stream(c, async (out) => {
        for await (const chunk of chunks) await out.write(chunk)
      })
    })
    app.post("/submit", async (c) => c.json(await routes.submit(c.var.tasks)))
    app.post("/fail", async (c) => {
      await routes.fail(HonoAdapter.tasks(c))
      throw new Error("handler bug")
    })
    app.onError((_error, c) => c.text("internal error", 500))
    return listen(app)
  }
}

adapterConformance(harness)

describe("HonoAdapter", () => {
  it.live("a streamText body is written chunk by chunk: the task stays held until its last chunk has been sent", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      let finish!: () => void
      const last = new Promise<void>((resolve) => (finish = resolve))
      yield* Effect.addFinalizer(() => Effect.sync(() => finish()))
      let handle: TaskHandle.TaskHandle<string, unknown> | undefined
      const app = new Hono<HonoAdapter.Env>()
      app.use(HonoAdapter.middleware(executor))
      app.post("/text", async (c) => {
        handle = await c.var.tasks.submit(async () => "ran")
        return streamText(c, async (out) => {
          await out.write("first,")
          await last
          await out.write("last")
        })
      })
      const server = yield* scopedServer(() => listen(app))
      const response = yield* request(server.port, "/text")
      expect(response.headers["transfer-encoding"]).toBe("chunked")
      expect(yield* response.chunks.take).toBe("first,")
      // the client has the first chunk; the body is not complete, so the task is still held
      expect(yield* Effect.promise(() => executor.status(handle!))).toEqual(TaskStatus.Held())
      finish()
      expect(yield* readBody(response)).toBe("last")
      expect(yield* Effect.promise(() => executor.await(handle!))).toBe("ran")
    }).pipe(Effect.scoped))

  it.live("an app not served by @hono/node-server: the middleware's error names the fix (app.request answers 500)", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const errors: Array<string> = []
      const app = new Hono<HonoAdapter.Env>()
      app.use(HonoAdapter.middleware(executor))
      app.get("/", (c) => c.text("unreachable"))
      app.onError((error, c) => {
        errors.push(error.message)
        return c.text("internal error", 500)
      })
      const response = yield* Effect.promise(async () => app.request("/"))
      expect(response.status).toBe(500)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain("@hono/node-server")
      expect(errors[0]).toContain("c.env.outgoing")
    }).pipe(Effect.scoped))

  it.live("the status route answers HEAD, refuses a large declared body (413) and authorize false (403); tasks() without the middleware names the fix", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const seen: Array<string> = []
      const app = new Hono<HonoAdapter.Env>()
      app.get("/without", (c) => {
        try {
          HonoAdapter.tasks(c)
        } catch (error) {
          seen.push((error as Error).message)
        }
        return c.text("ok")
      })
      app.get("/status/:task", HonoAdapter.statusRoute(executor, { param: "task", authorize: (c) => c.req.header("x-denied") === undefined }))
      app.get("/with", HonoAdapter.middleware(executor), async (c) => c.json(await executor.status(await c.var.tasks.submit(async () => 1))))
      const { port } = yield* scopedServer(() => listen(app))
      yield* send(port, "/without")
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("app.use(HonoAdapter.middleware(executor))")
      expect(JSON.parse((yield* send(port, "/with")).body)).toEqual(TaskStatus.Held())
      expect(yield* send(port, "/status/AAAAAAAAAAAAAAAAAAAAAAAA?x=1", "HEAD")).toEqual({ status: 404, body: "" })
      expect(yield* send(port, "/status/x", "GET", { "content-length": String(65 * 1024) })).toEqual({
        status: 413,
        body: `{"error":"request body too large"}`
      })
      expect(yield* send(port, "/status/x", "GET", { "x-denied": "1" })).toEqual({ status: 403, body: `{"error":"forbidden"}` })
    }).pipe(Effect.scoped))
})
