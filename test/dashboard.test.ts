/**
 * The dashboard on a real server (port 0) on a SQLite file, driven by a real browser (Debian's
 * chromium through playwright-core) for the operator's path, and by a plain HTTP client for what
 * a browser would never send: cross-site POSTs, forged ids, bad filters.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Ref, Schema } from "effect"
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll } from "vitest"
import { Dashboard, Executor, Task, TaskHandle } from "../src/index.js"
import { hashSession } from "../src/internal/sessionHash.js"
import { sendBody, startServer } from "./httpSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-dashboard-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------
// Tasks: one that fails with a typed error until it is un-jammed, one that runs until released
// ---------------------------------------------------------------------------------------------

/** What the tasks of one test read: a fresh set per server. */
class Controls extends Context.Tag("test/dashboard/Controls")<Controls, {
  readonly jammed: Ref.Ref<boolean>
  readonly started: Deferred.Deferred<void>
  readonly gate: Deferred.Deferred<void>
}>() {}

class PrinterJam extends Schema.TaggedError<PrinterJam>()("PrinterJam", { detail: Schema.String }) {}

/** Markup in the error: it must come out as text, never as an element. */
const jamDetail = `<b id="injected">paper</b> jam in tray 2`

const PrintInvoice = Task.make("PrintInvoice", {
  payload: Schema.Struct({ pages: Schema.Number }),
  success: Schema.Struct({ printed: Schema.Number }),
  failure: PrinterJam,
  run: ({ pages }) =>
    Effect.gen(function*() {
      const { jammed } = yield* Controls
      if (yield* Ref.get(jammed)) return yield* new PrinterJam({ detail: jamDetail })
      return { printed: pages }
    })
})

const RebuildIndex = Task.make("RebuildIndex", {
  payload: Schema.Struct({}),
  run: () =>
    Effect.gen(function*() {
      const { gate, started } = yield* Controls
      yield* Deferred.succeed(started, undefined)
      yield* Deferred.await(gate)
    }),
  queue: "maintenance"
})

/** A task that does nothing, submitted with a session. */
const Note = Task.make("Note", { payload: Schema.Struct({}), run: () => Effect.void })

/** Submits the two tasks; answers once the first has failed and the second is running. */
const submitRoutes = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/submit/print",
    Effect.gen(function*() {
      const handle = yield* Executor.submit(PrintInvoice.make({ pages: 3 }), { when: "now" })
      yield* Executor.await(handle).pipe(Effect.ignore)
      return yield* HttpServerResponse.json({ task: TaskHandle.encode(handle) })
    }).pipe(Effect.orDie)
  ),
  HttpRouter.post(
    "/submit/rebuild",
    Effect.gen(function*() {
      const { started } = yield* Controls
      const handle = yield* Executor.submit(RebuildIndex.make({}), { when: "now" })
      yield* Deferred.await(started)
      return yield* HttpServerResponse.json({ task: TaskHandle.encode(handle) })
    }).pipe(Effect.orDie)
  )
)

const app = submitRoutes.pipe(
  HttpRouter.concat(Dashboard.router({
    authorize: (request) => Effect.succeed(request.headers["x-deny"] === undefined)
  }))
)

let files = 0

/** A server on port 0 with a fresh SQLite file and fresh controls; submits both tasks. */
const setup = Effect.gen(function*() {
  const controls = {
    jammed: yield* Ref.make(true),
    started: yield* Deferred.make<void>(),
    gate: yield* Deferred.make<void>()
  }
  const executor = Executor.layerSqlite({
    filename: join(dir, `tasks-${++files}.db`),
    tasks: [PrintInvoice, RebuildIndex],
    queues: { maintenance: { concurrency: 1 } },
    drainTimeout: "100 millis"
  }).pipe(Layer.provide(Layer.succeed(Controls, controls)))
  const { port } = yield* startServer(app.pipe(HttpRouter.provideService(Controls, controls)), {
    executor: executor as never
  })
  const print = JSON.parse((yield* send(port, "POST", "/submit/print")).body).task as string
  const rebuild = JSON.parse((yield* send(port, "POST", "/submit/rebuild")).body).task as string
  return { port, controls, print, rebuild }
})

// ---------------------------------------------------------------------------------------------
// A plain HTTP client
// ---------------------------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

