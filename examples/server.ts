/**
 * `npm start`: the example app on a real Node HTTP server.
 *
 *   PORT=8080 npm start     # default port 3000
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Console, Layer, Logger } from "effect"
import { createServer } from "node:http"
import * as App from "./app.js"

const port = Number(process.env.PORT ?? 3000)

/** `http://localhost:3000` rather than `http://[::]:3000`, so the line can be clicked. */
const formatUrl = (address: HttpServer.Address): string => {
  if (address._tag === "UnixAddress") return `unix://${address.path}`
  const host = address.hostname === "::" || address.hostname === "0.0.0.0" ? "localhost" : address.hostname
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`
}

const PrintUrl = Layer.effectDiscard(
  HttpServer.addressWith((address) => Console.log(`effect-executor example listening on ${formatUrl(address)}`))
)

// The app is served before the URL is printed; SIGINT / SIGTERM close the layers, which lets
// running tasks finish (up to the executor's drainTimeout) before the process exits.
PrintUrl.pipe(
  Layer.provideMerge(App.layer()),
  Layer.provide(NodeHttpServer.layer(createServer, { port })),
  Layer.provide(Logger.pretty),
  Layer.launch,
  NodeRuntime.runMain
)
