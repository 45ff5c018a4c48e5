/**
 * effect-executor on `@effect/platform`'s HttpApi: an endpoint that submits after-response work and
 * declares the submit's errors once (`ExecutorError.SubmitError`), and the status route as an
 * `HttpApiGroup` (`StatusApi.group`), both in the OpenAPI document served at `/openapi.json`.
 *
 *   npx tsx --conditions=source examples/httpapi.ts     # PORT=8080 for another port
 *
 * `layer()` needs only an `HttpServer`; `test/httpApiExample.test.ts` gives it one on port 0.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { AfterResponse, Executor, type ExecutorAdmin, ExecutorError, StatusApi, Task, TaskHandle } from "effect-executor"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

export const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Schema.String }),
  run: ({ to }) => Effect.log(`welcome mail sent to ${to}`)
})

export const Api = HttpApi.make("app")
  .add(
    HttpApiGroup.make("users").add(
      HttpApiEndpoint.post("signup", "/signup")
        .setPayload(Schema.Struct({ email: Schema.String }))
        .addSuccess(Schema.Struct({ task: Schema.String }))
        // every way a submit can be refused, once: 503 (busy, closed, store away) or 422
        .addError(ExecutorError.SubmitError)
    )
  )
  // GET /api/tasks/:id: the task's status as JSON, 404 for unknown or forged ids
  .add(StatusApi.group.prefix("/api"))

const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  handlers.handle("signup", ({ payload }) =>
    Effect.gen(function*() {
      // held until this response has been written, then run
      const handle = yield* Executor.submit(SendWelcome.make({ to: payload.email }))
      return { task: TaskHandle.encode(handle) }
    })))

const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide(UsersLive),
  Layer.provide(StatusApi.layerGroup(Api))
)

/** The app on the `HttpServer` in context, with its executor (memory unless given). */
export const layer = (executor: Layer.Layer<Executor.Executor | ExecutorAdmin.ExecutorAdmin> = Executor.layerMemory()) =>
  HttpApiBuilder.serve(AfterResponse.middleware).pipe(
    Layer.provide(HttpApiBuilder.middlewareOpenApi()), // GET /openapi.json
    Layer.provide(ApiLive),
    Layer.provide(executor)
  )

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  layer().pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: Number(process.env.PORT ?? 3000) })),
    Layer.launch,
    NodeRuntime.runMain
  )
}
