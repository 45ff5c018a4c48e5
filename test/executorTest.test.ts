/**
 * ExecutorTest: the test layer that records what was submitted and waits for it, under TestClock
 * (retries, a retention shorter than the wait), with a bounded wait that names what is still
 * running, per request on a real HTTP server on port 0, and around a durable layer.
 */
import { HttpClient, HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Schedule, Schema, TestClock } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { AfterResponse, DurableExecutor, Executor, ExecutorAdmin, Task, TaskHandle, TaskStatus } from "../src/index.js"
import * as ExecutorTest from "../src/ExecutorTest.js"
import { readBody, request } from "./httpSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-test-layer-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

class Flaked extends Schema.TaggedError<Flaked>()("Flaked", { attempt: Schema.Number }) {}

/** Fails its first two attempts, then succeeds; retried every minute. */
const makeFlaky = () => {
  let attempts = 0
  return Task.make("Flaky", {
    payload: Schema.Struct({}),
    success: Schema.String,
    failure: Flaked,
    run: () => Effect.suspend(() => ++attempts < 3 ? Effect.fail(new Flaked({ attempt: attempts })) : Effect.succeed("done")),
    retry: Schedule.spaced("1 minute")
  })
}

/** Moves the TestClock a minute at a time until `done` holds (at most `times` minutes). */
const adjustUntil = (done: Effect.Effect<boolean, never, any>, times = 10) =>
  Effect.gen(function*() {
    for (let i = 0; i < times && !(yield* done); i++) yield* TestClock.adjust("1 minute")
    expect(yield* done).toBe(true)
  })

describe("ExecutorTest under TestClock", () => {
  it.effect("awaitSubmitted waits while the TestClock moves through the retries, and answers the final status", () =>
    Effect.gen(function*() {
      const Flaky = makeFlaky()
      const handle = yield* Executor.submit(Flaky.make({}))
      const waiting = yield* Effect.fork(ExecutorTest.awaitSubmitted())
      yield* adjustUntil(Effect.map(Fiber.poll(waiting), (exit) => exit._tag === "Some"))
      const [finished, ...others] = yield* Fiber.join(waiting)
      expect(others).toEqual([])
      expect(finished!.handle.id).toBe(handle.id)
      expect(finished!.name).toBe("Flaky")
      expect(finished!.request).toBeUndefined()
      expect(finished!.status).toEqual(TaskStatus.Succeeded({ value: "done", attempts: 3 }))
    }).pipe(Effect.provide(ExecutorTest.layer({ retention: "1 second" }))))

  it.effect("a task that finished longer ago than its retention is still answered until the test takes it", () =>
    Effect.gen(function*() {
      const Flaky = makeFlaky()
      const handle = yield* Executor.submit(Flaky.make({}))
      yield* adjustUntil(Effect.map(ExecutorTest.submitted([handle]), ([s]) => s?.status !== undefined))
      // far past the 1 second retention: the executor itself has forgotten the task
      yield* TestClock.adjust("1 hour")
      const admin = yield* ExecutorAdmin.ExecutorAdmin
      expect((yield* Effect.flip(admin.inspect(handle.id)))._tag).toBe("TaskNotFound")
      // the recorder has not: status and await answer from its record
      expect(yield* Executor.status(handle)).toEqual(TaskStatus.Succeeded({ value: "done", attempts: 3 }))
      expect(yield* Executor.await(handle)).toBe("done")
      const taken = yield* ExecutorTest.awaitSubmitted()
      expect(taken.map((s) => [s.handle.id, s.status._tag])).toEqual([[handle.id, "Succeeded"]])
      // taken: the recorder forgets it, and nothing is left to wait for
      expect(yield* ExecutorTest.submitted()).toEqual([])
      expect((yield* Effect.flip(Executor.status(handle)))._tag).toBe("TaskNotFound")
    }).pipe(Effect.provide(ExecutorTest.layer({ retention: "1 second" }))))

  it.effect("a drain that times out fails with Unfinished naming the still-running task's id and state (the TestClock never moves)", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const handle = yield* Executor.submit(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never), {
        name: "Stuck"
      })
      yield* Deferred.await(started)
      const error = yield* Effect.flip(ExecutorTest.drain({ timeout: "50 millis" }))
      expect(error).toBeInstanceOf(ExecutorTest.Unfinished)
      expect(error._tag).toBe("Unfinished")
      expect(error.pending).toHaveLength(1)
      expect(error.pending[0]!.handle.id).toBe(handle.id)
      expect(error.pending[0]!.name).toBe("Stuck")
      expect(error.pending[0]!.state).toBe("running (attempt 1)")
      expect(error.message).toContain(handle.id)
      expect(error.message).toContain("running (attempt 1)")
      // nothing was taken: once the task ends, drain answers it
      yield* Executor.interrupt(handle)
      const drained = yield* ExecutorTest.drain()
      expect(drained.map((s) => s.status)).toEqual([TaskStatus.Interrupted()])
    }).pipe(Effect.provide(ExecutorTest.layer())))
})

