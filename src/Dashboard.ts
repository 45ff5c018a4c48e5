/**
 * A server-rendered HTML dashboard for operators, built on `ExecutorAdmin`: counts of tasks by
 * queue and state, the recent tasks (filtered by state or queue), one page per task with its
 * timing, error and encoded status, and "Retry" / "Cancel" buttons. Plain HTML forms and a little
 * inline CSS: no client JavaScript, no front-end build.
 *
 * - `GET <prefix>`: counts and the 50 most recent tasks; `?state=failed&queue=reports` filters.
 * - `GET <prefix>/tasks/:id`: one task.
 * - `POST <prefix>/tasks/:id/retry`, `POST <prefix>/tasks/:id/cancel`: then a 303 back to the task.
 *
 * The `authorize` hook guards every route (403 when it answers `false`). The buttons are safe
 * against cross-site requests: each page sets a random token in an `HttpOnly`, `SameSite=Strict`
 * cookie and embeds it in its forms; a POST is accepted only when the form's token equals the
 * cookie's and, when the browser sent an `Origin`, that origin is the request's `Host`. (Behind a
 * proxy, forward the original `Host` header.) The origin and the cookie are checked before the
 * body is read, and a body over 64 KiB answers 413 without being buffered. Bad input answers 400,
 * 404 or 413 pages, never a 500, never a stack trace. Pages never show a task's session.
 *
 * @example
 * ```ts
 * const dashboard = Dashboard.router({
 *   prefix: "/executor",
 *   authorize: (request) => Effect.succeed(request.cookies.role === "admin")
 * })
 * HttpRouter.concat(appRouter, dashboard)
 * ```
 *
 * @since 0.1.0
 */
import type { HttpRouter, HttpServerRequest } from "@effect/platform"
import type { Effect } from "effect"
import * as csrf from "./internal/dashboard/csrf.js"
import * as internal from "./internal/dashboard/router.js"
import type { ExecutorAdmin } from "./ExecutorAdmin.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where the dashboard is mounted. Default `"/executor"`. */
  readonly prefix?: string | undefined
  /**
   * Whether the request may see and use the dashboard; `false` answers a 403 page, for GET and
   * POST alike. Default: every request may, so give one in production.
   */
  readonly authorize?: ((request: HttpServerRequest.HttpServerRequest) => Effect.Effect<boolean>) | undefined
}

/**
 * The name of the cookie that carries the anti-CSRF token.
 *
 * @since 0.1.0
 * @category constants
 */
export const csrfCookie = csrf.csrfCookie

/**
 * The name of the hidden form field that must repeat the cookie's token on every POST.
 *
 * @since 0.1.0
 * @category constants
 */
export const csrfField = csrf.csrfField

/**
 * The dashboard's routes, to concat with or mount in the application's router.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router: (options?: Options) => HttpRouter.HttpRouter<never, ExecutorAdmin> = internal.router
