/**
 * The example application: three kinds of after-response work behind a server-rendered HTML UI.
 *
 * - `POST /signup`: answers at once, then "sends" a welcome mail (a log line) after the response.
 * - `POST /reports` + `GET /reports/:id`: submits a slow report and redirects to a page that polls
 *   the task's handle with `<meta http-equiv="refresh">` until the report is ready.
 * - `POST /maintenance/vacuum`: runs database maintenance after the response, one at a time.
 * - `GET /executor`: the operator's dashboard (`Dashboard.router`): counts, recent tasks, retry
 *   and cancel; open to clients on this machine only.
 *
 * `layer()` needs only an `HttpServer`: `examples/server.ts` gives it a Node server on a port,
 * `test/example.test.ts` gives it `NodeHttpServer.layerTest` (port 0).
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Context, Duration, Effect, Layer, Option, Random, Schema } from "effect"
import {
  AfterResponse,
  Dashboard,
  Executor,
  type ExecutorError,
  Task,
  TaskHandle,
  TaskStatus
} from "effect-executor"
import type { InvalidOptions, StoreUnavailable } from "effect-executor/ExecutorError"
import { html, page } from "./html.js"

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

const Email = Schema.String.pipe(
  Schema.maxLength(254),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "an email address like ada@example.com" })
)

/** Stands in for a mailer: logs the mail it would send. */
export const SendWelcome = Task.make("SendWelcome", {
  payload: Schema.Struct({ to: Email }),
  run: ({ to }) =>
    Effect.log(`welcome mail sent to ${to}: "Welcome aboard! Your account is ready."`).pipe(
      Effect.delay("100 millis"), // the SMTP round trip the browser no longer waits for
      Effect.annotateLogs("task", "SendWelcome")
    ),
  timeout: "30 seconds"
})

/** How long `BuildReport` pretends its queries take. The test makes it short. */
export class ReportSettings extends Context.Tag("effect-executor/examples/ReportSettings")<
  ReportSettings,
  { readonly workTime: Duration.Duration }
>() {}

/** Statistics over simulated response times, in milliseconds. */
export const Report = Schema.Struct({
  samples: Schema.Number,
  min: Schema.Number,
  mean: Schema.Number,
  median: Schema.Number,
  p95: Schema.Number,
  max: Schema.Number,
  stddev: Schema.Number,
  generatedAt: Schema.Date
})
export type Report = typeof Report.Type

const statistics = (values: ReadonlyArray<number>, generatedAt: Date): Report => {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  const mean = sorted.reduce((sum, x) => sum + x, 0) / n
  const variance = sorted.reduce((sum, x) => sum + (x - mean) ** 2, 0) / n
  const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!
  return {
    samples: n,
    min: sorted[0]!,
    mean,
    median: at(0.5),
    p95: at(0.95),
    max: sorted[n - 1]!,
    stddev: Math.sqrt(variance),
    generatedAt
  }
}

/** A slow report: "queries" for a while, then computes statistics over the samples. */
export const BuildReport = Task.make("BuildReport", {
  payload: Schema.Struct({ samples: Schema.Int.pipe(Schema.between(1, 100_000)) }),
  success: Report,
  run: ({ samples }) =>
    Effect.gen(function*() {
      const { workTime } = yield* ReportSettings
      yield* Effect.log(`building a report over ${samples} samples`)
      yield* Effect.sleep(workTime) // stands in for slow queries
      // Exponentially distributed response times around 40 ms, plus 5 ms of network.
      const values = yield* Effect.replicateEffect(
        Effect.map(Random.next, (u) => 5 + -Math.log(1 - u) * 40),
        samples
      )
      const report = statistics(values, new Date(yield* Clock.currentTimeMillis))
      yield* Effect.log(`report ready: median ${report.median.toFixed(1)} ms over ${samples} samples`)
      return report
    }).pipe(Effect.annotateLogs("task", "BuildReport")),
  timeout: "1 minute",
  queue: "reports"
})