describe("ExecutorTest on a real HTTP server", () => {
  it.live("awaitSubmitted({ requestId }) waits for the two tasks that request's handler submitted, and only those", () =>
    Effect.gen(function*() {
      const Welcome = Task.make("SendWelcome", {
        payload: Schema.Struct({ to: Schema.String }),
        success: Schema.String,
        run: ({ to }) => Effect.succeed(`sent to ${to}`)
      })
      const release = yield* Deferred.make<void>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/signup",
          Effect.gen(function*() {
            const mail = yield* Executor.submit(Welcome.make({ to: "ada@example.com" }))
            const cache = yield* Executor.submit(Effect.succeed("warm"), { name: "WarmCache" })
            return yield* HttpServerResponse.json({ tasks: [mail, cache].map(TaskHandle.encode) })
          }).pipe(Effect.orDie)
        ),
        HttpRouter.post(
          "/slow",
          Effect.as(Executor.submit(Deferred.await(release), { name: "Slow" }), HttpServerResponse.text("ok"))
        )
      )
      const layer = router.pipe(
        AfterResponse.middleware,
        HttpServer.serve(),
        Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" })),
        Layer.provideMerge(ExecutorTest.layer())
      )
      const context = yield* Layer.build(layer)
      const recorder = Context.get(context, ExecutorTest.ExecutorTest)
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))

      const slow = yield* request(address.port, "/slow", "POST", { "x-request-id": "other" })
      expect(yield* readBody(slow)).toBe("ok")
      const response = yield* request(address.port, "/signup", "POST", { "x-request-id": "signup-1" })
      const { tasks } = JSON.parse(yield* readBody(response)) as { tasks: Array<string> }

      const finished = yield* recorder.awaitSubmitted({ requestId: "signup-1" })
      expect(finished.map((s) => s.handle.id)).toEqual(tasks)
      expect(finished.map((s) => s.name)).toEqual(["SendWelcome", "WarmCache"])
      expect(finished.map((s) => s.status)).toEqual([
        TaskStatus.Succeeded({ value: "sent to ada@example.com", attempts: 1 }),
        TaskStatus.Succeeded({ value: "warm", attempts: 1 })
      ])
      // both share the one request they were submitted in
      expect(finished[0]!.request).toEqual({ method: "POST", url: "/signup", id: "signup-1" })
      expect(finished[1]!.request).toBe(finished[0]!.request)

      // the other request's task is still recorded, unfinished; everything since the last call is that one
      const left = yield* recorder.submitted()
      expect(left.map((s) => [s.name, s.request?.id, s.status])).toEqual([["Slow", "other", undefined]])
      yield* Deferred.succeed(release, undefined)
      const rest = yield* recorder.awaitSubmitted()
      expect(rest.map((s) => [s.name, s.status?._tag])).toEqual([["Slow", "Succeeded"]])
    }).pipe(Effect.scoped))
})

const Stored = Task.make("Stored", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  run: ({ n }) => Effect.succeed(n * 2)
})

describe("ExecutorTest.wrap around a durable layer", () => {
  it.live("records DurableExecutor.submit and Executor.submit on layerSqlite, and drain waits for both", () =>
    Effect.gen(function*() {
      const durable = yield* DurableExecutor.submit(Stored.make({ n: 21 }))
      const plain = yield* Executor.submit(Stored.make({ n: 1 }))
      const drained = yield* ExecutorTest.drain()
      expect(drained.map((s) => [s.handle.id, s.name, s.status])).toEqual([
        [durable.id, "Stored", TaskStatus.Succeeded({ value: 42, attempts: 1 })],
        [plain.id, "Stored", TaskStatus.Succeeded({ value: 2, attempts: 1 })]
      ])
    }).pipe(
      Effect.provide(ExecutorTest.wrap(Executor.layerSqlite({ filename: join(dir, "wrap.db"), tasks: [Stored] }).pipe(Layer.orDie)))
    ))
})

// The README's "Testing" example, as written there (on NodeHttpServer.layerTest, under TestClock).
const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Schema.String }),
  run: ({ to }) => Effect.log(`welcome mail sent to ${to}`)
})

const app = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/signup",
    Effect.gen(function*() {
      yield* Executor.submit(SendWelcome.make({ to: "ada@example.com" }))
      yield* Executor.submit(Effect.log("warm the cache"), { name: "WarmCache" })
      return HttpServerResponse.text("welcome")
    }).pipe(Effect.orDie)
  )
)

const TestApp = app.pipe(
  AfterResponse.middleware,
  HttpServer.serve(),
  Layer.provideMerge(ExecutorTest.layer()),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

layer(TestApp)("the README's Testing example", (it) => {
  it.effect("sends the welcome mail and warms the cache after the response", () =>
    Effect.gen(function*() {
      const response = yield* HttpClient.post("/signup")
      expect(response.status).toBe(200)
      const [mail, cache] = yield* ExecutorTest.awaitSubmitted()
      expect([mail!.name, mail!.status._tag]).toEqual(["SendWelcome", "Succeeded"])
      expect([cache!.name, cache!.status._tag]).toEqual(["WarmCache", "Succeeded"])
      expect(mail!.request).toMatchObject({ method: "POST", url: "/signup" })
    }))
})
