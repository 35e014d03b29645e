// Deterministic execution names: the same trigger always yields the same name, so Step Functions itself
// refuses to start the same work twice.

/** FNV-1a, 32 bits, as 8 hex digits: short, stable, and enough to tell names apart. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * A Step Functions execution name (at most 80 of A-Z a-z 0-9 - _) from parts. Unsafe characters become "-";
 * a hash of the exact parts is appended whenever anything had to change, so distinct inputs never collide.
 */
export function executionName(...parts: string[]): string {
  return executionName.within(80, ...parts);
}

/** An execution name of at most `length` characters (to leave room for a suffix). */
executionName.within = (length: number, ...parts: string[]): string => {
  const joined = parts.join("-");
  const safe = joined.replace(/[^A-Za-z0-9_-]/g, "-");
  if (safe === joined && safe.length <= length) return safe;
  const hash = shortHash(joined);
  return `${safe.slice(0, length - hash.length - 1)}-${hash}`;
};

/** A compact UTC timestamp for names: 20261123T0900. */
export const nameTime = (at: Date) => at.toISOString().replace(/[-:]/g, "").slice(0, 13);

/** The ARN of a state machine's execution of a given name. */
export const executionArnOf = (stateMachineArn: string, name: string) =>
  `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
