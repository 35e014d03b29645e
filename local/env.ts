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
// The simulated account, and Phoenix's bus in it (serverless.yml names it phoenix-<stage>).
process.env.PHOENIX_ACCOUNT_ID ??= "123456789012";
process.env.PHOENIX_EVENT_BUS ??= "phoenix-local";
// The local ARNs of the state machines (serverless.yml names them phoenix-<name>-<stage>; the stage is "local").
process.env.PHOENIX_REPLACE_GROUP_ARN ??=
  "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-replace-group-local";
process.env.PHOENIX_IMAGE_ROLLOUT_ARN ??=
  "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-image-rollout-local";
process.env.PHOENIX_QUARANTINE_ARN ??=
  "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-quarantine-instance-local";