const send = (
  port: number,
  method: string,
  path: string,
  options: { readonly headers?: Http.OutgoingHttpHeaders; readonly form?: Record<string, string> } = {}
) =>
  Effect.async<Answer>((resume) => {
    const body = options.form === undefined ? undefined : new URLSearchParams(options.form).toString()
    const headers: Http.OutgoingHttpHeaders = {
      ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
      ...options.headers
    }
    const req = Http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => text += chunk)
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: text })))
      res.on("error", (error) => resume(Effect.die(error)))
    })
    req.on("error", (error) => resume(Effect.die(error)))
    req.end(body)
  })

/** A task page's state, as the page shows it. */
const stateOn = (body: string) => /id="state"[^>]*>([a-z]+)</.exec(body)?.[1]

/** What a dashboard page gives its user: the cookie and the form's token. */
const session = (port: number, id: string) =>
  Effect.gen(function*() {
    const answer = yield* send(port, "GET", `/executor/tasks/${id}`)
    expect(answer.status).toBe(200)
    const setCookie = answer.headers["set-cookie"]?.find((c) => c.startsWith(`${Dashboard.csrfCookie}=`))
    expect(setCookie).toBeDefined()
    expect(setCookie).toMatch(/HttpOnly/i)
    expect(setCookie).toMatch(/SameSite=Strict/i)
    const cookie = setCookie!.split(";")[0]!
    const token = /name="csrf" value="([^"]+)"/.exec(answer.body)?.[1]
    expect(token).toBeDefined()
    expect(cookie).toBe(`${Dashboard.csrfCookie}=${token}`)
    return { cookie, token: token! }
  })

const stackTrace = /\bat .+:\d+|\.ts:\d+|Error:/

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

let browser: Browser | undefined
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
})
afterAll(async () => {
  await browser?.close()
})