/** Database maintenance; its own queue runs one at a time. */
export const VacuumDatabase = Task.make("VacuumDatabase", {
  payload: Schema.Struct({}),
  run: () =>
    Effect.gen(function*() {
      yield* Effect.log("vacuum started")
      yield* Effect.sleep("500 millis")
      const pages = yield* Random.nextIntBetween(10, 500)
      yield* Effect.log(`vacuum finished: reclaimed ${pages} pages`)
    }).pipe(Effect.annotateLogs("task", "VacuumDatabase")),
  queue: "maintenance"
})

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

const index = Effect.gen(function*() {
  const executor = yield* Executor.Executor
  return page(
    "effect-executor example",
    html`<p>Each form below makes the server answer at once and do its work <em>after</em> the response
has been written. This server runs <code>Executor.layerSqlite</code> on <code>data/tasks.db</code>:
reliability <strong>${executor.reliability}</strong>, so work survives a restart. Task logs appear on
the server's console.</p>

<h2>Email after signup</h2>
<p>Answers immediately; the welcome mail is sent (logged) once the page has reached you.</p>
<form method="post" action="/signup">
  <input type="email" name="email" placeholder="ada@example.com" required>
  <button type="submit">Sign up</button>
</form>

<h2>A report the browser polls for</h2>
<p>Submits a slow statistics report and redirects to <code>/reports/&lt;handle&gt;</code>, a page that
refreshes itself every second until the report is ready. The handle is the task's id, kept in the URL.</p>
<form method="post" action="/reports">
  <button type="submit">Build a report</button>
</form>

<h2>Database maintenance</h2>
<p>Runs a vacuum after the response, on a maintenance queue that runs one task at a time.</p>
<form method="post" action="/maintenance/vacuum">
  <button type="submit">Vacuum the database</button>
</form>

<h2>The tasks</h2>
<p>The <a href="/executor">executor dashboard</a> shows every task above: counts by queue and state,
the recent tasks, their timing, results and errors, with buttons to retry or cancel them.</p>`
  )
})

const back = html`<p><a href="/">Back to the examples</a></p>`

const notFound = page(
  "Not found",
  html`<p>There is nothing here. Report links expire an hour after the report is finished.</p>${back}`,
  { status: 404 }
)

/** `submit` refused the task: the backlog is full or the server is shutting down. */
const refused = (error: ExecutorError.SubmitError) =>
  Effect.as(
    Effect.logWarning(`task refused: ${error.message}`),
    page(
      "Try again later",
      html`<p>The server is too busy to take this on right now. Please try again in a moment.</p>${back}`,
      { status: 503 }
    )
  )

const SignupForm = Schema.Struct({ email: Schema.compose(Schema.Trim, Email) })

const signup = Effect.gen(function*() {
  const { email } = yield* HttpServerRequest.schemaBodyUrlParams(SignupForm)
  // Held until this response has been written, then run by the executor.
  yield* Executor.submit(SendWelcome.make({ to: email }))
  return page(
    "Welcome!",
    html`<p>Your account for <strong>${email}</strong> is ready. A welcome mail will be sent to you
in a moment; this page did not wait for it.</p>${back}`
  )
}).pipe(
  Effect.catchTags({
    ParseError: () =>
      Effect.succeed(page(
        "Please check your email address",
        html`<p>That does not look like an email address.</p>${back}`,
        { status: 400 }
      )),
    RequestError: () => Effect.succeed(page("Bad request", back, { status: 400 }))
  }),
  Effect.catchAll(refused)
)

const createReport = Effect.gen(function*() {
  const handle = yield* Executor.submit(BuildReport.make({ samples: 10_000 }))
  return HttpServerResponse.redirect(`/reports/${TaskHandle.encode(handle)}`, { status: 303 })
}).pipe(Effect.catchAll(refused))

const ReportPath = Schema.Struct({ id: TaskHandle.schemaFor(BuildReport) })

const ms = (x: number) => `${x.toFixed(1)} ms`

const reportTable = (report: Report) =>
  html`<table>
<tr><th>samples</th><td>${report.samples}</td></tr>
<tr><th>min</th><td>${ms(report.min)}</td></tr>
<tr><th>mean</th><td>${ms(report.mean)}</td></tr>
<tr><th>median</th><td>${ms(report.median)}</td></tr>
<tr><th>95th percentile</th><td>${ms(report.p95)}</td></tr>
<tr><th>max</th><td>${ms(report.max)}</td></tr>
<tr><th>standard deviation</th><td>${ms(report.stddev)}</td></tr>
</table>
<p class="muted">Generated ${report.generatedAt.toISOString()}.</p>`

