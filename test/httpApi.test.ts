/**
 * effect-executor on @effect/platform's HttpApi, on a real Node server on port 0 with real clients
 * (Node's own http client, and HttpApiClient over fetch): the after-response hold, SubmitError
 * added once with its statuses, StatusApi as an HttpApiGroup, and the OpenAPI document.
 */
import {
  FetchHttpClient,
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpClient,
  HttpClientRequest,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse,
  OpenApi
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Queue, Schema, Stream } from "effect"
import * as Http from "node:http"
import { AfterResponse, Executor, type ExecutorAdmin, ExecutorError, StatusApi, TaskHandle, TaskStatus } from "../src/index.js"
import { readBody, request } from "./httpSupport.js"

/** What the test controls: a gate for the streamed body's chunks, and the task's start. */
class Probe extends Context.Tag("test/Probe")<Probe, {
  readonly gate: Queue.Queue<void>
  readonly started: Deferred.Deferred<void>
  readonly release: Deferred.Deferred<void>
  readonly handle: Deferred.Deferred<TaskHandle.TaskHandle<string, never>>
}>() {}

const Api = HttpApi.make("test")
  .add(
    HttpApiGroup.make("work")
      .add(HttpApiEndpoint.post("stream", "/stream").addError(ExecutorError.SubmitError))
      .add(
        HttpApiEndpoint.post("submit", "/submit")
          .setUrlParams(Schema.Struct({ queue: Schema.optional(Schema.String) }))
          .addSuccess(Schema.Struct({ task: Schema.String }))
          .addError(ExecutorError.SubmitError)
      )
  )
  .add(StatusApi.group.prefix("/api"))

const WorkLive = HttpApiBuilder.group(Api, "work", (handlers) =>
  handlers
    .handle("stream", () =>
      Effect.gen(function*() {
        const probe = yield* Probe
        const handle = yield* Executor.submit(Deferred.succeed(probe.started, undefined).pipe(Effect.as("ran")))
        yield* Deferred.succeed(probe.handle, handle)
        const body = Stream.fromIterable(["one,", "two,", "three"]).pipe(
          Stream.tap(() => Queue.take(probe.gate)),
          Stream.encodeText
        )
        return HttpServerResponse.stream(body)
      }))
    .handle("submit", ({ urlParams }) =>
      Effect.gen(function*() {
        const probe = yield* Probe
        const request = yield* HttpServerRequest.HttpServerRequest
        // blocks until the test releases it, so that the backlog can be filled
        const handle = yield* Executor.submit(Deferred.await(probe.release), {
          queue: urlParams.queue,
          session: request.cookies.session
        })
        return { task: TaskHandle.encode(handle) }
      })))

const sessionOf = (request: HttpServerRequest.HttpServerRequest) => Effect.succeed(request.cookies.session)

/** The API on a Node server on port 0; the middleware given to `serve` or as an HttpApi middleware. */
const serve = (wiring: "serve" | "middleware", executor: Layer.Layer<Executor.Executor | ExecutorAdmin.ExecutorAdmin>) =>
  Effect.gen(function*() {
    const probe = {
      gate: yield* Queue.unbounded<void>(),
      started: yield* Deferred.make<void>(),
      release: yield* Deferred.make<void>(),
      handle: yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
    }
    const ApiLive = HttpApiBuilder.api(Api).pipe(
      Layer.provide(WorkLive),
      Layer.provide(StatusApi.layerGroup(Api, { session: sessionOf }))
    )
    const served = wiring === "serve"
      ? HttpApiBuilder.serve(AfterResponse.middleware)
      : HttpApiBuilder.serve().pipe(Layer.provide(HttpApiBuilder.middleware(AfterResponse.middleware)))
    const layer = served.pipe(
      Layer.provide(ApiLive),
      Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provideMerge(executor),
      Layer.provide(Layer.succeed(Probe, probe))
    )
    const context = yield* Layer.build(layer)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    // release the blocked tasks before the executor drains
    yield* Effect.addFinalizer(() => Deferred.succeed(probe.release, undefined))
    return { port: address.port, executor: Context.get(context, Executor.Executor), probe }
  })

/** HttpApi's own typed client for `Api`, over fetch, sending `cookie`. */
const clientOf = (port: number, cookie = "") =>
  HttpApiClient.make(Api, {
    baseUrl: `http://127.0.0.1:${port}`,
    transformClient: HttpClient.mapRequest(HttpClientRequest.setHeader("cookie", cookie))
  }).pipe(Effect.provide(FetchHttpClient.layer))

const get = (port: number, path: string, cookie?: string) =>
  Effect.gen(function*() {
    const response = yield* request(port, path, "GET", cookie === undefined ? {} : { cookie })
    const body = yield* readBody(response)
    return { status: response.status, body, headers: response.headers }
  })

