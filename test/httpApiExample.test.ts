/**
 * The HttpApi example (examples/httpapi.ts) on a real Node HTTP server on port 0, driven by a real
 * HTTP client: signup answers with a handle, the welcome mail is sent, the
 * status route answers it, and /openapi.json lists both.
 */
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Deferred, Effect, Layer, Logger, Schema } from "effect"
import * as Example from "../examples/httpapi.js"

/** Completed when the example logs its welcome mail. */
const mailSent = Deferred.unsafeMake<string>(undefined as never)

const CaptureLogs = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ message }) => {
    const line = Array.isArray(message) ? message.join(" ") : String(message)
    if (line.startsWith("welcome mail sent to")) Deferred.unsafeDone(mailSent, Effect.succeed(line))
  })
)

const TestApp = Example.layer().pipe(Layer.provideMerge(NodeHttpServer.layerTest), Layer.provide(CaptureLogs))

layer(TestApp, { excludeTestServices: true })("examples/httpapi.ts", (it) => {
  it.effect("POST /signup answers a handle, the welcome mail is sent, GET /api/tasks/:id answers it and 404 for a forged id", () =>
    Effect.gen(function*() {
      const response = yield* HttpClient.execute(
        HttpClientRequest.post("/signup").pipe(HttpClientRequest.bodyUnsafeJson({ email: "ada@example.com" }))
      )
      expect(response.status).toBe(200)
      const { task } = yield* HttpClientResponse.schemaBodyJson(Schema.Struct({ task: Schema.String }))(response)
      expect(yield* Deferred.await(mailSent)).toBe("welcome mail sent to ada@example.com")

      const status = yield* HttpClient.get(`/api/tasks/${task}`)
      expect(status.status).toBe(200)
      expect(yield* status.json).toMatchObject({ id: task, task: "SendWelcome" })
      const forged = yield* HttpClient.get(`/api/tasks/${"A".repeat(24)}`)
      expect(forged.status).toBe(404)
    }))

  it.effect("GET /openapi.json lists the signup endpoint and the status endpoint", () =>
    Effect.gen(function*() {
      const response = yield* HttpClient.get("/openapi.json")
      expect(response.status).toBe(200)
      const spec = (yield* response.json) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
      expect(Object.keys(spec.paths["/signup"]!.post!.responses)).toEqual(expect.arrayContaining(["200", "422", "503"]))
      expect(Object.keys(spec.paths["/api/tasks/{id}"]!.get!.responses)).toEqual(expect.arrayContaining(["200", "404"]))
    }))
})
