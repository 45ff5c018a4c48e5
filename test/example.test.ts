/**
 * The example app (examples/app.ts) on a real Node HTTP server on port 0, driven by a real
 * HTTP client. Reports take 300 ms here instead of 2 seconds.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger, Schedule } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import * as App from "../examples/app.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-example-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Everything the app logs, so a test can see that a task ran. */
const logged: Array<string> = []
const CaptureLogs = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ message }) => {
    logged.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
)

const TestApp = App.layer({ filename: join(dir, "tasks.db"), reportWorkTime: "300 millis" }).pipe(
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(CaptureLogs)
)

const refresh = `<meta http-equiv="refresh" content="1">`
const stackTrace = /\bat .+:\d+:\d+|\.ts:\d+/

const body = (response: HttpClientResponse.HttpClientResponse) => response.text

const postForm = (path: string, form: Record<string, string> = {}) =>
  HttpClient.execute(HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUrlParams(form)))

/** Runs `effect` until `done` holds of its value, at most `times` more times, 50 ms apart; returns the last value. */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean, times = 100) =>
  Effect.repeat(
    effect,
    Schedule.recurUntil(done).pipe(
      Schedule.zipLeft(Schedule.spaced("50 millis")),
      Schedule.zipLeft(Schedule.recurs(times))
    )
  )

layer(TestApp, { excludeTestServices: true })("example app", (it) => {
  it.effect("GET / is an HTML page with a form for each example", () =>
    Effect.gen(function*() {
      const response = yield* HttpClient.get("/")
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toContain("text/html")
      const html = yield* body(response)
      expect(html).toContain(`action="/signup"`)
      expect(html).toContain(`action="/reports"`)
      expect(html).toContain(`action="/maintenance/vacuum"`)
      expect(html).toContain("durable")
    }))

  it.effect("POST /reports redirects to a page that refreshes until the report is ready", () =>
    Effect.gen(function*() {
      const created = yield* postForm("/reports")
      expect(created.status).toBe(303)
      const location = created.headers["location"]!
      expect(location).toMatch(/^\/reports\/[A-Za-z0-9_-]{24}$/)

      const first = yield* HttpClient.get(location)
      expect(first.status).toBe(200)
      const pending = yield* body(first)
      expect(pending).toContain(refresh)
      expect(pending).toMatch(/State: <strong>(Held|Queued|Running)<\/strong>/)

      const final = yield* eventually(
        HttpClient.get(location).pipe(Effect.flatMap(body)),
        (html) => !html.includes(refresh)
      )
      expect(final).toContain("Your report is ready")
      expect(final).toMatch(/<th>samples<\/th><td>10000<\/td>/)
      expect(final).toMatch(/<th>median<\/th><td>\d+\.\d ms<\/td>/)
    }))

  it.effect("an unknown or malformed report id is a plain 404 page", () =>
    Effect.gen(function*() {
      for (
        const path of [
          "/reports/garbage",
          "/reports/AAAAAAAAAAAAAAAAAAAAAAAA", // well-formed, never issued
          "/reports/AAAAAAAAAAAAAAAAAAAAAAAAA", // one character too many
          "/reports/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
          "/no-such-page"
        ]
      ) {
        const response = yield* HttpClient.get(path)
        expect(response.status, path).toBe(404)
        expect(response.headers["content-type"]).toContain("text/html")
        const html = yield* body(response)
        expect(html).toContain("Not found")
        expect(html).not.toMatch(stackTrace)
        expect(html).not.toContain("<script>")
        expect(html).not.toMatch(/TaskNotFound|ParseError/)
      }
    }))

  it.effect("POST /signup answers at once and sends the welcome mail after the response", () =>
    Effect.gen(function*() {
      const response = yield* postForm("/signup", { email: "ada@example.com" })
      expect(response.status).toBe(200)
      expect(yield* body(response)).toContain("welcome mail will be sent")
      const sent = yield* eventually(
        Effect.sync(() => logged.some((line) => line.includes("welcome mail sent to ada@example.com"))),
        (found) => found
      )
      expect(sent).toBe(true)
    }))

  it.effect("POST /signup escapes what it echoes and rejects a bad address with 400", () =>
    Effect.gen(function*() {
      const response = yield* postForm("/signup", { email: "<b>x</b>@example.com" })
      expect(response.status).toBe(200)
      const html = yield* body(response)
      expect(html).toContain("&lt;b&gt;x&lt;/b&gt;@example.com")
      expect(html).not.toContain("<b>x</b>")

      const bad = yield* postForm("/signup", { email: "not an address" })
      expect(bad.status).toBe(400)
      expect(yield* body(bad)).not.toMatch(stackTrace)
    }))

  it.effect("POST /maintenance/vacuum answers, then runs the vacuum", () =>
    Effect.gen(function*() {
      const response = yield* postForm("/maintenance/vacuum")
      expect(response.status).toBe(200)
      expect(yield* body(response)).toContain("Maintenance scheduled")
      const done = yield* eventually(
        Effect.sync(() => logged.some((line) => line.startsWith("vacuum finished"))),
        (found) => found
      )
      expect(done).toBe(true)
    }))
})
