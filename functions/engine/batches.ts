/** Splits a list into consecutive batches of at most `size` (an AWS call's limit on ids). */
export function batches<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) =>
    items.slice(index * size, (index + 1) * size),
  );
}

/** AWS's limits on ids per call. */
export const PER_CALL = {
  detachInstances: 20,
  terminateInstances: 1000,
  createTags: 1000,
  // DeregisterTargets documents no limit; stay well inside any request-size limit.
  deregisterTargets: 200,
} as const;
