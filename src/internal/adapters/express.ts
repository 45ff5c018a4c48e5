/**
 * The Express adapter: a middleware that puts the request's submitter on `res.locals.tasks` and
 * `req.tasks`, and the node:http status route as a middleware. Only Express's types are imported:
 * the package needs no `express` at run time.
 *
 * @internal
 */
import type { NextFunction, Request, RequestHandler, Response } from "express"
import type * as ExpressAdapter from "../../ExpressAdapter.js"
import type * as PromiseExecutor from "../../PromiseExecutor.js"
import { type AdaptedExecutor, statusRoute as nodeStatusRoute } from "./node.js"

/** @internal */
export const middleware = (executor: AdaptedExecutor): RequestHandler => (req, res, next) => {
  const tasks = executor.forResponse(res)
  res.locals.tasks = tasks
  ;(req as { tasks?: PromiseExecutor.Submitter }).tasks = tasks
  next()
}

/** @internal */
export const tasks = (res: Response): PromiseExecutor.Submitter => {
  const found = (res.locals as { tasks?: PromiseExecutor.Submitter } | undefined)?.tasks
  if (found === undefined) {
    throw new Error(
      "ExpressAdapter.tasks: this request has no submitter; add app.use(ExpressAdapter.middleware(executor)) " +
        "before the routes that submit"
    )
  }
  return found
}

/** @internal */
export const statusRoute = (executor: AdaptedExecutor, options: ExpressAdapter.StatusRouteOptions = {}): RequestHandler => {
  const route = nodeStatusRoute<Request>(executor, options)
  return (req: Request, res: Response, next: NextFunction) => {
    if (!route(req, res)) next()
  }
}
