import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Logger, ManagedRuntime, Metric, Queue, Ref, Stream } from "effect"
import * as Http from "node:http"
import { AfterResponse, Executor, ExecutorError, ExecutorMetrics, TaskHandle, TaskStatus } from "../src/index.js"
import { readBody, request, startServer } from "./httpSupport.js"
import { recordingTracer } from "./support.js"

/** A streamed body whose chunks are released one by one by the test. */
const gatedBody = (gate: Queue.Dequeue<void>, chunks: ReadonlyArray<string>) =>
  Stream.fromIterable(chunks).pipe(Stream.tap(() => Queue.take(gate)), Stream.encodeText)

describe("AfterResponse.middleware", () => {
  for (const wiring of ["serve", "app"] as const) {
    it.live(
      `a task starts only after the client has received the whole streamed body (middleware given to ${
        wiring === "app" ? "the app" : "HttpServer.serve"
      })`,
      () =>
      Effect.gen(function*() {
        const gate = yield* Queue.unbounded<void>()
        const started = yield* Deferred.make<void>()
        const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
        const statusInHandler = yield* Deferred.make<TaskStatus.TaskStatus<string, never>>()
        const router = HttpRouter.empty.pipe(
          HttpRouter.post(
            "/stream",
            Effect.gen(function*() {
              const h = yield* Executor.submit(Deferred.succeed(started, undefined).pipe(Effect.as("ran")))
              yield* Deferred.succeed(handle, h)
              yield* Deferred.succeed(statusInHandler, yield* Executor.status(h))
              return HttpServerResponse.stream(gatedBody(gate, ["one,", "two,", "three"]))
            })
          )
        )
        const { executor, port } = yield* startServer(router, { wiring })
        // Node sends the headers with the first chunk, so the first chunk is released up front
        yield* Queue.offer(gate, undefined)
        const response = yield* request(port, "/stream")
        expect(response.status).toBe(200)
        expect(yield* Deferred.await(statusInHandler)).toEqual(TaskStatus.Held())
        const h = yield* Deferred.await(handle)
        // while the body is incomplete the task stays held, chunk after chunk
        let received = ""
        for (let i = 0; i < 2; i++) {
          if (i > 0) yield* Queue.offer(gate, undefined)
          received += yield* Queue.take(response.chunks)
          expect(yield* Deferred.isDone(started)).toBe(false)
          expect(yield* executor.status(h)).toEqual(TaskStatus.Held())
        }
        expect(received).toBe("one,two,")
        // the last chunk completes the response; only then is the task released
        yield* Queue.offer(gate, undefined)
        expect(yield* readBody(response)).toBe("three")
        yield* Deferred.await(started)
        expect(yield* executor.await(h)).toBe("ran")
      }).pipe(Effect.scoped))
  }

  it.live("the response does not wait for a task that takes 2 seconds", () =>
    Effect.gen(function*() {
      const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/slow",
          Effect.gen(function*() {
            yield* Deferred.succeed(handle, yield* Executor.submit(Effect.sleep("2 seconds").pipe(Effect.as("done"))))
            return HttpServerResponse.text("accepted")
          })
        )
      )
      const { executor, port } = yield* startServer(router)
      const response = yield* request(port, "/slow")
      expect(yield* readBody(response)).toBe("accepted")
      const h = yield* Deferred.await(handle)
      // the whole body is here and the task has not finished: the response did not wait for it
      expect(TaskStatus.isFinished(yield* executor.status(h))).toBe(false)
      expect(yield* executor.await(h)).toBe("done")
    }).pipe(Effect.scoped))

  it.live("a client that disconnects mid-response: the task still runs by default", () =>
    Effect.gen(function*() {
      const gate = yield* Queue.unbounded<void>()
      const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/abort",
          Effect.gen(function*() {
            yield* Deferred.succeed(handle, yield* Executor.submit(Effect.succeed("ran anyway")))
            return HttpServerResponse.stream(gatedBody(gate, ["first", "never sent"]))
          })
        )
      )
      const { executor, port } = yield* startServer(router)
      yield* Queue.offer(gate, undefined)
      const response = yield* request(port, "/abort")
      expect(yield* Queue.take(response.chunks)).toBe("first")
      const h = yield* Deferred.await(handle)
      expect(yield* executor.status(h)).toEqual(TaskStatus.Held())
      response.disconnect()
      expect(yield* executor.await(h)).toBe("ran anyway")
    }).pipe(Effect.scoped))

  it.live("a client that disconnects mid-response: a task with onAbort \"drop\" does not run", () =>
    Effect.gen(function*() {
      const gate = yield* Queue.unbounded<void>()
      const ran = yield* Ref.make(false)
      const handles = yield* Deferred.make<ReadonlyArray<TaskHandle.TaskHandle<void, never>>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/abort",
          Effect.gen(function*() {
            const dropped = yield* Executor.submit(Ref.set(ran, true), { onAbort: "drop" })
            const kept = yield* Executor.submit(Effect.void)
            yield* Deferred.succeed(handles, [dropped, kept])
            return HttpServerResponse.stream(gatedBody(gate, ["first", "never sent"]))
          })
        )
      )
      const { executor, port } = yield* startServer(router)
      yield* Queue.offer(gate, undefined)
      const response = yield* request(port, "/abort")
      expect(yield* Queue.take(response.chunks)).toBe("first")
      const [dropped, kept] = yield* Deferred.await(handles)
      response.disconnect()
      yield* executor.await(kept!)
      expect(yield* Effect.flip(executor.await(dropped!))).toBeInstanceOf(ExecutorError.TaskInterrupted)
      expect(yield* executor.status(dropped!)).toEqual(TaskStatus.Interrupted())
      expect(yield* Ref.get(ran)).toBe(false)
    }).pipe(Effect.scoped))

  it.live("a handler that fails (500): its held tasks still run once the error response is written", () =>
    Effect.gen(function*() {
      const handle = yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/fails",
          Effect.gen(function*() {
            yield* Deferred.succeed(handle, yield* Executor.submit(Effect.succeed("ran after 500")))
            return yield* Effect.die(new Error("handler bug"))
          })
        )
      )
      const { executor, port } = yield* startServer(router)
      const response = yield* request(port, "/fails")
      expect(response.status).toBe(500)
      const body = yield* readBody(response)
      expect(body).not.toContain("handler bug")
      expect(yield* executor.await(yield* Deferred.await(handle))).toBe("ran after 500")
    }).pipe(Effect.scoped))

  it.live("when: \"now\" queues at once, while the response is still being written", () =>
    Effect.gen(function*() {
      const gate = yield* Queue.unbounded<void>()
      const ranDuringResponse = yield* Deferred.make<void>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/now",
          Effect.gen(function*() {
            yield* Executor.submit(Deferred.succeed(ranDuringResponse, undefined), { when: "now" })
            return HttpServerResponse.stream(gatedBody(gate, ["only chunk"]))
          })
        )
      )
      const { port } = yield* startServer(router)
      const pending = yield* Effect.fork(request(port, "/now"))
      // the task runs while the body is still held back by the gate
      yield* Deferred.await(ranDuringResponse)
      yield* Queue.offer(gate, undefined)
      expect(yield* readBody(yield* Fiber.join(pending))).toBe("only chunk")
    }).pipe(Effect.scoped))

  it.live("without the middleware, a submit in a handler queues at once: counted, and logged once with the fix", () =>
    Effect.gen(function*() {
      const gate = yield* Queue.unbounded<void>()
      const ran = yield* Queue.unbounded<void>()
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push((Array.isArray(message) ? message : [message]).join(" "))
      })
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/plain",
          Effect.gen(function*() {
            yield* Executor.submit(Queue.offer(ran, undefined))
            return HttpServerResponse.stream(gatedBody(gate, ["only chunk"]))
          })
        )
      )
      const before = (yield* Metric.value(ExecutorMetrics.unheldSubmits)).count
      const { port } = yield* startServer(router, {
        afterResponse: false,
        extra: Logger.replace(Logger.defaultLogger, capture)
      })
      for (let i = 0; i < 2; i++) {
        const pending = yield* Effect.fork(request(port, "/plain"))
        // the task runs while the body is still held back by the gate
        yield* Queue.take(ran)
        yield* Queue.offer(gate, undefined)
        expect(yield* readBody(yield* Fiber.join(pending))).toBe("only chunk")
      }
      expect((yield* Metric.value(ExecutorMetrics.unheldSubmits)).count - before).toBe(2)
      const unheld = warnings.filter((w) => w.includes("without AfterResponse.middleware"))
      expect(unheld).toHaveLength(1)
      expect(unheld[0]).toContain("Apply AfterResponse.middleware")
    }).pipe(Effect.scoped))

  it.live("AfterResponse.withResponse holds a submit on a plain node:http server until its response is written", () =>
    Effect.gen(function*() {
      const runtime = ManagedRuntime.make(Executor.layerMemory())
      yield* Effect.addFinalizer(() => runtime.disposeEffect)
      const started = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const handles = yield* Queue.unbounded<TaskHandle.TaskHandle<void, never>>()
      const server = Http.createServer((_req, res) => {
        void runtime.runPromise(
          Effect.gen(function*() {
            yield* Queue.offer(handles, yield* Executor.submit(Deferred.succeed(started, undefined).pipe(Effect.asVoid)))
            res.write("one,")
            yield* Deferred.await(finish)
            res.end("two")
          }).pipe(AfterResponse.withResponse(res))
        )
      })
      yield* Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      })
      yield* Effect.addFinalizer(() =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
        })
      )
      const port = (server.address() as { port: number }).port
      const response = yield* request(port, "/")
      expect(yield* Queue.take(response.chunks)).toBe("one,")
      const handle = yield* Queue.take(handles)
      expect(yield* Effect.promise(() => runtime.runPromise(Executor.status(handle)))).toEqual(TaskStatus.Held())
      expect(yield* Deferred.isDone(started)).toBe(false)
      yield* Deferred.succeed(finish, undefined)
      expect(yield* readBody(response)).toBe("two")
      yield* Deferred.await(started)
    }).pipe(Effect.scoped))

  it.live("submits from a mounted router and from a fiber the handler forks are held too", () =>
    Effect.gen(function*() {
      const gate = yield* Queue.unbounded<void>()
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      const handles = yield* Deferred.make<ReadonlyArray<TaskHandle.TaskHandle<void, never>>>()
      const record = (name: string) => Ref.update(ran, (names) => [...names, name])
      // HttpRouter.mount hands the handler a modified copy of the request
      const inner = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/report",
          Effect.gen(function*() {
            const direct = yield* Executor.submit(record("direct"))
            const forked = yield* Effect.fork(Executor.submit(record("forked")))
            yield* Deferred.succeed(handles, [direct, yield* Fiber.join(forked)])
            return HttpServerResponse.stream(gatedBody(gate, ["only chunk"]))
          })
        )
      )
      const { executor, port } = yield* startServer(HttpRouter.empty.pipe(HttpRouter.mount("/api", inner)))
      const pending = yield* Effect.fork(request(port, "/api/report"))
      const [direct, forked] = yield* Deferred.await(handles)
      expect(yield* executor.status(direct!)).toEqual(TaskStatus.Held())
      expect(yield* executor.status(forked!)).toEqual(TaskStatus.Held())
      expect(yield* Ref.get(ran)).toEqual([])
      yield* Queue.offer(gate, undefined)
      expect(yield* readBody(yield* Fiber.join(pending))).toBe("only chunk")
      yield* executor.await(direct!)
      yield* executor.await(forked!)
      expect([...(yield* Ref.get(ran))].sort()).toEqual(["direct", "forked"])
    }).pipe(Effect.scoped))

  it.live("a task submitted by a task is not held on the finished request", () =>
    Effect.gen(function*() {
      const inner = yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/nested",
          Effect.gen(function*() {
            yield* Executor.submit(
              Executor.submit(Effect.succeed("inner")).pipe(Effect.flatMap((h) => Deferred.succeed(inner, h)))
            )
            return HttpServerResponse.text("ok")
          })
        )
      )
      const { executor, port } = yield* startServer(router)
      expect(yield* readBody(yield* request(port, "/nested"))).toBe("ok")
      expect(yield* executor.await(yield* Deferred.await(inner))).toBe("inner")
    }).pipe(Effect.scoped))

  it.live("the task's span executor.task <name> is linked to the request's span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const handle = yield* Deferred.make<TaskHandle.TaskHandle<void, never>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/traced",
          Effect.gen(function*() {
            yield* Deferred.succeed(handle, yield* Executor.submit(Effect.void, { name: "Audit" }))
            return HttpServerResponse.text("ok")
          })
        )
      )
      const { executor, port } = yield* startServer(router, { extra: Layer.setTracer(tracer) })
      yield* readBody(yield* request(port, "/traced"))
      yield* executor.await(yield* Deferred.await(handle))
      const requestSpan = spans.find((span) => span.name === "http.server POST")
      const taskSpan = spans.find((span) => span.name === "executor.task Audit")
      expect(requestSpan).toBeDefined()
      expect(taskSpan).toBeDefined()
      expect(taskSpan!.links.map((link) => link.span.spanId)).toEqual([requestSpan!.spanId])
      expect(taskSpan!.parent._tag).toBe("None")
    }).pipe(Effect.scoped))
})
