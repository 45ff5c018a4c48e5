import type { StoredState } from "../../TaskStore.js"
import { type Html, html } from "../html.js"

/** How the dashboard writes times, durations, errors and statuses. @internal */
export const iso = (millis: number | undefined): string => millis === undefined ? "—" : new Date(millis).toISOString()

export const duration = (millis: number): string => {
  const ms = Math.max(0, millis)
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${(ms / 1_000).toFixed(2)} s`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1_000)} s`
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`
  return `${Math.floor(ms / 86_400_000)} d ${Math.floor((ms % 86_400_000) / 3_600_000)} h`
}

export const between = (from: number | undefined, to: number | undefined): string =>
  from === undefined || to === undefined ? "—" : duration(to - from)

/** One line, at most `max` characters. */
export const oneLine = (text: string, max = 300): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

export const json = (value: unknown): string => {
  try {
    return JSON.stringify(value, null, 2) ?? "undefined"
  } catch {
    return "(this status cannot be shown as JSON)"
  }
}

export const stateBadge = (state: StoredState, id?: string): Html =>
  id === undefined
    ? html`<span class="state state-${state}">${state}</span>`
    : html`<span id="${id}" class="state state-${state}">${state}</span>`
