/**
 * The node:http adapter (`NodeAdapter`): the adapter conformance suite on a plain `node:http`
 * server, and what is particular to it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import * as NodeAdapter from "../src/NodeAdapter.js"
import { type AdapterHarness, adapterConformance, listen, scopedExecutor, scopedServer } from "./adapterConformance.js"
import { readBody, request } from "./httpSupport.js"

const sessionOf = (req: IncomingMessage) => {
  const value = req.headers["x-session"]
  return typeof value === "string" ? value : undefined
}

const harness: AdapterHarness = {
  name: "node:http",
  fixture: "nodeAdapterServer.ts",
  start: (executor, routes) => {
    const status = NodeAdapter.statusRoute(executor, { prefix: "/api", session: sessionOf })
    return listen(createServer(NodeAdapter.handler(executor, async (req, res, tasks) => {
      if (status(req, res)) return
      const route = `${req.method} ${req.url}`
      if (route === "POST /stream") {
        const chunks = await routes.stream(tasks)
        res.writeHead(200, { "content-type": "text/plain" })
        for await (const chunk of chunks) res.write(chunk)
        res.end()
      } else if (route === "POST /submit") {
        const body = JSON.stringify(await routes.submit(tasks))
        res.writeHead(200, { "content-type": "application/json" }).end(body)
      } else if (route === "POST /fail") {
        await routes.fail(tasks)
        throw new Error("handler bug")
      } else {
        res.writeHead(404).end()
      }
    }, { onError: () => {} })))
  }
}

adapterConformance(harness)

describe("NodeAdapter", () => {
  it.live("a handler that throws answers 500 with a JSON error, no details; onError gets the error", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const errors: Array<unknown> = []
      const server = yield* scopedServer(() =>
        listen(createServer(NodeAdapter.handler(executor, () => {
          throw new Error("secret detail")
        }, { onError: (error) => errors.push(error) })))
      )
      const response = yield* request(server.port, "/")
      expect(response.status).toBe(500)
      expect(JSON.parse(yield* readBody(response))).toEqual({ error: "internal error" })
      expect(errors).toEqual([new Error("secret detail")])
    }).pipe(Effect.scoped))

  it.live("statusRoute leaves other paths and methods to the caller, answers HEAD, refuses a large declared body (413) and authorize false (403)", () =>
    Effect.gen(function*() {
      const executor = yield* scopedExecutor
      const status = NodeAdapter.statusRoute(executor, {
        prefix: "/api/",
        authorize: (req) => req.headers["x-denied"] === undefined
      })
      const server = yield* scopedServer(() =>
        listen(createServer((req, res) => {
          if (!status(req, res)) res.writeHead(418).end("left to the caller")
        }))
      )
      const statusOf = (path: string, method: string, headers: Record<string, string> = {}) =>
        Effect.gen(function*() {
          const response = yield* request(server.port, path, method, headers)
          return { status: response.status, body: yield* readBody(response) }
        })
      for (const [path, method] of [["/api/tasks/", "GET"], ["/api/tasks/a/b", "GET"], ["/tasks/x", "GET"], ["/api/tasks/x", "POST"]]) {
        expect(yield* statusOf(path!, method!), `${method} ${path}`).toEqual({ status: 418, body: "left to the caller" })
      }
      expect(yield* statusOf("/api/tasks/AAAAAAAAAAAAAAAAAAAAAAAA?x=1", "HEAD")).toEqual({ status: 404, body: "" })
      expect((yield* statusOf("/api/tasks/x", "GET", { "content-length": String(65 * 1024) })).status).toBe(413)
      expect(yield* statusOf("/api/tasks/x", "GET", { "x-denied": "1" })).toEqual({ status: 403, body: `{"error":"forbidden"}` })
    }).pipe(Effect.scoped))
})