/** A fresh browser context and page for `f`, closed afterwards; page errors fail the test. */
const inBrowser = <A>(f: (page: Page) => Promise<A>) =>
  Effect.promise(async () => {
    const context = await browser!.newContext({ viewport: { width: 1200, height: 900 } })
    const problems: Array<string> = []
    try {
      const page = await context.newPage()
      page.setDefaultTimeout(20_000)
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`)
      })
      const result = await f(page)
      expect(problems).toEqual([])
      return result
    } finally {
      await context.close()
    }
  })

/** The count in the counts table for a queue ("" for all queues) and a state ("total" for all). */
const countCell = (page: Page, queue: string, state: string) =>
  page.locator(`table.counts tr[data-queue="${queue}"] td[data-state="${state}"]`)

describe("Dashboard", () => {
  it.live("an operator sees the tasks, retries the failed one and cancels the running one, in a browser", () =>
    Effect.gen(function*() {
      const { controls, port, print, rebuild } = yield* setup
      const base = `http://127.0.0.1:${port}`
      yield* inBrowser(async (page) => {
        // The front page: counts by queue and state, and the recent tasks.
        const response = await page.goto(`${base}/executor`)
        expect(response?.status()).toBe(200)
        expect(response?.headers()["x-frame-options"]).toBe("DENY")
        await expect(page.title()).resolves.toContain("Tasks")
        expect(await countCell(page, "default", "failed").textContent()).toBe("1")
        expect(await countCell(page, "maintenance", "running").textContent()).toBe("1")
        expect(await countCell(page, "", "total").textContent()).toBe("2")
        const rows = page.locator("table.tasks tbody tr")
        expect(await rows.count()).toBe(2)
        expect(await rows.filter({ hasText: "PrintInvoice" }).locator(".state").textContent()).toBe("failed")
        expect(await rows.filter({ hasText: "RebuildIndex" }).locator(".state").textContent()).toBe("running")
        // the error's markup is text, never an element
        expect(await page.locator("#injected").count()).toBe(0)
        const screenshot = join(dir, "dashboard.png")
        await page.screenshot({ path: screenshot, fullPage: true })
        expect(existsSync(screenshot)).toBe(true)
        if (process.env.DASHBOARD_SCREENSHOT) copyFileSync(screenshot, process.env.DASHBOARD_SCREENSHOT)

        // A filter link narrows the list.
        await page.locator("nav.filters").getByRole("link", { name: "failed", exact: true }).click()
        await page.waitForURL(/state=failed/)
        expect(await page.locator("table.tasks tbody tr").count()).toBe(1)
        expect(await page.locator("table.tasks tbody tr").textContent()).toContain("PrintInvoice")

        // The failed task: its error, its encoded status, and a Retry button (no Cancel).
        await page.getByRole("link", { name: "PrintInvoice" }).click()
        await page.waitForURL(`${base}/executor/tasks/${print}`)
        expect(await page.locator("#state").textContent()).toBe("failed")
        expect(await page.locator("#error").textContent()).toContain(`PrinterJam: ${jamDetail}`)
        expect(await page.locator("#injected").count()).toBe(0)
        expect(JSON.parse((await page.locator("#status").textContent())!)).toEqual({
          _tag: "Failed",
          error: { _tag: "PrinterJam", detail: jamDetail },
          attempts: 1
        })
        expect(await page.getByRole("button", { name: "Cancel" }).count()).toBe(0)
        if (process.env.DASHBOARD_SCREENSHOT) {
          await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT.replace(/\.png$/, "-task.png"), fullPage: true })
        }

        // Retry: it runs again, un-jammed, and the page (which reloads itself) shows it succeeded.
        Effect.runSync(Ref.set(controls.jammed, false))
        await page.getByRole("button", { name: "Retry" }).click()
        await page.locator("#state", { hasText: "succeeded" }).waitFor()
        expect(page.url()).toBe(`${base}/executor/tasks/${print}?done=retry`)
        expect(JSON.parse((await page.locator("#status").textContent())!)).toMatchObject({
          _tag: "Succeeded",
          value: { printed: 3 }
        })
        expect(await page.getByRole("button", { name: "Retry" }).count()).toBe(0)

        // The running task: a Cancel button (no Retry); cancelling interrupts it.
        await page.goto(`${base}/executor`)
        await page.locator("table.tasks").getByRole("link", { name: "RebuildIndex" }).click()
        await page.waitForURL(`${base}/executor/tasks/${rebuild}`)
        expect(await page.locator("#state").textContent()).toBe("running")
        expect(await page.getByRole("button", { name: "Retry" }).count()).toBe(0)
        await page.getByRole("button", { name: "Cancel" }).click()
        await page.locator("#state", { hasText: "interrupted" }).waitFor()
        expect(await page.getByRole("button", { name: "Cancel" }).count()).toBe(0)
        expect(await page.getByRole("button", { name: "Retry" }).count()).toBe(1)

        // The counts follow.
        await page.goto(`${base}/executor`)
        expect(await countCell(page, "default", "succeeded").textContent()).toBe("1")
        expect(await countCell(page, "maintenance", "interrupted").textContent()).toBe("1")
        expect(await countCell(page, "", "failed").textContent()).toBe("0")
        expect(await countCell(page, "", "running").textContent()).toBe("0")
      })
    }).pipe(Effect.scoped))

  it.live("a cross-site POST (no token, a wrong token, a foreign Origin) is refused with 403 and changes nothing", () =>
    Effect.gen(function*() {
      const { port, print, rebuild } = yield* setup
      const { cookie, token } = yield* session(port, print)
      const host = `127.0.0.1:${port}`
      const wrong = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A")
      const attempts: ReadonlyArray<{ readonly headers?: Http.OutgoingHttpHeaders; readonly form?: Record<string, string> }> = [
        {}, // neither cookie nor token: a plain cross-site form
        { form: {} },
        { headers: { cookie }, form: {} }, // the cookie alone (what SameSite=Lax or an old browser would send)
        { headers: { cookie }, form: { csrf: wrong } },
        { headers: { cookie }, form: { csrf: "" } },
        { form: { csrf: token } }, // a token without its cookie
        { headers: { cookie: `${Dashboard.csrfCookie}=${wrong}` }, form: { csrf: token } },
        { headers: { cookie, origin: "https://evil.example" }, form: { csrf: token } },
        { headers: { cookie, origin: `http://evil.example:${port}` }, form: { csrf: token } },
        { headers: { cookie, origin: "null" }, form: { csrf: token } },
        { headers: { cookie, origin: `http://${host}`, host: "evil.example" }, form: { csrf: token } }
      ]
      for (const [i, attempt] of attempts.entries()) {
        for (const [id, action] of [[print, "retry"], [rebuild, "cancel"]] as const) {
          const answer = yield* send(port, "POST", `/executor/tasks/${id}/${action}`, attempt)
          expect(answer.status, `attempt ${i} on ${action}`).toBe(403)
          expect(answer.headers["content-type"]).toContain("text/html")
          expect(answer.body).not.toMatch(stackTrace)
        }
      }
      // nothing changed
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${print}`)).body)).toBe("failed")
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${rebuild}`)).body)).toBe("running")

      // The same requests with the page's token are accepted (a client without Origin too).
      const retried = yield* send(port, "POST", `/executor/tasks/${rebuild}/retry`, {
        headers: { cookie, origin: `http://${host}` },
        form: { csrf: token }
      })
      expect(retried.status).toBe(409) // a running task cannot be retried
      expect(retried.body).toContain("cannot be retried")
      const cancelled = yield* send(port, "POST", `/executor/tasks/${rebuild}/cancel`, {
        headers: { cookie, origin: `http://${host}` },
        form: { csrf: token }
      })
      expect(cancelled.status).toBe(303)
      expect(cancelled.headers.location).toBe(`/executor/tasks/${rebuild}?done=cancel`)
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${rebuild}`)).body)).toBe("interrupted")
      const unknown = yield* send(port, "POST", `/executor/tasks/${"A".repeat(24)}/retry`, {
        headers: { cookie },
        form: { csrf: token }
      })
      expect(unknown.status).toBe(404)
    }).pipe(Effect.scoped))

  it.live("a POST body over 64 KiB answers 413 and a cross-site one 403, neither read nor buffered", () =>
    Effect.gen(function*() {
      const { port, print, rebuild } = yield* setup
      const { cookie, token } = yield* session(port, print)
      const MiB = 1024 * 1024
      const form = `csrf=${token}&pad=`
      for (const [id, action] of [[print, "retry"], [rebuild, "cancel"]] as const) {
        const path = `/executor/tasks/${id}/${action}`
        const headers = { cookie, "content-type": "application/x-www-form-urlencoded" }
        // 1 MiB declared, 1 KiB sent, never ended: answered, so the body was not waited for
        const declared = yield* sendBody(port, "POST", path, { headers, declared: MiB, body: form + "x".repeat(1024) })
        expect(declared.status, `declared ${action}`).toBe(413)
        expect(declared.headers["content-type"]).toContain("text/html")
        expect(declared.body).not.toMatch(stackTrace)
        const whole = yield* sendBody(port, "POST", path, { headers, body: form + "x".repeat(MiB) })
        expect(whole.status, `whole ${action}`).toBe(413)
        // chunked: no length to check first, dropped past the limit
        const chunks = [form, ...Array.from({ length: 16 }, () => Buffer.alloc(MiB / 16, 120))]
        const chunked = yield* sendBody(port, "POST", path, { headers, chunks })
        expect(chunked.status, `chunked ${action}`).toBe(413)
        expect(chunked.body).not.toMatch(stackTrace)
        // the origin and the cookie are checked before the body, even a large one
        for (
          const refused of [
            { ...headers, origin: "https://evil.example" },
            { "content-type": "application/x-www-form-urlencoded" }
          ]
        ) {
          const answer = yield* sendBody(port, "POST", path, { headers: refused, declared: MiB, body: form })
          expect(answer.status, `refused ${action}`).toBe(403)
          expect(answer.body).not.toMatch(stackTrace)
        }
      }
      // nothing changed, and a form of a normal size is still accepted
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${print}`)).body)).toBe("failed")
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${rebuild}`)).body)).toBe("running")
      const chunkedForm = yield* sendBody(port, "POST", `/executor/tasks/${rebuild}/cancel`, {
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        chunks: [`csrf=${token}`, "&x=1"]
      })
      expect(chunkedForm.status).toBe(303)
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${rebuild}`)).body)).toBe("interrupted")
    }).pipe(Effect.scoped))

  it.live("the task page never shows the submitting session, nor its hash", () =>
    Effect.gen(function*() {
      const secret = "sid-9d2c7e1b"
      const sessionKey = "dashboard test key"
      const routes = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/submit",
          Effect.gen(function*() {
            const handle = yield* Executor.submit(Note.make({}), { session: secret, when: "now" })
            yield* Executor.await(handle)
            return yield* HttpServerResponse.json({ task: TaskHandle.encode(handle) })
          }).pipe(Effect.orDie)
        ),
        HttpRouter.concat(Dashboard.router())
      )
      const layers = [
        ["layerMemory", Executor.layerMemory({ sessionKey })],
        ["layerSqlite", Executor.layerSqlite({ filename: join(dir, `tasks-${++files}.db`), tasks: [Note], sessionKey })]
      ] as const
      for (const [name, executor] of layers) {
        const { port } = yield* startServer(routes, { executor: executor as never })
        const id = JSON.parse((yield* send(port, "POST", "/submit")).body).task as string
        for (const path of [`/executor/tasks/${id}`, "/executor"]) {
          const page = yield* send(port, "GET", path)
          expect(page.status, `${name} ${path}`).toBe(200)
          expect(page.body, `${name} ${path}`).toContain(id.slice(0, 8))
          expect(page.body, `${name} ${path}`).not.toContain(secret)
          expect(page.body, `${name} ${path}`).not.toContain(hashSession(sessionKey, secret))
          expect(page.body, `${name} ${path}`).not.toContain("hmac:")
        }
      }
    }).pipe(Effect.scoped))

  it.live("the authorization hook guards every page and every button", () =>
    Effect.gen(function*() {
      const { port, print, rebuild } = yield* setup
      const { cookie, token } = yield* session(port, print)
      const deny = { "x-deny": "1", cookie }
      for (const path of ["/executor", "/executor?state=failed", `/executor/tasks/${print}`, "/executor/tasks/nope"]) {
        const answer = yield* send(port, "GET", path, { headers: deny })
        expect(answer.status, path).toBe(403)
        expect(answer.body).not.toContain("PrintInvoice")
      }
      for (const [id, action] of [[print, "retry"], [rebuild, "cancel"]] as const) {
        const answer = yield* send(port, "POST", `/executor/tasks/${id}/${action}`, { headers: deny, form: { csrf: token } })
        expect(answer.status).toBe(403)
      }
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${print}`)).body)).toBe("failed")
      expect(stateOn((yield* send(port, "GET", `/executor/tasks/${rebuild}`)).body)).toBe("running")
    }).pipe(Effect.scoped))

  it.live("unknown and malformed ids answer a 404 page without a stack trace", () =>
    Effect.gen(function*() {
      const { port, print } = yield* setup
      const { cookie, token } = yield* session(port, print)
      // An undecodable path or an over-long id never reaches the dashboard: the router answers
      // its own bare 404 (the application's not-found handler, if it has one). The rest get the
      // dashboard's 404 page.
      for (
        const [path, page] of [
          ["/executor/tasks/abc", true],
          [`/executor/tasks/${"A".repeat(24)}`, true],
          [`/executor/tasks/${print.slice(0, 23)}!`, true],
          ["/executor/tasks/..%2F..%2Fetc%2Fpasswd", true],
          ["/executor/tasks/%3Cscript%3E", true],
          ["/executor/tasks/%E0%A4%A", false],
          [`/executor/tasks/${"x".repeat(5000)}`, false]
        ] as const
      ) {
        const answer = yield* send(port, "GET", path)
        expect(answer.status, path).toBe(404)
        if (page) expect(answer.body, path).toContain("Task not found")
        expect(answer.body).not.toMatch(stackTrace)
        expect(answer.body).not.toContain("<script>")
        const posted = yield* send(port, "POST", `${path}/retry`, { headers: { cookie }, form: { csrf: token } })
        expect(posted.status, `POST ${path}/retry`).toBe(404)
        expect(posted.body).not.toMatch(stackTrace)
      }
    }).pipe(Effect.scoped))

  it.live("filters: a bad one answers a 400 page, good ones narrow the list", () =>
    Effect.gen(function*() {
      const { port } = yield* setup
      for (
        const query of [
          "state=nope",
          "state=FAILED",
          "state=failed&state=running",
          "queue=a&queue=b",
          "state=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
          `queue=${"q".repeat(500)}`
        ]
      ) {
        const answer = yield* send(port, "GET", `/executor?${query}`)
        expect(answer.status, query).toBe(400)
        expect(answer.headers["content-type"]).toContain("text/html")
        expect(answer.body).not.toMatch(stackTrace)
        expect(answer.body).not.toContain("<script>alert")
      }
      const failed = yield* send(port, "GET", "/executor?state=failed")
      expect(failed.status).toBe(200)
      expect(failed.body).toContain("PrintInvoice")
      expect(failed.body).not.toContain("RebuildIndex")
      const maintenance = yield* send(port, "GET", "/executor?queue=maintenance")
      expect(maintenance.status).toBe(200)
      expect(maintenance.body).toContain("RebuildIndex")
      expect(maintenance.body).not.toContain(">PrintInvoice<")
      const none = yield* send(port, "GET", `/executor?queue=${encodeURIComponent("<i>none</i>")}&state=`)
      expect(none.status).toBe(200)
      expect(none.body).toContain("No tasks match.")
      expect(none.body).toContain("&lt;i&gt;none&lt;/i&gt;")
      expect(none.body).not.toContain("<i>none</i>")
    }).pipe(Effect.scoped))
})
