// Once before every test file: the packaged template the simulator deploys (and IAM evaluates each call
// against) is built if serverless.yml, deploy/iam.yml or a state machine changed since it was cached, so
// the test files running in parallel never package it twice.
import { packagedTemplate, templateIsBuilt } from "../local/sim/template";

export default async function setup(): Promise<void> {
  if (templateIsBuilt()) return;
  const started = performance.now();
  await packagedTemplate((line) => console.log(line));
  console.log(`packaged in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
