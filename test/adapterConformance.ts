/**
 * The server adapter conformance suite (issue 15, point 3): every server adapter (node:http,
 * Express, Fastify, Hono) runs these same tests, each against its framework's real server on port
 * 0, with a real HTTP client, on a `PromiseExecutor` the suite makes (as `executorConformance.ts`
 * does for executor layers). An adapter takes part by writing a harness and a crash fixture:
 *
 *   adapterConformance({ name: "Express", start, fixture: "expressAdapterServer.ts" })
 *
 * ## `start(executor, routes)`: the harness
 * Starts the framework's real server on 127.0.0.1, port 0, and resolves once it listens, with
 * `{ port, close }` (`close` stops it, dropping open connections). The server uses the adapter on
 * `executor` and has these routes, written with the framework's own API; `tasks` is the request's
 * submitter as the adapter gives it to a handler (`res.locals.tasks`, `request.tasks`, `c.var.tasks`,
 * the listener's third argument):
 * - `POST /stream`: `const chunks = await routes.stream(tasks)`, then answers 200 (text/plain)
 *   with a body written chunk by chunk as `chunks` (an async iterable) yields them, each sent as
 *   soon as it comes (no buffering of the whole body), and ends the response after the last.
 * - `POST /submit`: answers 200 with `await routes.submit(tasks)` as JSON.
 * - `POST /fail`: `await routes.fail(tasks)`, then throws `new Error("handler bug")` out of the
 *   handler (or rejects), so that the framework (or the adapter) answers 500.
 * - `GET /api/tasks/:id`: the adapter's status route, with prefix `/api` and as the request's
 *   session the `x-session` header (`undefined` without one). A framework whose router refuses
 *   some URLs before any route runs says so in `routerRefusals` (Fastify: 400 for a malformed
 *   percent escape, 414 for a path parameter over its `maxParamLength`); those ids then get that
 *   status instead of 404, still as JSON and without a stack trace.
 * The request bodies are empty; the handlers need not read them. `listen(server)` below starts a
 * Node `http.Server` (Express's app and `@hono/node-server`'s adaptor run on one) as `start` must.
 *
 * ## `fixture`: the crash fixture
 * A file under `test/fixtures/`, started as `node --import tsx test/fixtures/<fixture> <tasks.db>
 * <mode>`, that serves the same framework with its adapter on `adapterWork.executorFor(file, mode)`
 * (test/fixtures/adapterWork.ts: an SQLite executor with the `Work` task), builds it with
 * `await executor.start()` (so that a restarted server resumes the killed one's task before any
 * request), prints `LISTENING <port>` once it accepts requests, and has:
 * - `POST /work?n=<int>`: submits `Work.make({ n })` through the request's submitter and answers
 *   `{ "id": "<TaskHandle.encode(handle)>" }` (400 for a bad `n`);
 * - `GET /api/tasks/:id`: the status route (no session);
 * - on SIGTERM: stops the server and `await executor.close()`, then exits 0.
 * `adapterWork.ts` prints `STARTED <n> <pid>` when `Work` starts; in mode `hang` it never ends,
 * in mode `finish` it prints `FINISHED <n>` and succeeds with `n`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Executor, ExecutorError, PromiseExecutor, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { readBody, request } from "./httpSupport.js"
import { startChild, stopChild } from "./processes.js"

/** What the routes of a harness call; each test gives the ones it uses. */
export interface Routes {
  readonly stream: (tasks: PromiseExecutor.Submitter) => Promise<AsyncIterable<string>>
  readonly submit: (tasks: PromiseExecutor.Submitter) => Promise<unknown>
  readonly fail: (tasks: PromiseExecutor.Submitter) => Promise<void>
}

/** A running server of a harness. */
export interface HarnessServer {
  readonly port: number
  readonly close: () => Promise<void>
}

export interface AdapterHarness {
  /** The framework, as test names show it: "node:http", "Express", ... */
  readonly name: string
  readonly start: (executor: PromiseExecutor.PromiseExecutor<unknown>, routes: Routes) => Promise<HarnessServer>
  /** The crash fixture's file name under test/fixtures/. */
  readonly fixture: string
  /** The statuses with which the framework's router refuses these ids before any route runs (default: none, 404). */
  readonly routerRefusals?: {
    /** An id with a malformed percent escape (`%E0%A4%A`). */
    readonly malformedEscape?: number | undefined
    /** An id of 2,000 characters. */
    readonly overlongSegment?: number | undefined
  } | undefined
}

