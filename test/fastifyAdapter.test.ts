/**
 * The Fastify adapter (`FastifyAdapter`): the adapter conformance suite on a real Fastify 5 app,
 * and what is particular to it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import Fastify, { type FastifyInstance } from "fastify"
import { Readable } from "node:stream"
import * as FastifyAdapter from "../src/FastifyAdapter.js"
import { Executor, PromiseExecutor, TaskStatus } from "../src/index.js"
import { type AdapterHarness, adapterConformance, type HarnessServer, scopedExecutor, scopedServer, send } from "./adapterConformance.js"

/** Listens on 127.0.0.1, port 0; `close` closes the app (its onClose hooks) and drops open connections. */
const listen = async (app: FastifyInstance): Promise<HarnessServer> => {
  await app.listen({ port: 0, host: "127.0.0.1" })
  return {
    port: (app.server.address() as { port: number }).port,
    close: async () => {
      const closed = app.close()
      app.server.closeAllConnections()
      await closed
    }
  }
}

const harness: AdapterHarness = {
  name: "Fastify",
  fixture: "fastifyAdapterServer.ts",
  // Fastify's router answers these before any route runs, with its own JSON error
  routerRefusals: { malformedEscape: 400, overlongSegment: 414 },
  start: async (executor, routes) => {
    const app = Fastify()
    await app.register(FastifyAdapter.plugin(executor, { prefix: "/api", session: (request) => request.headers["x-session"] as string | undefined }))
    app.post("/stream", async (request, reply) => {
      const chunks = await routes.stream(request.tasks)
      return reply.type("text/plain").send(Readable.from(chunks))
    })
    app.post("/submit", async (request) => routes.submit(request.tasks))
    app.post("/fail", async (request) => {
      await routes.fail(FastifyAdapter.tasks(request))
      throw new Error("handler bug")
    })
    return listen(app)
  }
}

adapterConformance(harness)

describe("FastifyAdapter", () => {
  it.live("app.close() drains the executor: a held task submitted in a request still runs, then submits reject with ExecutorClosed", () =>
    Effect.gen(function*() {
      const executor = PromiseExecutor.make(Executor.layerMemory())
      const app = Fastify()
      yield* Effect.promise(async () => void await app.register(FastifyAdapter.plugin(executor)))
      let ran = false
      app.post("/work", async (request) => {
        const handle = await request.tasks.submit(() => new Promise<void>((resolve) => setTimeout(() => resolve(void (ran = true)), 200)))
        return { held: (await executor.status(handle))._tag }
      })
      const server = yield* Effect.promise(() => listen(app))
      expect(JSON.parse((yield* send(server.port, "/work", "POST")).body)).toEqual({ held: "Held" })
      yield* Effect.promise(() => app.close())
      // onClose waited for the drain: the task that was running when the app closed has finished
      expect(ran).toBe(true)
      const rejection = yield* Effect.promise(() => executor.submit(async () => 1).then(() => undefined, (error: unknown) => error))
      expect(rejection).toMatchObject({ _tag: "ExecutorClosed" })
    }))

  it.live("the plugin is not encapsulated: request.tasks is there in a route of another plugin; statusRoute: false and drain: false", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const app = Fastify()
      yield* Effect.promise(async () => void await app.register(FastifyAdapter.plugin(executor, { statusRoute: false, drain: false })))
      yield* Effect.promise(async () =>
        void await app.register(async (child) => {
          child.get("/inner", async (request) => TaskStatus.isFinished(await executor.status(await request.tasks.submit(async () => 1))))
        }, { prefix: "/child" })
      )
      const server = yield* scopedServer(() => listen(app))
      expect(yield* send(server.port, "/child/inner")).toEqual({ status: 200, body: "false" })
      const status = yield* send(server.port, "/tasks/AAAAAAAAAAAAAAAAAAAAAAAA")
      expect(status.status).toBe(404)
      expect(JSON.parse(status.body)).toMatchObject({ error: "Not Found" }) // Fastify's own 404: no route
      // drain: false: the app closed, the executor did not
      yield* Effect.promise(() => app.close())
      expect(yield* Effect.promise(() => executor.submit(async () => 2).then((h) => executor.await(h)))).toBe(2)
    }).pipe(Effect.scoped))

  it.live("the status route answers HEAD, refuses a large declared body (413) and authorize false (403); tasks() without the plugin names the fix", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const app = Fastify()
      const seen: Array<string> = []
      app.get("/without", async (request) => {
        try {
          FastifyAdapter.tasks(request)
        } catch (error) {
          seen.push((error as Error).message)
        }
        return "ok"
      })
      yield* Effect.promise(async () =>
        void await app.register(async (scoped) => {
          await scoped.register(FastifyAdapter.plugin(executor, { prefix: "/api/", authorize: (request) => request.headers["x-denied"] === undefined, drain: false }))
        })
      )
      const { port } = yield* scopedServer(() => listen(app))
      yield* send(port, "/without")
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("app.register(FastifyAdapter.plugin(executor))")
      expect(yield* send(port, "/api/tasks/AAAAAAAAAAAAAAAAAAAAAAAA?x=1", "HEAD")).toEqual({ status: 404, body: "" })
      const large = yield* send(port, "/api/tasks/x", "GET", { "content-length": String(65 * 1024) })
      expect(large.status).toBe(413)
      expect(large.body).not.toMatch(/\bat .+:\d+:\d+/)
      expect(yield* send(port, "/api/tasks/x", "GET", { "x-denied": "1" })).toEqual({ status: 403, body: `{"error":"forbidden"}` })
    }).pipe(Effect.scoped))
})
