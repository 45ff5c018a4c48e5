/**
 * Fastify benchmark (issue 15, "Benchmarks"): plain / `FastifyAdapter` + one after-response submit
 * / the work in `res.on("finish", () => setImmediate(work))`, three Fastify 5 servers in child
 * processes (bench/fastifyServer.ts) measured in interleaved slices (bench/adapterBench.ts).
 *
 *   npm run build && npx tsx bench/fastify.ts
 */
import { runAdapterBench } from "./adapterBench.js"

runAdapterBench("Fastify", "fastifyServer.ts")