const unused = (route: string) => () => Promise.reject(new Error(`${route} is not used by this test`))

/** Chunks that an async iterable yields only as the test releases them, one by one. */
const gatedChunks = (chunks: ReadonlyArray<string>) => {
  const gates = chunks.map(() => {
    let open!: () => void
    const opened = new Promise<void>((resolve) => (open = resolve))
    return { open, opened }
  })
  let released = 0
  return {
    release: () => gates[released++]?.open(),
    /** Opens every gate left, so that a handler still writing ends (after a disconnect). */
    releaseAll: () => gates.forEach((gate) => gate.open()),
    iterable: (async function*() {
      for (let i = 0; i < chunks.length; i++) {
        await gates[i]!.opened
        yield chunks[i]!
      }
    })()
  }
}

const Answer = Task.make("Answer", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  run: ({ n }) => Effect.succeed(n * 2)
})

const stackTrace = /\bat .+:\d+:\d+|\.ts:\d+/

/** For harnesses: listens on 127.0.0.1, port 0; `close` drops open connections. */
export const listen = (server: Http.Server): Promise<HarnessServer> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      }))
  )

/** A `PromiseExecutor` on a fresh `Executor.layerMemory()`, closed with the scope. */
export const scopedExecutor = Effect.acquireRelease(
  Effect.sync(() => PromiseExecutor.make(Executor.layerMemory())),
  (executor) => Effect.promise(() => executor.close())
)

/** A harness's server, started by `start` and closed with the scope. */
export const scopedServer = (start: () => Promise<HarnessServer>) =>
  Effect.acquireRelease(Effect.promise(start), (server) => Effect.promise(() => server.close()))

/** One request with Node's client: its status and whole body. */
export const send = (port: number, path: string, method = "GET", headers: Http.OutgoingHttpHeaders = {}) =>
  Effect.flatMap(request(port, path, method, headers), (response) =>
    Effect.map(readBody(response), (body) => ({ status: response.status, body })))

/** Starts the harness's server on a fresh memory executor; both are closed with the scope. */
const serve = (harness: AdapterHarness, routes: Partial<Routes>) =>
  Effect.gen(function*() {
    const executor = yield* scopedExecutor
    const server = yield* scopedServer(() =>
      harness.start(executor, {
        stream: routes.stream ?? unused("POST /stream"),
        submit: routes.submit ?? unused("POST /submit"),
        fail: routes.fail ?? unused("POST /fail")
      })
    )
    return { executor, port: server.port }
  })

const promise = <A>(evaluate: () => Promise<A>) => Effect.promise(evaluate)

/** One GET with Node's client: status, content type and the body parsed as JSON. */
const getJson = (port: number, path: string, headers: Http.OutgoingHttpHeaders = {}) =>
  Effect.gen(function*() {
    const response = yield* request(port, path, "GET", headers)
    const text = yield* readBody(response)
    return { status: response.status, type: response.headers["content-type"] ?? "", text, json: JSON.parse(text) as unknown }
  })

