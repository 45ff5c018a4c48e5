import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Executor, ExecutorAdmin, StatusApi, Task, TaskHandle } from "../src/index.js"
import { hashSession } from "../src/internal/sessionHash.js"
import { readBody, request, sendBody, startServer } from "./httpSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-status-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

class OutOfPaper extends Schema.TaggedError<OutOfPaper>()("OutOfPaper", { tray: Schema.Number }) {}

const Print = Task.make("Print", {
  payload: Schema.Struct({ pages: Schema.Number }),
  success: Schema.Struct({ printedAt: Schema.DateFromString, pages: Schema.Number }),
  failure: OutOfPaper,
  run: ({ pages }) =>
    pages > 100 ? Effect.fail(new OutOfPaper({ tray: 2 })) : Effect.succeed({ printedAt: new Date(0), pages })
})

/** The session id is a cookie here; the app submits with it, the API checks it. */
const sessionOf = (request: HttpServerRequest.HttpServerRequest) => Effect.succeed(request.cookies.session)

const app = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/print/:pages",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { pages } = yield* HttpRouter.schemaPathParams(Schema.Struct({ pages: Schema.NumberFromString }))
      // "now": this handler waits for the result, so the task must not be held until its response
      const handle = yield* Executor.submit(Print.make({ pages }), { session: request.cookies.session, when: "now" })
      yield* Executor.await(handle).pipe(Effect.ignore)
      return yield* HttpServerResponse.json({ task: TaskHandle.encode(handle) })
    }).pipe(Effect.orDie)
  ),
  HttpRouter.concat(StatusApi.router({
    prefix: "/api",
    session: sessionOf,
    authorize: (request) => Effect.succeed(request.headers["x-api-key"] !== "revoked")
  }))
)

const get = (port: number, path: string, session?: string, extra: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const response = yield* request(port, path, "GET", { ...(session ? { cookie: `session=${session}` } : {}), ...extra })
    const body = yield* readBody(response)
    return { status: response.status, body, json: () => JSON.parse(body) }
  })

const submit = (port: number, pages: number, session: string) =>
  Effect.gen(function*() {
    const response = yield* request(port, `/print/${pages}`, "POST", { cookie: `session=${session}` })
    return (JSON.parse(yield* readBody(response)) as { task: string }).task
  })

const suite = (name: string, executor: () => Layer.Layer<Executor.Executor | import("../src/ExecutorAdmin.js").ExecutorAdmin, unknown>) =>
  describe(`StatusApi on ${name}`, () => {
    it.live("answers the status with the result encoded with the task's Schemas", () =>
      Effect.gen(function*() {
        const { port } = yield* startServer(app, { executor: executor() as never })
        const id = yield* submit(port, 3, "alice")
        const answer = yield* get(port, `/api/tasks/${id}`, "alice")
        expect(answer.status).toBe(200)
        expect(answer.json()).toMatchObject({
          id,
          task: "Print",
          state: "succeeded",
          status: { _tag: "Succeeded", value: { printedAt: "1970-01-01T00:00:00.000Z", pages: 3 }, attempts: 1 }
        })
      }).pipe(Effect.scoped))

    it.live("a typed failure is answered encoded", () =>
      Effect.gen(function*() {
        const { port } = yield* startServer(app, { executor: executor() as never })
        const id = yield* submit(port, 500, "alice")
        const answer = yield* get(port, `/api/tasks/${id}`, "alice")
        expect(answer.json()).toMatchObject({
          state: "failed",
          status: { _tag: "Failed", error: { _tag: "OutOfPaper", tray: 2 }, attempts: 1 }
        })
      }).pipe(Effect.scoped))

    it.live("another session's handle, a forged handle and a malformed id all answer 404 without a stack", () =>
      Effect.gen(function*() {
        const { port } = yield* startServer(app, { executor: executor() as never })
        const id = yield* submit(port, 1, "alice")
        for (const [path, session] of [
          [`/api/tasks/${id}`, "mallory"],
          [`/api/tasks/${id}`, undefined],
          [`/api/tasks/${"A".repeat(24)}`, "alice"],
          [`/api/tasks/${id.slice(0, 23)}x`, "alice"],
          ["/api/tasks/..%2F..%2Fetc%2Fpasswd", "alice"],
          [`/api/tasks/${"x".repeat(5000)}`, "alice"]
        ] as const) {
          const answer = yield* get(port, path, session)
          expect(answer.status, path).toBe(404)
          expect(answer.body).not.toMatch(/at .+:\d+|Error:/)
        }
      }).pipe(Effect.scoped))

    it.live("a session is answered its own task and nothing else, whatever the key", () =>
      Effect.gen(function*() {
        const { port } = yield* startServer(app, { executor: executor() as never })
        const alice = yield* submit(port, 2, "alice-sid")
        const bob = yield* submit(port, 2, "bob-sid")
        expect((yield* get(port, `/api/tasks/${alice}`, "alice-sid")).status).toBe(200)
        expect((yield* get(port, `/api/tasks/${bob}`, "bob-sid")).status).toBe(200)
        expect((yield* get(port, `/api/tasks/${alice}`, "bob-sid")).status).toBe(404)
        expect((yield* get(port, `/api/tasks/${bob}`, "alice-sid")).status).toBe(404)
        // the hash itself is not the session
        expect((yield* get(port, `/api/tasks/${alice}`, "hmac:alice-sid")).status).toBe(404)
      }).pipe(Effect.scoped))

    it.live("a request declaring a body over 64 KiB answers 413 without the body being read", () =>
      Effect.gen(function*() {
        const { port } = yield* startServer(app, { executor: executor() as never })
        const id = yield* submit(port, 1, "alice")
        // 1 MiB declared, 1 KiB sent, the request never ended: only a server that does not wait
        // for the body answers
        const declared = yield* sendBody(port, "GET", `/api/tasks/${id}`, {
          headers: { cookie: "session=alice" },
          declared: 1024 * 1024,
          body: "x".repeat(1024)
        })
        expect(declared.status).toBe(413)
        expect(declared.body).not.toMatch(/at .+:\d+|Error:/)
        const sent = yield* sendBody(port, "GET", `/api/tasks/${id}`, {
          headers: { cookie: "session=alice" },
          body: Buffer.alloc(1024 * 1024, 120)
        })
        expect(sent.status).toBe(413)
        // a small body is no reason to refuse
        const small = yield* sendBody(port, "GET", `/api/tasks/${id}`, { headers: { cookie: "session=alice" }, body: "{}" })
        expect(small.status).toBe(200)
      }).pipe(Effect.scoped))

    it.live("the authorization hook is enforced", () =>
      Effect.gen(function*() {
        const { port } = yield* startServer(app, { executor: executor() as never })
        const id = yield* submit(port, 1, "alice")
        const answer = yield* get(port, `/api/tasks/${id}`, "alice", { "x-api-key": "revoked" })
        expect(answer.status).toBe(403)
      }).pipe(Effect.scoped))
  })

