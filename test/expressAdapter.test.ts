/**
 * The Express adapter (`ExpressAdapter`): the adapter conformance suite on a real Express 5 app,
 * and what is particular to it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import express from "express"
import { createServer } from "node:http"
import * as ExpressAdapter from "../src/ExpressAdapter.js"
import * as ExecutorTest from "../src/ExecutorTest.js"
import { PromiseExecutor, TaskStatus } from "../src/index.js"
import { type AdapterHarness, adapterConformance, listen, scopedExecutor, scopedServer } from "./adapterConformance.js"
import { readBody, request } from "./httpSupport.js"

const harness: AdapterHarness = {
  name: "Express",
  fixture: "expressAdapterServer.ts",
  start: (executor, routes) => {
    const app = express()
    app.use(ExpressAdapter.middleware(executor))
    app.use(ExpressAdapter.statusRoute(executor, { prefix: "/api", session: (req) => req.get("x-session") }))
    app.post("/stream", async (_req, res) => {
      const chunks = await routes.stream(res.locals.tasks)
      res.type("text/plain")
      for await (const chunk of chunks) res.write(chunk)
      res.end()
    })
    app.post("/submit", async (req, res) => {
      res.json(await routes.submit(req.tasks))
    })
    app.post("/fail", async (_req, res) => {
      await routes.fail(ExpressAdapter.tasks(res))
      throw new Error("handler bug")
    })
    return listen(createServer(app))
  }
}

adapterConformance(harness)

describe("ExpressAdapter", () => {
  it.live("statusRoute mounted with app.use(\"/api\", ...) answers /api/tasks/:id and passes other requests on", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const app = express()
      app.use("/api", ExpressAdapter.statusRoute(executor))
      app.use((_req, res) => void res.status(418).send("next"))
      const server = yield* scopedServer(() => listen(createServer(app)))
      const handle = yield* Effect.promise(() => executor.submit(async () => 1))
      yield* Effect.promise(() => executor.await(handle))
      const found = yield* request(server.port, `/api/tasks/${handle.id}`, "GET")
      expect(found.status).toBe(200)
      expect(JSON.parse(yield* readBody(found))).toMatchObject({ id: handle.id, state: "succeeded" })
      for (const path of ["/api/tasks", "/api/other", `/tasks/${handle.id}`]) {
        const other = yield* request(server.port, path, "GET")
        expect(other.status, path).toBe(418)
        expect(yield* readBody(other)).toBe("next")
      }
      const malformed = yield* request(server.port, "/api/tasks/%ZZ", "GET")
      expect(malformed.status).toBe(404)
      expect(JSON.parse(yield* readBody(malformed))).toEqual({ error: "no such task" })
    }).pipe(Effect.scoped))

  it.live("ExpressAdapter.tasks without the middleware throws an error that names the fix; a submit through the middleware is Held in the handler", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const seen: Array<string> = []
      const app = express()
      app.get("/without", (_req, res) => {
        try {
          ExpressAdapter.tasks(res)
        } catch (error) {
          seen.push((error as Error).message)
        }
        res.end()
      })
      app.get("/with", ExpressAdapter.middleware(executor), async (_req, res) => {
        const handle = await ExpressAdapter.tasks(res).submit(async () => 1)
        res.json(await executor.status(handle))
      })
      const server = yield* scopedServer(() => listen(createServer(app)))
      yield* readBody(yield* request(server.port, "/without", "GET"))
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("app.use(ExpressAdapter.middleware(executor))")
      expect(JSON.parse(yield* readBody(yield* request(server.port, "/with", "GET")))).toEqual({ _tag: "Held" })
    }).pipe(Effect.scoped))
})

// opted into by this file (see ExpressAdapter's header): res.locals.tasks and req.tasks typed
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      tasks: PromiseExecutor.Submitter
    }
    interface Request {
      tasks: PromiseExecutor.Submitter
    }
  }
}

describe("ExecutorTest with Express (the README's Testing example)", () => {
  it.live("an Express handler's submits, awaited with ExecutorTest.awaitSubmitted through the Promise API", () =>
    Effect.gen(function*() {
      const executor = PromiseExecutor.make(ExecutorTest.layer())
      yield* Effect.addFinalizer(() => Effect.promise(() => executor.close()))
      const app = express()
      app.use(ExpressAdapter.middleware(executor))
      app.post("/signup", async (_req, res) => {
        await res.locals.tasks.submit(Effect.log("welcome mail sent"), { name: "SendWelcome" })
        await res.locals.tasks.submit(async () => "warm", { name: "WarmCache" })
        res.send("welcome")
      })
      const server = yield* scopedServer(() => listen(createServer(app)))
      const response = yield* request(server.port, "/signup")
      expect(response.status).toBe(200)
      expect(yield* readBody(response)).toBe("welcome")
      const [mail, cache] = yield* Effect.promise(() => executor.run(ExecutorTest.awaitSubmitted()))
      expect([mail!.name, mail!.status._tag]).toEqual(["SendWelcome", "Succeeded"])
      expect([cache!.name, cache!.status]).toEqual(["WarmCache", TaskStatus.Succeeded({ value: "warm", attempts: 1 })])
      // both were made in the request, and held until its response was written
      expect(mail!.request?.url).toBe("/signup")
    }).pipe(Effect.scoped))
})