export const adapterConformance = (harness: AdapterHarness) =>
  describe(`${harness.name} adapter conformance`, () => {
    it.live("a task submitted in a handler starts only after the client has the whole streamed body", () =>
      Effect.gen(function*() {
        const gate = gatedChunks(["one,", "two,", "three"])
        yield* Effect.addFinalizer(() => Effect.sync(gate.releaseAll))
        const started = yield* Deferred.make<void>()
        const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, unknown>>()
        const { executor, port } = yield* serve(harness, {
          stream: async (tasks) => {
            const h = await tasks.submit(async () => {
              Deferred.unsafeDone(started, Effect.void)
              return "ran"
            })
            Deferred.unsafeDone(handle, Effect.succeed(h))
            return gate.iterable
          }
        })
        // Node sends the headers with the first chunk, so the first chunk is released up front
        gate.release()
        const response = yield* request(port, "/stream")
        expect(response.status).toBe(200)
        const h = yield* Deferred.await(handle)
        // while the body is incomplete the task stays held, chunk after chunk
        let received = ""
        for (let i = 0; i < 2; i++) {
          if (i > 0) gate.release()
          received += yield* response.chunks.take
          expect(yield* Deferred.isDone(started)).toBe(false)
          expect(yield* promise(() => executor.status(h))).toEqual(TaskStatus.Held())
        }
        expect(received).toBe("one,two,")
        // the last chunk completes the response; only then is the task released
        gate.release()
        expect(yield* readBody(response)).toBe("three")
        yield* Deferred.await(started)
        expect(yield* promise(() => executor.await(h))).toBe("ran")
      }).pipe(Effect.scoped))

    it.live("the response does not wait for a task that takes 2 seconds", () =>
      Effect.gen(function*() {
        const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, unknown>>()
        const { executor, port } = yield* serve(harness, {
          submit: async (tasks) => {
            const h = await tasks.submit(() => new Promise<string>((resolve) => setTimeout(() => resolve("done"), 2_000)))
            Deferred.unsafeDone(handle, Effect.succeed(h))
            return { accepted: true }
          }
        })
        const response = yield* request(port, "/submit")
        expect(JSON.parse(yield* readBody(response))).toEqual({ accepted: true })
        const h = yield* Deferred.await(handle)
        // the whole body is here and the task has not finished: the response did not wait for it
        expect(TaskStatus.isFinished(yield* promise(() => executor.status(h)))).toBe(false)
        expect(yield* promise(() => executor.await(h))).toBe("done")
      }).pipe(Effect.scoped))

    it.live("a client that disconnects mid-response: the task still runs", () =>
      Effect.gen(function*() {
        const gate = gatedChunks(["first", "never sent"])
        yield* Effect.addFinalizer(() => Effect.sync(gate.releaseAll))
        const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, unknown>>()
        const { executor, port } = yield* serve(harness, {
          stream: async (tasks) => {
            Deferred.unsafeDone(handle, Effect.succeed(await tasks.submit(async () => "ran anyway")))
            return gate.iterable
          }
        })
        gate.release()
        const response = yield* request(port, "/stream")
        expect(yield* response.chunks.take).toBe("first")
        const h = yield* Deferred.await(handle)
        expect(yield* promise(() => executor.status(h))).toEqual(TaskStatus.Held())
        response.disconnect()
        expect(yield* promise(() => executor.await(h))).toBe("ran anyway")
      }).pipe(Effect.scoped))

    it.live("a client that disconnects mid-response: a task with onAbort \"drop\" ends Interrupted without running", () =>
      Effect.gen(function*() {
        const gate = gatedChunks(["first", "never sent"])
        yield* Effect.addFinalizer(() => Effect.sync(gate.releaseAll))
        let ran = false
        const handles = yield* Deferred.make<ReadonlyArray<TaskHandle.TaskHandle<void, unknown>>>()
        const { executor, port } = yield* serve(harness, {
          stream: async (tasks) => {
            const dropped = await tasks.submit(async () => {
              ran = true
            }, { onAbort: "drop" })
            const kept = await tasks.submit(async () => {})
            Deferred.unsafeDone(handles, Effect.succeed([dropped, kept]))
            return gate.iterable
          }
        })
        gate.release()
        const response = yield* request(port, "/stream")
        expect(yield* response.chunks.take).toBe("first")
        const [dropped, kept] = yield* Deferred.await(handles)
        expect(yield* promise(() => executor.status(dropped!))).toEqual(TaskStatus.Held())
        response.disconnect()
        yield* promise(() => executor.await(kept!))
        const rejection = yield* promise(() => executor.await(dropped!).then(() => undefined, (error: unknown) => error))
        expect(rejection).toBeInstanceOf(ExecutorError.TaskInterrupted)
        expect(yield* promise(() => executor.status(dropped!))).toEqual(TaskStatus.Interrupted())
        expect(ran).toBe(false)
      }).pipe(Effect.scoped))

    it.live("a handler that throws after submitting: the answer is 500 and the task still runs", () =>
      Effect.gen(function*() {
        const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, unknown>>()
        const { executor, port } = yield* serve(harness, {
          fail: async (tasks) => {
            Deferred.unsafeDone(handle, Effect.succeed(await tasks.submit(async () => "ran after 500")))
          }
        })
        const response = yield* request(port, "/fail")
        expect(response.status).toBe(500)
        yield* readBody(response)
        const h = yield* Deferred.await(handle)
        expect(yield* promise(() => executor.await(h))).toBe("ran after 500")
      }).pipe(Effect.scoped))

    it.live("a handle polled in a later request through the status route: JSON; 404 for other sessions', forged and malformed ids", () =>
      Effect.gen(function*() {
        const handle = yield* Deferred.make<TaskHandle.TaskHandle<number, never>>()
        const { executor, port } = yield* serve(harness, {
          submit: async (tasks) => {
            const h = await tasks.submit(Answer.make({ n: 21 }), { session: "user-1" })
            Deferred.unsafeDone(handle, Effect.succeed(h))
            return { id: TaskHandle.encode(h) }
          }
        })
        const { id } = JSON.parse(yield* readBody(yield* request(port, "/submit"))) as { id: string }
        const h = yield* Deferred.await(handle)
        expect(id).toBe(h.id)
        yield* promise(() => executor.await(h))
        const ok = yield* getJson(port, `/api/tasks/${id}`, { "x-session": "user-1" })
        expect(ok.status).toBe(200)
        expect(ok.type).toContain("application/json")
        expect(ok.json).toMatchObject({ id, task: "Answer", state: "succeeded", status: { _tag: "Succeeded", value: 42 } })
        const refusals = harness.routerRefusals ?? {}
        const notFound: ReadonlyArray<readonly [string, Http.OutgoingHttpHeaders, (number | undefined)?]> = [
          [id, { "x-session": "user-2" }], // another session's task
          [id, {}], // a request without a session
          ["AAAAAAAAAAAAAAAAAAAAAAAA", {}], // well-formed, never issued
          [`${id}A`, { "x-session": "user-1" }], // one character too many
          ["..%2F..%2Fetc%2Fpasswd", {}],
          ["%E0%A4%A", {}, refusals.malformedEscape], // a malformed escape
          ["%3Cscript%3Ealert(1)%3C%2Fscript%3E", {}],
          ["A".repeat(2_000), {}, refusals.overlongSegment]
        ]
        for (const [path, headers, refused] of notFound) {
          const answer = yield* getJson(port, `/api/tasks/${path}`, headers)
          expect(answer.status, path).toBe(refused ?? 404)
          expect(answer.type, path).toContain("application/json")
          if (refused === undefined) expect(answer.json, path).toEqual({ error: "no such task" })
          expect(answer.text).not.toMatch(stackTrace)
        }
      }).pipe(Effect.scoped))

    it("a durable task on SQLite survives kill -9 of the server: a restarted server finishes it", async () => {
      const dir = mkdtempSync(join(tmpdir(), "effect-executor-adapter-crash-"))
      const file = join(dir, "tasks.db")
      const first = startChild(`${harness.name} server`, harness.fixture, [file, "hang"])
      let second: ReturnType<typeof startChild> | undefined
      try {
        const port = Number((await first.line(/^LISTENING (\d+)$/))[1])
        const submitted = await Effect.runPromise(
          Effect.flatMap(request(port, "/work?n=7"), (response) =>
            Effect.map(readBody(response), (text) => ({ status: response.status, text })))
        )
        expect(submitted.status, submitted.text).toBe(200)
        const { id } = JSON.parse(submitted.text) as { id: string }
        // the task is running in the first server when it is killed
        await first.line(new RegExp(`^STARTED 7 ${first.pid}$`))
        first.process.kill("SIGKILL")
        expect(await first.exited).toBe("SIGKILL")

        second = startChild(`${harness.name} server (restarted)`, harness.fixture, [file, "finish"])
        const port2 = Number((await second.line(/^LISTENING (\d+)$/))[1])
        await second.line(/^FINISHED 7$/)
        const answer = await Effect.runPromise(getJson(port2, `/api/tasks/${id}`))
        expect(answer.status, answer.text).toBe(200)
        // the attempt the kill cut off is counted: the restarted server ran the second one
        expect(answer.json).toMatchObject({ id, task: "Work", state: "succeeded", attempts: 2, status: { _tag: "Succeeded", value: 7 } })
        // SIGTERM: the fixture closes its server, drains the executor and exits 0
        expect(await stopChild(second)).toBe(0)
      } finally {
        first.process.kill("SIGKILL")
        second?.process.kill("SIGKILL")
        await first.exited
        await second?.exited
        rmSync(dir, { recursive: true, force: true })
      }
    }, 60_000)
  })
