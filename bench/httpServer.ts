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
 * - `realistic`:  a handler that does some work: one SQLite read by primary key through
 *                 `@effect/sql-sqlite-node`'s `SqliteClient` (a random id of 1,000 rows, in a file
 *                 made at server start) and the row answered as `HttpServerResponse.json`
 * - `realistic-submit`: `realistic` with one `Executor.submit(Effect.void)` first, held until the
 *                 response is written, wired as `submit` is (middleware on the router, `layerMemory()`)
 *
 * Listens on 127.0.0.1 on a free port and prints `{"port":N}` as its first stdout line.
 * Stops on SIGTERM / SIGINT (via `NodeRuntime.runMain`), or when its parent's stdin closes.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
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

/** Rows in the realistic handlers' table. */
const ROWS = 1_000

/**
 * The realistic handlers' database: a file in a fresh temporary directory (removed when the
 * server stops) with a table of `ROWS` users, made before the server listens.
 */
const sqliteLayer = Layer.unwrapScoped(Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-executor-bench-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const client = SqliteClient.layer({ filename: join(dir, "bench.db") })
  const fill = Layer.effectDiscard(Effect.gen(function*() {
    const sql = yield* SqliteClient.SqliteClient
    yield* sql`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT NOT NULL)`
    yield* sql.withTransaction(Effect.forEach(
      Array.from({ length: ROWS }, (_, i) => i + 1),
      (id) =>
        sql`INSERT INTO users ${
          sql.insert({ id, name: `user ${id}`, email: `user${id}@example.com`, created_at: new Date(1_700_000_000_000 + id * 60_000).toISOString() })
        }`,
      { discard: true }
    ))
  }).pipe(Effect.orDie))
  return Layer.provideMerge(fill, client)
})).pipe(Layer.orDie)

/** One read by primary key, a random id per request, answered as JSON. */
const readUser = Effect.gen(function*() {
  const sql = yield* SqliteClient.SqliteClient
  const id = 1 + Math.floor(Math.random() * ROWS)
  const rows = yield* sql`SELECT id, name, email, created_at FROM users WHERE id = ${id}`
  return yield* HttpServerResponse.json(rows[0])
})

const realisticRouter = routerOf(Effect.gen(function*() {
  return yield* readUser
}))

const realisticSubmitRouter = routerOf(Effect.gen(function*() {
  yield* Executor.submit(Effect.void)
  return yield* readUser
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
  fork: () => HttpServer.serve(forkRouter),
  realistic: () => HttpServer.serve(realisticRouter).pipe(Layer.provide(sqliteLayer)),
  "realistic-submit": () =>
    realisticSubmitRouter.pipe(
      AfterResponse.middleware,
      HttpServer.serve(),
      Layer.provide(Executor.layerMemory()),
      Layer.provide(sqliteLayer)
    )
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
