import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Queue } from "effect"
import * as Http from "node:http"
import { AfterResponse, Executor, type ExecutorAdmin } from "../src/index.js"

/**
 * Serves `router` on a real Node HTTP server on port 0, with `AfterResponse.middleware` (unless
 * `afterResponse` is false; given to `HttpServer.serve` unless `wiring` is "app") and the given
 * executor layer. Returns the port and the executor that the handlers use.
 */
export const startServer = <E>(
  router: HttpRouter.HttpRouter<E, Executor.Executor | ExecutorAdmin.ExecutorAdmin>,
  options: {
    readonly executor?: Layer.Layer<Executor.Executor | ExecutorAdmin.ExecutorAdmin> | undefined
    readonly afterResponse?: boolean | undefined
    /** How the middleware is applied: given to `HttpServer.serve` (default) or to the app itself. */
    readonly wiring?: "serve" | "app" | undefined
    readonly extra?: Layer.Layer<never> | undefined
  } = {}
) =>
  Effect.gen(function*() {
    const served = options.afterResponse === false
      ? HttpServer.serve(router)
      : options.wiring === "app"
      ? router.pipe(AfterResponse.middleware, HttpServer.serve())
      : HttpServer.serve(router, AfterResponse.middleware)
    const layer = served.pipe(
      Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provideMerge(options.executor ?? Executor.layerMemory()),
      Layer.provide(options.extra ?? Layer.empty)
    )
    const context = yield* Layer.build(layer)
    const server = Context.get(context, HttpServer.HttpServer)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { port: address.port, executor: Context.get(context, Executor.Executor) }
  })

/** A response as a real client sees it: status, and its body chunk by chunk, then `null` at the end. */
export interface ClientResponse {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly chunks: Queue.Dequeue<string | null>
  /** Goes away: destroys the socket before the response is complete. */
  readonly disconnect: () => void
}

/** Sends a request with Node's own client and resolves when the response headers arrive. */
export const request = (port: number, path: string, method = "POST", headers: Http.OutgoingHttpHeaders = {}) =>
  Effect.async<ClientResponse>((resume) => {
    const req = Http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks = Effect.runSync(Queue.unbounded<string | null>())
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => chunks.unsafeOffer(chunk))
      res.on("end", () => chunks.unsafeOffer(null))
      res.on("error", () => chunks.unsafeOffer(null))
      resume(Effect.succeed({
        status: res.statusCode ?? 0,
        headers: res.headers,
        chunks,
        disconnect: () => req.destroy()
      }))
    })
    req.on("error", (error) => resume(Effect.die(error)))
    req.end()
  })

/** Reads a response's body to its end. */
export const readBody = (response: ClientResponse) =>
  Effect.gen(function*() {
    let body = ""
    for (;;) {
      const chunk = yield* Queue.take(response.chunks)
      if (chunk === null) return body
      body += chunk
    }
  })

/** A complete answer: status, headers and the whole body. */
export interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/**
 * Sends a request with a body and resolves with the whole answer. `body` is sent as is (with its
 * `content-length`), or in `chunks` with `transfer-encoding: chunked`. With `declared`, the
 * request declares that `content-length` but only `body` is sent and the request is never ended:
 * an answer then proves that the server did not wait for (read) the body.
 */
export const sendBody = (
  port: number,
  method: string,
  path: string,
  options: {
    readonly headers?: Http.OutgoingHttpHeaders | undefined
    readonly body?: string | Buffer | undefined
    readonly chunks?: ReadonlyArray<string | Buffer> | undefined
    readonly declared?: number | undefined
  }
) =>
  Effect.async<Answer>((resume) => {
    const headers: Http.OutgoingHttpHeaders = { ...options.headers }
    if (options.chunks !== undefined) headers["transfer-encoding"] = "chunked"
    else headers["content-length"] = options.declared ?? Buffer.byteLength(options.body ?? "")
    const req = Http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => text += chunk)
      res.on("end", () => {
        resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
        if (options.declared !== undefined) req.destroy()
      })
      res.on("error", (error) => resume(Effect.die(error)))
    })
    req.on("error", (error) => resume(Effect.die(error)))
    if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk)
      req.end()
    } else if (options.declared !== undefined) {
      if (options.body !== undefined) req.write(options.body)
      req.flushHeaders()
    } else {
      req.end(options.body)
    }
    return Effect.sync(() => req.destroy())
  })
