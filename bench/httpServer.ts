/**
 * One HTTP server for `bench/run.ts`, started in a child process so that the load generator does
 * not share its CPU thread:
 *
 *   node --import tsx bench/httpServer.ts <plain | middleware | submit>
 *
 * - `plain`:      @effect/platform-node server, `GET /` answers "hi"
 * - `middleware`: the same with `HttpServer.serve(AfterResponse.middleware)`
 * - `submit`:     the same middleware, and the handler does `yield* Executor.submit(Effect.void)`
 *                 (held until the response is written) before answering "hi"
 *
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` as its first stdout line.
 * Stops on SIGTERM / SIGINT (via `NodeRuntime.runMain`), or when its parent's stdin closes.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { AfterResponse, Executor } from "effect-executor"

export type Variant = "plain" | "middleware" | "submit"
export const variants: ReadonlyArray<Variant> = ["plain", "middleware", "submit"]

const variant = process.argv[2] as Variant
if (!variants.includes(variant)) {
  process.stderr.write(`usage: httpServer.ts <${variants.join(" | ")}>\n`)
  process.exit(2)
}

const hi = HttpServerResponse.text("hi")

const plainRouter = HttpRouter.empty.pipe(HttpRouter.get("/", hi))

const submitRouter = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/",
    Effect.gen(function*() {
      yield* Executor.submit(Effect.void)
      return yield* hi
    })
  )
)

const printPort = Layer.effectDiscard(
  HttpServer.addressWith((address) =>
    Effect.sync(() => {
      if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
    })
  )
)

const app = variant === "plain"
  ? HttpServer.serve(plainRouter)
  : variant === "middleware"
  ? HttpServer.serve(plainRouter, AfterResponse.middleware)
  : HttpServer.serve(submitRouter, AfterResponse.middleware).pipe(Layer.provide(Executor.layerMemory()))

const main = Layer.mergeAll(app, printPort).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// If the parent dies without killing us, its end of our stdin closes: leave as well.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"))
process.stdin.on("error", () => process.kill(process.pid, "SIGTERM"))
process.stdin.resume()

NodeRuntime.runMain(Layer.launch(main))