const pending = (state: string, detail: string) =>
  page(
    "Building your report…",
    html`<p>State: <strong>${state}</strong>: ${detail}</p>
<p class="muted">This page refreshes every second until the report is ready.</p>`,
    { refreshSeconds: 1 }
  )

const showReport = Effect.gen(function*() {
  const { id: handle } = yield* HttpRouter.schemaPathParams(ReportPath)
  const status = yield* Executor.status(handle)
  // A response is also an Effect of itself, so `yield*` gives the page whichever case matched.
  return yield* TaskStatus.$match(status, {
    Held: () => pending("Held", "waiting for the response that submitted it to be sent."),
    Queued: () => pending("Queued", "waiting for a free slot on the reports queue."),
    Running: ({ attempt }) => pending("Running", `crunching the numbers (attempt ${attempt}).`),
    Succeeded: ({ value }) => page("Your report is ready", html`${reportTable(value)}${back}`),
    Failed: () =>
      page(
        "The report failed",
        html`<p>The report could not be built. Please start a new one.</p>${back}`
      ),
    Interrupted: () =>
      page(
        "The report was interrupted",
        html`<p>The report was stopped before it finished (the server may have restarted).
Please start a new one.</p>${back}`
      )
  })
}).pipe(
  // A malformed id and an id that was never issued (or has expired) look the same: not found.
  Effect.catchTags({ ParseError: () => Effect.succeed(notFound), TaskNotFound: () => Effect.succeed(notFound) })
)

const vacuum = Effect.gen(function*() {
  yield* Executor.submit(VacuumDatabase.make({}))
  return page(
    "Maintenance scheduled",
    html`<p>The vacuum runs once this page has been sent; watch the server log for
<code>vacuum started</code> and <code>vacuum finished</code>.</p>${back}`
  )
}).pipe(Effect.catchAll(refused))

/**
 * The dashboard lets whoever sees it retry and cancel tasks, so it needs an `authorize` hook. Here:
 * clients on this machine only. A real application checks its own login (a session cookie, a role).
 */
const localClient = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.succeed(Option.match(request.remoteAddress, {
    onNone: () => false,
    onSome: (address) => address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1"
  }))

/** The routes, as an `HttpRouter`. */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", index),
  HttpRouter.post("/signup", signup),
  HttpRouter.post("/reports", createReport),
  HttpRouter.get("/reports/:id", showReport),
  HttpRouter.post("/maintenance/vacuum", vacuum),
  HttpRouter.concat(Dashboard.router({ prefix: "/executor", authorize: localClient }))
)

/** The whole app: the router, with a plain HTML 404 for unknown routes. */
export const app = router.pipe(Effect.catchTag("RouteNotFound", () => Effect.succeed(notFound)))

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

/** Options of the example app. */
export interface Options {
  /** The SQLite file the tasks are kept in. Default `data/tasks.db`. */
  readonly filename?: string | undefined
  /** How long a report's "queries" take. Default 2 seconds. */
  readonly reportWorkTime?: Duration.DurationInput | undefined
}

/**
 * Serves the app on whatever `HttpServer` it is given, with the durable executor on an embedded
 * SQLite file: a report submitted before a restart (even a `kill -9`) is still built afterwards,
 * and its page keeps working.
 */
export const layer = (options: Options = {}): Layer.Layer<never, StoreUnavailable | InvalidOptions, HttpServer.HttpServer> =>
  app.pipe(
    AfterResponse.middleware,
    HttpServer.serve(),
    Layer.provide(Executor.layerSqlite({
      filename: options.filename ?? "data/tasks.db",
      tasks: [SendWelcome, BuildReport, VacuumDatabase],
      concurrency: 16,
      queues: { reports: { concurrency: 2 }, maintenance: { concurrency: 1 } }
    })),
    Layer.provide(Layer.succeed(ReportSettings, { workTime: Duration.decode(options.reportWorkTime ?? "2 seconds") }))
  )
