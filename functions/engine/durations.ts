// Durations as people write them in tags and stack parameters: "7d", "36h", "90m", "1d12h", "2w".

const UNIT_SECONDS: Record<string, number> = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 };
const DURATION = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses "7d", "36h", "1d12h"... into seconds; undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match || text.trim() === "") return undefined;
  const seconds = ["w", "d", "h", "m", "s"].reduce(
    (sum, unit, index) => sum + Number(match[index + 1] ?? 0) * (UNIT_SECONDS[unit] as number),
    0,
  );
  return seconds > 0 ? seconds : undefined;
}

/** Formats seconds the way they are written in tags: 9d 4h, 36h, 45m. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86_400) {
    const days = Math.floor(s / 86_400);
    const hours = Math.floor((s % 86_400) / 3_600);
    return hours > 0 ? `${days}d ${hours}h` : `${days}d`;
  }
  if (s >= 3_600) return `${Math.floor(s / 3_600)}h`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

/** A rate budget "4/1h": at most `count` instances per rolling `windowSeconds`. */
export interface RateBudget {
  count: number;
  windowSeconds: number;
  text: string;
}

/** Parses "4/1h" (count / duration); undefined when malformed or zero. */
export function parseRateBudget(text: string): RateBudget | undefined {
  const parts = text.trim().split("/");
  if (parts.length !== 2) return undefined;
  const [count, window] = parts;
  const windowSeconds = window ? parseDuration(window) : undefined;
  if (!count || !/^\d+$/.test(count) || Number(count) < 1 || !windowSeconds) return undefined;
  return { count: Number(count), windowSeconds, text: text.trim() };
}
