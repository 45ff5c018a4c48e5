/**
 * One HTTP server for `bench/run.ts`, started in a child process so that the load generator does
 * not share its CPU thread:
 *
 *   node --import tsx bench/httpServer.ts <plain | middleware | submit>
 *
 * - `plain`:      @effect/platform-node server; `GET /` runs the submit handler without its submit
 *                 line, `Effect.gen(function*() { return yield* hi })`, with no middleware
 * - `submit`:     the same handler with `yield* Executor.submit(Effect.void)` first (held until the
 *                 response is written), `AfterResponse.middleware` applied to the router (the
 *                 wiring DESIGN.md and the README show first) and `Executor.layerMemory()`
 * - `middleware`: `plain` with `AfterResponse.middleware`, applied the same way
 * - `serve`:      `submit` with the middleware given to `HttpServer.serve(app, middleware)` instead:
 *                 the platform then wraps every request in its own middleware step (about 3,000
 *                 instructions per request, bench/instructions.ts)
 * - `bare`:       `GET /` is the response itself (`hi`), no `Effect.gen` step: a reference for
 *                 what the handler's own generator step costs
 * - `layer`:      `plain` with `Executor.layerMemory()` provided and unused: what two more services
 *                 in the context cost (@effect/platform copies the context several times per request)
 * - `fork`:       `plain` with `yield* Effect.forkDaemon(Effect.void)` first: a reference for the
 *                 cheapest way Effect runs one more effect per request (not after the response)
 *
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` as its first stdout line.
 * Stops on SIGTERM / SIGINT (via `NodeRuntime.runMain`), or when its parent's stdin closes.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { AfterResponse, Executor } from "effect-executor"
import { type Variant, variants } from "./servers.js"


const variant = process.argv[2] as Variant
if (!variants.includes(variant)) {
  process.stderr.write(`usage: httpServer.ts <${variants.join(" | ")}>\n`)
  process.exit(2)
}

const hi = HttpServerResponse.text("hi")

const routerOf = <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  HttpRouter.empty.pipe(HttpRouter.get("/", handler))

const plainRouter = routerOf(Effect.gen(function*() {
  return yield* hi
}))

const submitRouter = routerOf(Effect.gen(function*() {
  yield* Executor.submit(Effect.void)
  return yield* hi
}))

const forkRouter = routerOf(Effect.gen(function*() {
  yield* Effect.forkDaemon(Effect.void)
  return yield* hi
}))

const printPort = Layer.effectDiscard(
  HttpServer.addressWith((address) =>
    Effect.sync(() => {
      if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
    })
  )
)

const apps: Record<Variant, () => Layer.Layer<never, never, HttpServer.HttpServer>> = {
  plain: () => HttpServer.serve(plainRouter),
  submit: () => submitRouter.pipe(AfterResponse.middleware, HttpServer.serve(), Layer.provide(Executor.layerMemory())),
  middleware: () => plainRouter.pipe(AfterResponse.middleware, HttpServer.serve()),
  serve: () => HttpServer.serve(submitRouter, AfterResponse.middleware).pipe(Layer.provide(Executor.layerMemory())),
  bare: () => HttpServer.serve(routerOf(hi)),
  layer: () => HttpServer.serve(plainRouter).pipe(Layer.provide(Executor.layerMemory())),
  fork: () => HttpServer.serve(forkRouter)
}
const app = apps[variant]()

const main = Layer.mergeAll(app, printPort).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// If the parent dies without killing us, its end of our stdin closes: leave as well.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"))
process.stdin.on("error", () => process.kill(process.pid, "SIGTERM"))
process.stdin.resume()

NodeRuntime.runMain(Layer.launch(main))
