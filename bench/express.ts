/**
 * Express benchmark (issue 15, "Benchmarks"): plain / `ExpressAdapter` + one after-response submit
 * / the work in `res.on("finish", () => setImmediate(work))`, three Express 5 servers in child
 * processes (bench/expressServer.ts) measured in interleaved slices (bench/adapterBench.ts, whose
 * header lists the settings).
 *
 *   npm run build && npx tsx bench/express.ts
 */
import { runAdapterBench } from "./adapterBench.js"

runAdapterBench("Express", "expressServer.ts")
