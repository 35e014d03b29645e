// The one seam between Phoenix and AWS. Every adapter gets its SDK client here, created lazily from the
// standard AWS configuration (default credential chain, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL and the
// service-specific endpoint variables). The simulator and pull mode hand in their own clients through
// `useClients`; nothing else in functions/ knows which backend it runs on. Each adapter passes its own
// factory so a Lambda bundle only contains the SDK clients its function really uses.

/** Names of the clients Phoenix uses, one per AWS service (plus the HTTP prober). */
export type ClientName =
  | "autoScaling"
  | "ec2"
  | "elbv2"
  | "eventBridge"
  | "cloudWatch"
  | "sfn"
  | "ssm"
  | "dynamodb"
  | "imageBuilder"
  | "lambda"
  | "iam"
  | "kms"
  | "httpProbe";

const created = new Map<ClientName, unknown>();
const injected = new Map<ClientName, unknown>();

/** The client for a service: an injected one if any, else one created once from the standard config. */
export function clientFor<T>(name: ClientName, create: () => T): T {
  if (injected.has(name)) return injected.get(name) as T;
  if (!created.has(name)) created.set(name, create());
  return created.get(name) as T;
}

/** Hands Phoenix a set of clients (simulator, pull mode, tests); pass `{}` after a run to go back to defaults. */
export function useClients(clients: Partial<Record<ClientName, unknown>>): void {
  injected.clear();
  for (const [name, client] of Object.entries(clients)) injected.set(name as ClientName, client);
}

/** Forgets clients created from the standard config (tests that change the environment). */
export function resetCreatedClients(): void {
  created.clear();
}

/** Options every SDK client Phoenix creates shares. */
export const sdkClientDefaults = { customUserAgent: "phoenix/0.1" } as const;