describe("HttpApi", () => {
  for (const wiring of ["serve", "middleware"] as const) {
    it.live(`a task submitted by an endpoint starts only after the client has the whole body (${
      wiring === "serve" ? "HttpApiBuilder.serve(AfterResponse.middleware)" : "HttpApiBuilder.middleware(AfterResponse.middleware)"
    })`, () =>
      Effect.gen(function*() {
        const { executor, port, probe } = yield* serve(wiring, Executor.layerMemory())
        // Node sends the headers with the first chunk, so the first chunk is released up front
        yield* Queue.offer(probe.gate, undefined)
        const response = yield* request(port, "/stream")
        expect(response.status).toBe(200)
        const handle = yield* Deferred.await(probe.handle)
        let received = ""
        for (let i = 0; i < 2; i++) {
          if (i > 0) yield* Queue.offer(probe.gate, undefined)
          received += yield* Queue.take(response.chunks)
          expect(yield* Deferred.isDone(probe.started)).toBe(false)
          expect(yield* executor.status(handle)).toEqual(TaskStatus.Held())
        }
        expect(received).toBe("one,two,")
        yield* Queue.offer(probe.gate, undefined)
        expect(yield* readBody(response)).toBe("three")
        yield* Deferred.await(probe.started)
        expect(yield* executor.await(handle)).toBe("ran")
      }).pipe(Effect.scoped))
  }

  it.live("a refused submit is answered with its status and a JSON body: a full backlog 503, an unknown queue 422", () =>
    Effect.gen(function*() {
      // one slot, one task of backlog: the first task runs (and blocks), the second waits, the third is refused
      const { port, probe } = yield* serve("serve", Executor.layerMemory({ concurrency: 1, maxBacklog: 1 }))
      const client = yield* clientOf(port)
      const first = yield* client.work.submit({ urlParams: {} })
      expect(first.task).toMatch(/^[A-Za-z0-9_-]{24}$/)
      yield* client.work.submit({ urlParams: {} })

      const busy = yield* request(port, "/submit")
      expect(busy.status).toBe(503)
      expect(busy.headers["content-type"]).toContain("application/json")
      expect(JSON.parse(yield* readBody(busy))).toEqual({ _tag: "ExecutorBusy", maxBacklog: 1 })
      // HttpApiClient decodes it back into the typed error
      const refused = yield* Effect.flip(client.work.submit({ urlParams: {} }))
      expect(refused).toBeInstanceOf(ExecutorError.ExecutorBusy)

      yield* Deferred.succeed(probe.release, undefined)
      const unknownQueue = yield* request(port, "/submit?queue=nope")
      expect(unknownQueue.status).toBe(422)
      expect(JSON.parse(yield* readBody(unknownQueue))).toEqual({ _tag: "UnknownQueue", queue: "nope" })
    }).pipe(Effect.scoped))

  it.live("StatusApi.group answers as the router does: 200 with the status, 404 for unknown, forged, malformed and other sessions' ids", () =>
    Effect.gen(function*() {
      const { executor, port, probe } = yield* serve("serve", Executor.layerMemory())
      yield* Deferred.succeed(probe.release, undefined)
      const { task } = yield* (yield* clientOf(port, "session=alice")).work.submit({ urlParams: {} })
      yield* executor.await(TaskHandle.unsafeMake(task))

      const ok = yield* get(port, `/api/tasks/${task}`, "session=alice")
      expect(ok.status).toBe(200)
      expect(ok.headers["cache-control"]).toBe("no-store")
      expect(JSON.parse(ok.body)).toMatchObject({ id: task, state: "succeeded", status: { _tag: "Succeeded", attempts: 1 } })
      // the typed client decodes the same answer
      const typed = yield* (yield* clientOf(port, "session=alice")).taskStatus.status({ path: { id: task } })
      expect(typed).toMatchObject({ id: task, state: "succeeded" })

      for (
        const [path, cookie] of [
          [`/api/tasks/${task}`, "session=mallory"],
          [`/api/tasks/${task}`, undefined],
          [`/api/tasks/${"A".repeat(24)}`, "session=alice"],
          [`/api/tasks/${task.slice(0, 23)}x`, "session=alice"],
          ["/api/tasks/..%2F..%2Fetc%2Fpasswd", "session=alice"],
          [`/api/tasks/${"x".repeat(5000)}`, "session=alice"]
        ] as const
      ) {
        const answer = yield* get(port, path, cookie)
        expect(answer.status, path).toBe(404)
        // an id past the router's 100-character parameter limit matches no route: an empty 404, as on the router
        expect(answer.body, path).toBe(path.length > 120 ? "" : JSON.stringify({ error: "no such task" }))
      }
    }).pipe(Effect.scoped))

  it("the OpenAPI document lists the status endpoint and the submit errors with their statuses", () => {
    const spec = OpenApi.fromApi(Api)
    const status = spec.paths["/api/tasks/{id}"]?.get
    expect(status).toBeDefined()
    expect(Object.keys(status!.responses).sort()).toEqual(["200", "400", "403", "404", "413", "503"])
    expect(status!.parameters.map((p) => p.name)).toContain("id")
    const submit = spec.paths["/submit"]?.post
    expect(Object.keys(submit!.responses).sort()).toEqual(["200", "400", "422", "503"])
    const text = JSON.stringify(spec)
    for (const tag of ["ExecutorBusy", "ExecutorClosed", "StoreUnavailable", "InvalidPayload", "InvalidOptions", "UnknownQueue", "UnknownTask", "TaskResponse"]) {
      expect(text, tag).toContain(tag)
    }
  })

  it("ExecutorError.SubmitError encodes StoreUnavailable without the server's path and reason", () => {
    const encoded = Schema.encodeSync(ExecutorError.SubmitError)(
      new ExecutorError.StoreUnavailable({ path: "postgres://db.internal/app", reason: "connection refused" })
    )
    expect(encoded).toEqual({ _tag: "StoreUnavailable" })
    expect(Schema.decodeUnknownSync(ExecutorError.SubmitError)(encoded)).toBeInstanceOf(ExecutorError.StoreUnavailable)
    expect(Schema.encodeSync(ExecutorError.SubmitError)(new ExecutorError.ExecutorBusy({ maxBacklog: 7 })))
      .toEqual({ _tag: "ExecutorBusy", maxBacklog: 7 })
  })
})