suite("layerMemory", () => Executor.layerMemory())
let files = 0
suite("layerSqlite", () => Executor.layerSqlite({ filename: join(dir, `tasks-${++files}.db`), tasks: [Print] }))

describe("sessions in layerMemory", () => {
  const submitAs = (session: string) =>
    Effect.gen(function*() {
      const handle = yield* Executor.submit(Effect.void, { session, when: "now" })
      yield* Executor.await(handle)
      return yield* Effect.flatMap(ExecutorAdmin.ExecutorAdmin, (admin) => admin.inspect(handle.id))
    })

  it.effect("the admin's TaskInfo has a keyed hash of the session, never the session", () =>
    Effect.gen(function*() {
      const admin = yield* ExecutorAdmin.ExecutorAdmin
      const info = yield* submitAs("sid-4f7a1c")
      expect(info.sessionHash).toBeDefined()
      expect(info.sessionHash).not.toBe("sid-4f7a1c")
      expect(info.sessionHash).toMatch(/^hmac:[A-Za-z0-9_-]{43}$/)
      expect(admin.hashSession("sid-4f7a1c")).toBe(info.sessionHash)
      expect(admin.hashSession("sid-other")).not.toBe(info.sessionHash)
      expect(JSON.stringify(info)).not.toContain("sid-4f7a1c")
      expect(JSON.stringify(yield* admin.list())).not.toContain("sid-4f7a1c")
      expect("session" in info).toBe(false)
      // without a session there is no hash
      const handle = yield* Executor.submit(Effect.void, { when: "now" })
      expect((yield* admin.inspect(handle.id)).sessionHash).toBeUndefined()
    }).pipe(Effect.provide(Executor.layerMemory())))

  it.effect("each memory layer has its own random key unless one is given", () =>
    Effect.gen(function*() {
      const hashIn = (layer: Layer.Layer<Executor.Executor | ExecutorAdmin.ExecutorAdmin>) =>
        Effect.map(Effect.provide(submitAs("sid-1"), layer), (info) => info.sessionHash)
      const a = yield* hashIn(Executor.layerMemory())
      const b = yield* hashIn(Executor.layerMemory())
      expect(a).not.toBe(b)
      const key = "a key the application keeps"
      const c = yield* hashIn(Executor.layerMemory({ sessionKey: key }))
      const d = yield* hashIn(Executor.layerMemory({ sessionKey: Redacted.make(key) }))
      expect(c).toBe(hashSession(key, "sid-1"))
      expect(d).toBe(c)
    }))
})
