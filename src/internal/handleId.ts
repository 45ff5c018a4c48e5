import { randomFillSync } from "node:crypto"

/** 18 random bytes: 144 bits, 24 URL-safe base64 characters without padding. */
const ID_BYTES = 18
const POOL_IDS = 512
const ID_CHARS = (ID_BYTES / 3) * 4
const pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS)
let encoded = ""
let offset = 0

const ID_PATTERN = /^[A-Za-z0-9_-]{24}$/

/** @internal */
export const randomTaskId = (): string => {
  // One CSPRNG fill and one base64url encoding per 512 ids; 18 bytes are exactly 24 characters,
  // so the pool's encoding splits into ids without padding. An id is a slice of that 12 KB string,
  // which lives as long as one of its ids does: bounded by the registries' retention.
  if (offset === encoded.length) {
    randomFillSync(pool)
    encoded = pool.toString("base64url")
    offset = 0
  }
  const id = encoded.slice(offset, offset + ID_CHARS)
  offset += ID_CHARS
  return id
}

/** @internal */
export const isWellFormedTaskId = (id: unknown): id is string => typeof id === "string" && ID_PATTERN.test(id)

/** @internal */
export const taskIdBits = ID_BYTES * 8
