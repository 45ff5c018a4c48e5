// Their own modules, not the packages' indexes: @effect/platform-node's index also loads its
// cluster, RPC and HTTP client modules (@effect/cluster, @effect/rpc), which this lookup does not need.
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Context, Effect } from "effect"
import type { ServerResponse } from "node:http"
import { taskMetrics } from "./taskMetrics.js"

/** Whoever holds items until a response is done: the memory supervisor, the durable engine. */
export interface ResponseHolder<A> {
  /**
   * Takes back a request's held items. `inCallback` when called from the response's `close`
   * event, outside any fiber (otherwise from a submit made after the response was done).
   */
  readonly releaseHeld: (items: ReadonlyArray<A>, aborted: boolean, inCallback: boolean) => void
}

/**
 * The after-response state of one request. On `@effect/platform` it is found through its Node
 * `ServerResponse` (`markRequest`), so that every fiber the request's fiber forks, and every copy
 * of the request (`modify`, mounted routers), finds the same one; the Promise API's submitter of a
 * request keeps its own (`holdOfResponse`). Made on the first submit: then one `close` listener is
 * attached. `close` with `writableFinished` means the response was fully written, `close` without
 * it means the client went away.
 *
 * @internal
 */
export class RequestHold {
  private open = true
  private aborted = false
  /** The first holder and its items: usually the only one (one executor per app). */
  private holder: ResponseHolder<any> | undefined = undefined
  /** Made with its first item: a literal of one is a quarter the size of an array grown by `push`. */
  private items: Array<unknown> | undefined = undefined
  private others: Array<{ readonly holder: ResponseHolder<any>; readonly items: Array<unknown> }> | undefined =
    undefined

  /** `marked`: the hold is the response's own (`holdKey`), found by the shared listener. */
  constructor(private readonly response: MarkedResponse, private readonly marked: boolean) {}

  /** Holds an item until the response is done; if it is done already, hands it over at once. */
  hold<A>(holder: ResponseHolder<A>, item: A): void {
    if (!this.open) return holder.releaseHeld([item], this.aborted, false)
    // a hold kept by its caller may outlive its response without having listened to it
    if (this.holder === undefined && this.response.closed) {
      return holder.releaseHeld([item], !this.response.writableFinished, false)
    }
    if (this.holder === undefined) {
      this.holder = holder
      this.items = [item]
      this.response.on("close", this.marked ? onResponseClose : () => this.close())
      return
    }
    if (this.holder === holder) {
      this.items!.push(item)
      return
    }
    this.others ??= []
    const other = this.others.find((group) => group.holder === holder)
    if (other !== undefined) other.items.push(item)
    else this.others.push({ holder, items: [item] })
  }

  /** @internal */
  close(): void {
    this.open = false
    this.aborted = !this.response.writableFinished
    this.holder!.releaseHeld(this.items!, this.aborted, true)
    if (this.others !== undefined) {
      for (const group of this.others) group.holder.releaseHeld(group.items, this.aborted, true)
    }
    this.holder = undefined
    this.items = undefined
    this.others = undefined
  }
}

/** Shared by every response: Node calls a listener with the emitter as `this`. */
function onResponseClose(this: MarkedResponse): void {
  this[holdKey]?.close()
}

/**
 * The mark `AfterResponse.middleware` leaves on the Node response of each request: `null` until the
 * request's first submit makes its RequestHold. A property of the response rather than a FiberRef
 * or a WeakMap: setting a FiberRef copies the fiber's whole map of refs, and a WeakMap entry costs
 * the garbage collector, once per request (both measured with `npm run bench`).
 */
const holdKey: unique symbol = Symbol.for("effect-executor/AfterResponse/hold")

interface MarkedResponse extends ServerResponse {
  [holdKey]?: RequestHold | null
}

/**
 * The seam through which the hold finds a request's Node `ServerResponse`: the adapters for
 * node:http, Express, Fastify and Hono provide it around a handler's submits. On `@effect/platform`
 * the response is found on the request instead, as `AfterResponse.middleware` marks it (cheaper
 * than a service provided per request).
 *
 * @internal
 */
export class ResponseLifecycle extends Context.Tag("effect-executor/AfterResponse/ResponseLifecycle")<
  ResponseLifecycle,
  ServerResponse
>() {}

/** Marks the request of this context, if it comes from Node's http server. @internal */
export const markRequest = (context: Context.Context<never>): void => {
  const response = platformResponseOf(context)
  if (response !== undefined) response[holdKey] = null
}

/**
 * The hold of the request of this context, if its response is still being written, so that a
 * submit now is held: a response provided as `ResponseLifecycle`, or an `@effect/platform`
 * request marked by `AfterResponse.middleware`. An unmarked platform request is counted, and
 * the first one warned about (`takeUnheldWarning`).
 *
 * @internal
 */
export const openHoldOf = (context: Context.Context<never>): RequestHold | undefined => {
  let response = Context.getOrElse(context, ResponseLifecycle, () => undefined) as MarkedResponse | undefined
  if (response === undefined) {
    response = platformResponseOf(context)
    if (response === undefined) return undefined
    if (response[holdKey] === undefined) {
      if (!response.closed) unheld()
      return undefined
    }
  }
  if (response.closed) return undefined
  return response[holdKey] ?? (response[holdKey] = new RequestHold(response, true))
}

/**
 * A new hold for a response that is still being written, kept by its caller (the Promise API's
 * submitter of one request) rather than on the response: a property added to an Express or
 * Fastify response object costs more than the rest of the submit (measured, bench/express.ts).
 *
 * @internal
 */
export const holdOfResponse = (response: ServerResponse): RequestHold | undefined =>
  response.closed ? undefined : new RequestHold(response, false)

let warnUnheld = false
let warnedUnheld = false
const unheld = () => {
  taskMetrics.unheld()
  if (!warnedUnheld) warnUnheld = warnedUnheld = true
}

/**
 * The warning about the first submit of this process in an unmarked `@effect/platform` request,
 * once: a submit answers it with its handle. `undefined` when there is nothing to say.
 *
 * @internal
 */
export const takeUnheldWarning = (): Effect.Effect<void> | undefined => {
  if (!warnUnheld) return undefined
  warnUnheld = false
  return Effect.logWarning(
    "a task was submitted while an @effect/platform request was handled without AfterResponse.middleware: " +
      "it was not held and runs at once, before the response is written. Apply AfterResponse.middleware " +
      "to the app (e.g. HttpRouter.empty.pipe(..., AfterResponse.middleware, HttpServer.serve())). " +
      "Counted in effect_executor_unheld_submits; this is logged once per process."
  )
}

/** Requests that do not come from Node's http server have no `ServerResponse` to listen to. */
const platformResponseOf = (context: Context.Context<never>): MarkedResponse | undefined => {
  const request = Context.getOrElse(context, HttpServerRequest.HttpServerRequest, () => undefined)
  return request === undefined
    ? undefined
    : NodeHttpServerRequest.toServerResponse(request) as MarkedResponse | undefined
}
