import { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Context } from "effect"
import type { ServerResponse } from "node:http"

/**
 * The Node response of the request whose context this is, if it is still being written.
 * Requests that do not come from Node's http server have no `ServerResponse` to listen to.
 *
 * @internal
 */
export const openResponseOf = (context: Context.Context<never>): ServerResponse | undefined => {
  const request = Context.getOption(
    context as Context.Context<HttpServerRequest.HttpServerRequest>,
    HttpServerRequest.HttpServerRequest
  )
  if (request._tag === "None") return undefined
  const response = NodeHttpServerRequest.toServerResponse(request.value) as ServerResponse | undefined
  return response !== undefined && !response.closed ? response : undefined
}

/**
 * Items held until their request's response is done. One `close` listener per response, attached
 * on the first item; `close` with `writableFinished` means the response was fully written,
 * `close` without it means the client went away.
 *
 * @internal
 */
export class ResponseHolds<A> {
  private readonly groups = new WeakMap<ServerResponse, Array<A>>()

  constructor(private readonly onDone: (items: ReadonlyArray<A>, aborted: boolean) => void) {}

  hold(response: ServerResponse, item: A): void {
    const group = this.groups.get(response)
    if (group !== undefined) {
      group.push(item)
      return
    }
    const items = [item]
    this.groups.set(response, items)
    response.once("close", () => {
      this.groups.delete(response)
      this.onDone(items, !response.writableFinished)
    })
  }
}
