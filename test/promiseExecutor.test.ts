import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Executor, ExecutorError, PromiseExecutor, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { readBody, request } from "./httpSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-promise-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}

const Double = Task.make("Double", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  failure: Declined,
  run: Task.fromPromiseOr(
    async ({ n }: { readonly n: number }) => {
      if (n < 0) throw new Error(`negative ${n}`)
      return n * 2
    },
    (error) => new Declined({ reason: (error as Error).message })
  )
})

const Crashes = Task.make("Crashes", {
  payload: Schema.Void,
  run: Task.fromPromise(async () => {
    throw new Error("boom")
  })
})

/** Resolves once the promise settles: its value, or what it rejected with. */
const settle = <A>(promise: Promise<A>) =>
  promise.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))

/** Listens on a free port of 127.0.0.1 until the scope closes; answers the port. */
const listen = (server: Http.Server) =>
  Effect.gen(function*() {
    yield* Effect.async<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
    )
    return (server.address() as { port: number }).port
  })

describe("PromiseExecutor", () => {
  it("submits a function, a task call and an effect; await and status answer as on Effect", async () => {
    const executor = PromiseExecutor.make(Executor.layerMemory())
    try {
      const fromFunction = await executor.submit(async () => "from a promise")
      expect(await executor.await(fromFunction)).toBe("from a promise")
      expect(await executor.status(fromFunction)).toEqual(TaskStatus.Succeeded({ value: "from a promise", attempts: 1 }))
      const call = await executor.submit(Double.make({ n: 21 }))
      expect(await executor.await(call)).toBe(42)
      const effect = await executor.submit(Effect.succeed("an effect"))
      expect(await executor.await(effect)).toBe("an effect")
    } finally {
      await executor.close()
    }
  })

  it("rejects with the typed errors themselves: the task's, TaskFailed for a defect, refusals, forged handles", async () => {
    const executor = PromiseExecutor.make(Executor.layerMemory())
    try {
      const declined = await settle(executor.await(await executor.submit(Double.make({ n: -1 }))))
      expect(declined.ok).toBe(false)
      expect(!declined.ok && declined.error).toEqual(new Declined({ reason: "negative -1" }))
      const crashed = await settle(executor.await(await executor.submit(Crashes.make(undefined))))
      expect(!crashed.ok && crashed.error).toBeInstanceOf(ExecutorError.TaskFailed)
      expect(!crashed.ok && (crashed.error as ExecutorError.TaskFailed).reason).toBe("defect")
      const unknownQueue = await settle(executor.submit(Double.make({ n: 1 }), { queue: "nope" }))
      expect(!unknownQueue.ok && (unknownQueue.error as { _tag: string })._tag).toBe("UnknownQueue")
      const badPayload = await settle(executor.submit(Double.make({ n: "x" as unknown as number })))
      expect(!badPayload.ok && badPayload.error).toBeInstanceOf(ExecutorError.InvalidPayload)
      for (const forged of [TaskHandle.unsafeMake("../../etc/passwd"), TaskHandle.unsafeMake("A".repeat(24))]) {
        const missing = await settle(executor.status(forged))
        expect(!missing.ok && missing.error).toBeInstanceOf(ExecutorError.TaskNotFound)
      }
    } finally {
      await executor.close()
    }
  })

  it("statusAnswer gives the status route's answer: 200 with the status, 404 for forged, malformed and other sessions' ids", async () => {
    const executor = PromiseExecutor.make(Executor.layerMemory())
    try {
      const handle = await executor.submit(Double.make({ n: 2 }), { session: "user-1" })
      await executor.await(handle)
      const ok = await executor.statusAnswer(handle.id, "user-1")
      expect(ok.status).toBe(200)
      expect(ok.body).toMatchObject({ id: handle.id, task: "Double", state: "succeeded", status: { _tag: "Succeeded", value: 4 } })
      for (const [id, session] of [[handle.id, "user-2"], [handle.id, null], ["../../etc/passwd", "user-1"], ["A".repeat(24), undefined]] as const) {
        const answer = await executor.statusAnswer(id, session)
        expect(answer).toEqual({ status: 404, body: { error: "no such task" } })
      }
    } finally {
      await executor.close()
    }
  })

  it("interrupt aborts a Promise task's signal; close drains, then refuses submits with ExecutorClosed", async () => {
    const executor = PromiseExecutor.make(Executor.layerMemory({ drainTimeout: "10 seconds" }))
    let aborted = false
    const waiting = await executor.submit((signal) =>
      new Promise<never>((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          aborted = true
          reject(new Error("aborted"))
        })
      })
    )
    await executor.interrupt(waiting)
    expect(aborted).toBe(true)
    expect(await executor.status(waiting)).toEqual(TaskStatus.Interrupted())
    let finished = false
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    await executor.submit(async () => {
      await gate
      finished = true
    })
    const closing = executor.close()
    release()
    await closing
    expect(finished).toBe(true)
    const refused = await settle(executor.submit(async () => 1))
    expect(!refused.ok && (refused.error as { _tag: string })._tag).toBe("ExecutorClosed")
  })

  it("on SQLite, a handle written as a string is awaited by another executor on the same file", async () => {
    const filename = join(dir, "promise.db")
    const submitter = PromiseExecutor.make(Executor.layerSqlite({ filename, tasks: [Double], runTasks: false }))
    const worker = PromiseExecutor.make(Executor.layerSqlite({ filename, tasks: [Double], pollInterval: "20 millis" }))
    try {
      const text = TaskHandle.encode(await submitter.submit(Double.make({ n: 4 })))
      const handle = await Effect.runPromise(TaskHandle.decode<number, Declined>(text))
      expect(await worker.await(handle)).toBe(8)
      expect(await submitter.status(handle)).toEqual(TaskStatus.Succeeded({ value: 8, attempts: 1 }))
    } finally {
      await submitter.close()
      await worker.close()
    }
  })

  it("start builds the layer before any call: a durable store that cannot be opened rejects it with StoreUnavailable", async () => {
    const broken = PromiseExecutor.make(Executor.layerSqlite({ filename: "/dev/null/tasks.db", tasks: [Double] }))
    const started = await settle(broken.start())
    expect(!started.ok && started.error).toBeInstanceOf(ExecutorError.StoreUnavailable)
    const executor = PromiseExecutor.make(Executor.layerMemory())
    await executor.start()
    expect(await executor.await(await executor.submit(async () => "after start"))).toBe("after start")
    await executor.close()
    const closed = await settle(executor.start())
    expect(!closed.ok && (closed.error as { _tag: string })._tag).toBe("ExecutorClosed")
  })

  it.live("forResponse holds a plain node:http handler's submits until its response is written", () =>
    Effect.gen(function*() {
      const executor = PromiseExecutor.make(Executor.layerMemory())
      yield* Effect.addFinalizer(() => Effect.promise(() => executor.close()))
      let started = false
      let finish!: () => void
      const finished = new Promise<void>((resolve) => (finish = resolve))
      const handles: Array<TaskHandle.TaskHandle<void, unknown>> = []
      const server = Http.createServer(async (_req, res) => {
        handles.push(await executor.forResponse(res).submit(async () => {
          started = true
        }))
        res.write("one,")
        await finished
        res.end("two")
      })
      const response = yield* request(yield* listen(server), "/")
      expect(yield* response.chunks.take).toBe("one,")
      expect(yield* Effect.promise(() => executor.status(handles[0]!))).toEqual(TaskStatus.Held())
      expect(started).toBe(false)
      finish()
      expect(yield* readBody(response)).toBe("two")
      yield* Effect.promise(() => executor.await(handles[0]!))
      expect(started).toBe(true)
    }).pipe(Effect.scoped))

  it.live("a request's submitter used after its response is done runs the task at once, also after a refused submit", () =>
    Effect.gen(function*() {
      const executor = PromiseExecutor.make(Executor.layerMemory())
      yield* Effect.addFinalizer(() => Effect.promise(() => executor.close()))
      // once the layer is built a memory submit is answered without a fiber: that is the path under test
      yield* Effect.promise(() => executor.start())
      yield* Effect.promise(async () => executor.await(await executor.submit(async () => "first")))
      const late: Array<Promise<string>> = []
      const server = Http.createServer(async (_req, res) => {
        const tasks = executor.forResponse(res)
        const refused = await settle(tasks.submit(async () => "never", { queue: "nope" }))
        expect(refused.ok).toBe(false)
        res.on("close", () => {
          late.push(tasks.submit(async () => "late").then((handle) => executor.await(handle)))
        })
        res.end("done")
      })
      const response = yield* request(yield* listen(server), "/")
      expect(yield* readBody(response)).toBe("done")
      while (late.length === 0) yield* Effect.yieldNow()
      expect(yield* Effect.promise(() => late[0]!)).toBe("late")
    }).pipe(Effect.scoped))
})
