import { HttpRouter, HttpServerRequest, HttpServerResponse, UrlParams } from "@effect/platform"
import { Clock, Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import type { Options } from "../../Dashboard.js"
import { ExecutorAdmin, states, type TaskCount, type TaskInfo } from "../../ExecutorAdmin.js"
import type { StoredState } from "../../TaskStore.js"
import { declaredBody, maxBodyBytes, readCapped } from "../bodyLimit.js"
import { isWellFormedTaskId } from "../handleId.js"
import { html, unsafeRaw } from "../html.js"
import { sameSecret } from "../sameSecret.js"
import { csrfCookie, csrfField, sameOrigin, tokenOf } from "./csrf.js"
import { between, duration, iso, json, oneLine, stateBadge } from "./format.js"
import { makeRenderer } from "./render.js"

/** How many tasks the front page lists. */
const LIST_LIMIT = 50
const MAX_QUEUE_LENGTH = 200

const unfinished: ReadonlySet<StoredState> = new Set(["held", "queued", "running"])
const retryable: ReadonlySet<StoredState> = new Set(["failed", "interrupted"])

/** The first value of a query parameter; `null` when it was given more than once. */
const single = (value: string | ReadonlyArray<string> | undefined): string | undefined | null =>
  value === undefined ? undefined : typeof value === "string" ? value : value.length === 1 ? value[0] : null

const isState = (value: string): value is StoredState => (states as ReadonlyArray<string>).includes(value)

/** @internal */
export const router = (options: Options = {}): HttpRouter.HttpRouter<never, ExecutorAdmin> => {
  const raw = (options.prefix ?? "/executor").replace(/\/+$/, "")
  const prefix = raw === "" || raw.startsWith("/") ? raw : `/${raw}`
  const { home, problem, render } = makeRenderer(prefix)
  const taskPath = (id: string) => `${prefix}/tasks/${encodeURIComponent(id)}`
  const listPath = (filter: { readonly state?: string | undefined; readonly queue?: string | undefined }) => {
    const query = new URLSearchParams()
    if (filter.state !== undefined) query.set("state", filter.state)
    if (filter.queue !== undefined) query.set("queue", filter.queue)
    const search = query.toString()
    return search === "" ? home : `${home}?${search}`
  }
  const notFound = problem(404, "Task not found", "No task is known under this id. It may never have existed, or it was pruned after its retention.")
  const tooLarge = problem(413, "Request too large", `A dashboard form is never larger than ${maxBodyBytes / 1024} KiB.`)
  const badRequest = problem(400, "Bad request", "This request could not be read.")

  /** The page's token: the request's own when it has a well-formed one, else a fresh one to set. */
  const issueToken = (request: HttpServerRequest.HttpServerRequest) => {
    const existing = tokenOf(request)
    const token = existing ?? randomBytes(32).toString("base64url")
    const withCookie = (response: HttpServerResponse.HttpServerResponse) =>
      existing !== undefined ? response : HttpServerResponse.unsafeSetCookie(response, csrfCookie, token, {
        httpOnly: true,
        sameSite: "strict",
        path: home
      })
    return { token, withCookie }
  }

  /** Authorizes, then answers; every failure becomes a page, never a 500 for bad input. */
  const guarded = <E extends { readonly _tag: string }, R>(
    handle: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (options.authorize !== undefined && !(yield* options.authorize(request))) {
        return problem(403, "Forbidden", "You are not allowed to use the executor dashboard.")
      }
      return yield* handle(request)
    }).pipe(
      Effect.catchAll((error: { readonly _tag: string }) => {
        switch (error._tag) {
          case "TaskNotFound":
            return Effect.succeed(notFound)
          case "NotRetryable":
            return Effect.succeed(problem(
              409,
              "Cannot retry this task",
              oneLine((error as unknown as { readonly message: string }).message)
            ))
          case "StoreUnavailable":
            return Effect.as(
              Effect.logWarning("Dashboard: the task store is unavailable", error),
              problem(503, "Store unavailable", "The task store cannot be reached right now. Try again in a moment.")
            )
          default:
            return Effect.as(
              Effect.logError("Dashboard: unexpected error", error),
              problem(500, "Something went wrong", "The dashboard could not answer this request.")
            )
        }
      }),
      Effect.catchAllCause((cause) =>
        Effect.as(
          Effect.logError("Dashboard: unexpected failure", cause),
          problem(500, "Something went wrong", "The dashboard could not answer this request.")
        )
      )
    )

  const countsTable = (counts: ReadonlyArray<TaskCount>, filter: { readonly queue: string | undefined }) => {
    const queues = Array.from(new Set(counts.map((c) => c.queue))).sort()
    const count = (queue: string | undefined, state: StoredState | undefined) =>
      counts.reduce(
        (sum, c) => (queue === undefined || c.queue === queue) && (state === undefined || c.state === state) ? sum + c.count : sum,
        0
      )
    const cell = (queue: string | undefined, state: StoredState | undefined) => {
      const n = count(queue, state)
      return n === 0
        ? html`<td class="num zero" data-state="${state ?? "total"}">0</td>`
        : html`<td class="num" data-state="${state ?? "total"}"><a href="${listPath({ state, queue })}">${n}</a></td>`
    }
    const row = (queue: string) =>
      html`<tr data-queue="${queue}"${queue === filter.queue ? unsafeRaw(` class="selected"`) : ""}><th><a href="${listPath({ queue })}">${queue}</a></th>${
        states.map((state) => cell(queue, state))
      }${cell(queue, undefined)}</tr>`
    return html`<table class="counts">
<thead><tr><th>queue</th>${states.map((state) => html`<th class="num">${state}</th>`)}<th class="num">total</th></tr></thead>
<tbody>
${queues.length === 0 ? html`<tr><td colspan="${states.length + 2}" class="muted">No tasks yet.</td></tr>` : queues.map(row)}
<tr class="total" data-queue=""><td>all queues</td>${states.map((state) => cell(undefined, state))}${cell(undefined, undefined)}</tr>
</tbody>
</table>`
  }

  const tasksTable = (tasks: ReadonlyArray<TaskInfo>, now: number) =>
    html`<table class="tasks">
<thead><tr><th>task</th><th>queue</th><th>state</th><th class="num">attempts</th><th>created</th><th class="num">took</th><th>error</th></tr></thead>
<tbody>
${
      tasks.length === 0
        ? html`<tr><td colspan="7" class="muted">No tasks match.</td></tr>`
        : tasks.map((task) =>
          html`<tr>
<td><a href="${taskPath(task.id)}">${task.name}</a> <code class="muted">${task.id.slice(0, 8)}</code>${
            task.durable ? "" : html` <span class="muted">(volatile)</span>`
          }</td>
<td><a href="${listPath({ queue: task.queue })}">${task.queue}</a></td>
<td>${stateBadge(task.state)}</td>
<td class="num">${task.attempts}</td>
<td class="time">${iso(task.createdAt)}</td>
<td class="num">${
            task.startedAt === undefined ? "—" : duration((task.finishedAt ?? now) - task.startedAt)
          }</td>
<td class="error" title="${task.error === undefined ? "" : oneLine(task.error, 2_000)}">${
            task.error === undefined ? "" : oneLine(task.error, 120)
          }</td>
</tr>`
        )
    }
</tbody>
</table>`

  const index = guarded((request) =>
    Effect.gen(function*() {
      const search = yield* HttpServerRequest.ParsedSearchParams
      const state = single(search["state"])
      const queueParam = single(search["queue"])
      if (state === null || queueParam === null) {
        return problem(400, "Bad filter", "Give each filter at most once.")
      }
      if (state !== undefined && state !== "" && !isState(state)) {
        return problem(
          400,
          "Bad filter",
          html`There is no state <code>${oneLine(state, 60)}</code>. The states are ${
            states.map((s, i) => html`${i === 0 ? "" : ", "}<a href="${listPath({ state: s })}">${s}</a>`)
          }.`
        )
      }
      if (queueParam !== undefined && queueParam.length > MAX_QUEUE_LENGTH) {
        return problem(400, "Bad filter", "That queue name is too long.")
      }
      const stateFilter = state === undefined || state === "" ? undefined : state
      const queueFilter = queueParam === undefined || queueParam === "" ? undefined : queueParam
      const admin = yield* ExecutorAdmin
      const [counts, tasks] = yield* Effect.all([
        admin.counts(),
        admin.list({ limit: LIST_LIMIT, state: stateFilter, queue: queueFilter })
      ])
      const now = yield* Clock.currentTimeMillis
      const filterLink = (label: string, target: StoredState | undefined) =>
        target === stateFilter
          ? html`<strong>${label}</strong>`
          : html`<a href="${listPath({ state: target, queue: queueFilter })}">${label}</a>`
      const { withCookie } = issueToken(request)
      return withCookie(render({
        title: "Tasks",
        body: html`<h2>Counts by queue and state</h2>
${countsTable(counts, { queue: queueFilter })}
<h2>Recent tasks</h2>
<nav class="filters" aria-label="filter by state">${filterLink("all", undefined)}${states.map((s) => filterLink(s, s))}${
          queueFilter === undefined
            ? ""
            : html` <span class="muted">in queue <code>${queueFilter}</code> · <a href="${
              listPath({ state: stateFilter })
            }">all queues</a></span>`
        }</nav>
${tasksTable(tasks, now)}
<p class="muted">The ${LIST_LIMIT} most recent tasks${
          stateFilter === undefined ? "" : html` that are ${stateFilter}`
        }${queueFilter === undefined ? "" : html` in queue ${queueFilter}`}, newest first, as of ${iso(now)}. <a href="${
          listPath({ state: stateFilter, queue: queueFilter })
        }">Reload</a></p>`
      }))
    })
  )

  const showTask = guarded((request) =>
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.params
      if (!isWellFormedTaskId(id)) return notFound
      const admin = yield* ExecutorAdmin
      const task = yield* admin.inspect(id)
      const search = yield* HttpServerRequest.ParsedSearchParams
      const done = single(search["done"])
      const watching = (done === "retry" || done === "cancel" || single(search["watch"]) === "1") &&
        unfinished.has(task.state)
      const now = yield* Clock.currentTimeMillis
      const { token, withCookie } = issueToken(request)
      const button = (action: "retry" | "cancel", label: string) =>
        html`<form method="post" action="${taskPath(task.id)}/${action}">
<input type="hidden" name="${csrfField}" value="${token}">
<button type="submit" class="${action}">${label}</button>
</form>`
      const actions = [
        retryable.has(task.state) ? button("retry", "Retry") : "",
        unfinished.has(task.state) ? button("cancel", "Cancel") : ""
      ]
      const notice = done === "retry"
        ? html`<p class="notice">Retry requested: the task runs again from its first attempt.</p>`
        : done === "cancel"
        ? html`<p class="notice">Cancel requested.</p>`
        : ""
      const ran = task.startedAt === undefined
        ? "—"
        : task.finishedAt === undefined
        ? `${duration(now - task.startedAt)} so far`
        : duration(task.finishedAt - task.startedAt)
      const watch = !unfinished.has(task.state)
        ? ""
        : watching
        ? html`<p class="muted">This page reloads every second until the task finishes. <a href="${
          taskPath(task.id)
        }">Stop watching</a></p>`
        : html`<p class="muted"><a href="${taskPath(task.id)}?watch=1">Watch</a> (reload every second until it finishes)</p>`
      const page = render({
        title: task.name,
        ...(watching ? { refreshSeconds: 1 } : {}),
        body: html`${notice}
<dl>
<dt>id</dt><dd><code>${task.id}</code></dd>
<dt>task</dt><dd>${task.name}</dd>
<dt>queue</dt><dd><a href="${listPath({ queue: task.queue })}">${task.queue}</a></dd>
<dt>state</dt><dd>${stateBadge(task.state, "state")}</dd>
<dt>reliability</dt><dd>${task.durable ? "durable" : "volatile"}</dd>
<dt>attempts</dt><dd id="attempts">${task.attempts}</dd>
<dt>created</dt><dd>${iso(task.createdAt)}</dd>
<dt>started</dt><dd>${iso(task.startedAt)}</dd>
<dt>finished</dt><dd>${iso(task.finishedAt)}</dd>
<dt>waited</dt><dd>${
          task.startedAt === undefined
            ? (unfinished.has(task.state) ? `${duration(now - task.createdAt)} so far` : "—")
            : between(task.createdAt, task.startedAt)
        }</dd>
<dt>ran</dt><dd>${ran}</dd>
<dt>total</dt><dd>${between(task.createdAt, task.finishedAt)}</dd>
</dl>
${task.error === undefined ? "" : html`<h2>Error</h2><p class="error" id="error">${oneLine(task.error, 2_000)}</p>`}
${actions.some((a) => a !== "") ? html`<div class="actions">${actions}</div>` : ""}
${watch}
<h2>Status</h2>
<pre id="status">${json(task.status)}</pre>
<p><a href="${home}">Back to the dashboard</a> · <a href="${taskPath(task.id)}">Reload</a></p>`
      })
      return withCookie(page)
    })
  )

  const act = (action: "retry" | "cancel") =>
    guarded((request) =>
      Effect.gen(function*() {
        const { id } = yield* HttpRouter.params
        const refused = () =>
          problem(
            403,
            "Request refused",
            "This request did not come from a dashboard page (its security token is missing or wrong).",
            isWellFormedTaskId(id)
              ? html`<p><a href="${taskPath(id)}">Open the task page</a> and use its buttons.</p>`
              : ""
          )
        // Everything that can be checked without the body first: the origin and the cookie, then
        // the declared length; only then the body, and at most `maxBodyBytes` of it.
        const expected = tokenOf(request)
        if (!sameOrigin(request) || expected === undefined) return refused()
        const declared = declaredBody(request)
        if (declared === "too-large") return tooLarge
        if (declared === "invalid") return badRequest
        const body = yield* Effect.either(readCapped(request))
        if (body._tag === "Left") return badRequest
        if (body.right === undefined) return tooLarge
        const sent = UrlParams.getFirst(UrlParams.fromInput(new URLSearchParams(body.right)), csrfField)
        if (!(Option.isSome(sent) && sameSecret(sent.value, expected))) return refused()
        if (!isWellFormedTaskId(id)) return notFound
        const admin = yield* ExecutorAdmin
        yield* action === "retry" ? admin.retry(id) : admin.cancel(id)
        return HttpServerResponse.redirect(`${taskPath(id)}?done=${action}`, {
          status: 303,
          headers: { "cache-control": "no-store" }
        })
      })
    )

  // The router ignores a trailing slash: `<prefix>` also answers `<prefix>/`.
  return HttpRouter.empty.pipe(
    HttpRouter.get(home as HttpRouter.PathInput, index),
    HttpRouter.get(`${prefix}/tasks/:id` as HttpRouter.PathInput, showTask),
    HttpRouter.post(`${prefix}/tasks/:id/retry` as HttpRouter.PathInput, act("retry")),
    HttpRouter.post(`${prefix}/tasks/:id/cancel` as HttpRouter.PathInput, act("cancel"))
  )
}
