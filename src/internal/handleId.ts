import { randomFillSync } from "node:crypto"

/** 18 random bytes: 144 bits, 24 URL-safe base64 characters without padding. */
const ID_BYTES = 18
const POOL_IDS = 512
const pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS)
let offset = pool.length

const ID_PATTERN = /^[A-Za-z0-9_-]{24}$/

/** @internal */
export const randomTaskId = (): string => {
  // Filling a pool amortises the syscall over 512 ids; each id still comes from the CSPRNG.
  if (offset === pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const id = pool.toString("base64url", offset, offset + ID_BYTES)
  offset += ID_BYTES
  return id
}

/** @internal */
export const isWellFormedTaskId = (id: unknown): id is string => typeof id === "string" && ID_PATTERN.test(id)

/** @internal */
export const taskIdBits = ID_BYTES * 8
