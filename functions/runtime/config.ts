import { z } from "zod";
import { parseOrThrow } from "../engine/policy";

const EnvironmentSchema = z.object({
  /** EventBridge bus that receives Phoenix's own events. */
  PHOENIX_EVENT_BUS: z.string().min(1).default("default"),
  /** DynamoDB table holding group locks and idempotency records (declared in serverless.yml). */
  PHOENIX_TABLE: z.string().min(3),
});

/** Settings every function reads from its environment. */
export type PhoenixConfig = z.infer<typeof EnvironmentSchema>;

let cached: PhoenixConfig | undefined;

/** The configuration, parsed once per cold start; a bad value fails with the variable's name. */
export function config(): PhoenixConfig {
  cached ??= parseOrThrow(EnvironmentSchema, process.env, "environment");
  return cached;
}

/** Forgets the parsed configuration (tests that change the environment). */
export function resetConfig(): void {
  cached = undefined;
}
