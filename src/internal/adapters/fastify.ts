/**
 * The Fastify adapter: a plugin that is not encapsulated (`Symbol.for("skip-override")`, the
 * convention fastify-plugin sets), so that its request decorator and hook apply to the whole app.
 * Only Fastify's types are imported: the package needs no `fastify` at run time.
 *
 * @internal
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify"
import type * as FastifyAdapter from "../../FastifyAdapter.js"
import type * as PromiseExecutor from "../../PromiseExecutor.js"
import type { AdaptedExecutor } from "./node.js"
import { answerRequest, jsonHeaders, jsonOf, maxBodyBytes } from "./statusAnswer.js"

/** What the plugin needs of an executor: the adapters' share, and `close` for `onClose`. */
type PluginExecutor = AdaptedExecutor & Pick<PromiseExecutor.PromiseExecutor<unknown>, "close">

/** @internal */
export const plugin = (executor: PluginExecutor, options: FastifyAdapter.PluginOptions = {}): FastifyPluginCallback => {
  const route = `${(options.prefix ?? "").replace(/\/+$/, "")}/tasks/:id`
  const statusRoute = async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = request.params as { readonly id: string }
    const answer = await answerRequest(executor, options, request, id, request.headers["content-length"])
    const { status, text } = jsonOf(answer)
    return reply.code(status).headers(jsonHeaders).send(text)
  }
  const register: FastifyPluginCallback = (fastify, _options, done) => {
    fastify.decorateRequest("tasks", null as unknown as PromiseExecutor.Submitter)
    fastify.addHook("onRequest", (request, reply, next) => {
      request.tasks = executor.forResponse(reply.raw)
      next()
    })
    if (options.drain !== false) fastify.addHook("onClose", () => executor.close())
    if (options.statusRoute !== false) {
      fastify.route({ method: "GET", url: route, bodyLimit: maxBodyBytes, handler: statusRoute })
    }
    done()
  }
  return Object.assign(register, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "effect-executor"
  })
}

/** @internal */
export const tasks = (request: FastifyRequest): PromiseExecutor.Submitter => {
  const found = (request as { tasks?: PromiseExecutor.Submitter | null }).tasks
  if (found === undefined || found === null) {
    throw new Error(
      "FastifyAdapter.tasks: this request has no submitter; register the plugin on the app before the routes " +
        "that submit: await app.register(FastifyAdapter.plugin(executor))"
    )
  }
  return found
}
