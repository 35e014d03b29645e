// Imported first by every local entry point (npm start, the CLI, tests), before any SDK or Powertools
// module reads its environment.

// The simulator and the CLI run on Node 20 here; the deployed functions run on Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// Metrics would print CloudWatch EMF lines into the terminal; the simulator reports its own figures.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
process.env.POWERTOOLS_SERVICE_NAME ??= "phoenix";
// Handler logs (Powertools, JSON) are off in the simulator's terminal; POWERTOOLS_LOG_LEVEL=INFO shows them.
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
// The lock and idempotency table inside the embedded DynamoDB (dynalite) the simulator starts.
process.env.PHOENIX_TABLE ??= "phoenix-local";
// The local stage: the state machines are phoenix-<name>-local, in the account and region of the local
// functions' ARNs (local/state-machine.ts).
process.env.PHOENIX_STAGE ??= "local";
