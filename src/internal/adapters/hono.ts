/**
 * The Hono adapter, for apps served by `@hono/node-server`: a middleware that puts the request's
 * submitter, made from the Node `ServerResponse` that the server gives in `c.env.outgoing`, in
 * `c.var.tasks`; and the status route as a handler. Only Hono's types are imported.
 *
 * @internal
 */
import type { Context, Handler, MiddlewareHandler } from "hono"
import type { ServerResponse } from "node:http"
import type * as HonoAdapter from "../../HonoAdapter.js"
import type * as PromiseExecutor from "../../PromiseExecutor.js"
import type { AdaptedExecutor } from "./node.js"
import { answerRequest, jsonHeaders, jsonOf } from "./statusAnswer.js"

const notNodeServer =
  "HonoAdapter.middleware: this request has no Node ServerResponse in c.env.outgoing; serve the app with " +
  "@hono/node-server (serve({ fetch: app.fetch })), whose HTTP/1 server gives it"

/** The Node response of a request served by @hono/node-server, or `undefined`. */
const outgoingOf = (c: Context): ServerResponse | undefined => {
  const outgoing = (c.env as { readonly outgoing?: unknown } | undefined)?.outgoing
  return typeof (outgoing as ServerResponse | undefined)?.once === "function" &&
      typeof (outgoing as ServerResponse).writableFinished === "boolean"
    ? outgoing as ServerResponse
    : undefined
}

/** @internal */
export const middleware = (executor: AdaptedExecutor): MiddlewareHandler<HonoAdapter.Env> => async (c, next) => {
  const outgoing = outgoingOf(c)
  if (outgoing === undefined) throw new Error(notNodeServer)
  c.set("tasks", executor.forResponse(outgoing))
  await next()
}

/** @internal */
export const tasks = (c: Context): PromiseExecutor.Submitter => {
  const found = c.get("tasks") as PromiseExecutor.Submitter | undefined
  if (found === undefined) {
    throw new Error(
      "HonoAdapter.tasks: this request has no submitter; add app.use(HonoAdapter.middleware(executor)) before the " +
        "routes that submit"
    )
  }
  return found
}

/** @internal */
export const statusRoute = (executor: AdaptedExecutor, options: HonoAdapter.StatusRouteOptions = {}): Handler =>
async (c) => {
  const id = c.req.param(options.param ?? "id") ?? ""
  const answer = await answerRequest(executor, options, c, id, c.req.header("content-length"))
  const { status, text } = jsonOf(answer)
  return c.body(text, status as 200, jsonHeaders)
}
