// EventBridge in the simulated account, as the packaged template deploys it: each rule listens on one bus
// (the default bus unless it names another) with its event pattern, and invokes its function; each bus may
// have a resource policy (the template's AWS::Events::EventBusPolicy statements) saying who may put events.
import { matchesPattern } from "./event-patterns";
import { evaluate, type NamedPolicy } from "./iam";
import { busArn } from "./iam-requests";
import { type Deployment, deployedResources, resolve } from "./template";
import type { SimWorld } from "./world";

/** One deployed rule. */
export interface EventRule {
  name: string;
  busName: string;
  pattern: Record<string, unknown>;
  enabled: boolean;
  functionKey: string;
}

/** The rules the template deploys (schedules excluded: the simulator runs sweeps when told). */
export function eventRules(deployment: Deployment): EventRule[] {
  const rules: EventRule[] = [];
  for (const [logicalId, resource] of deployedResources(deployment)) {
    if (resource.Type !== "AWS::Events::Rule" || !resource.Properties.EventPattern) continue;
    const properties = resolve(resource.Properties, deployment) as {
      Name?: string;
      EventBusName?: string;
      EventPattern: Record<string, unknown>;
      State?: string;
      Targets: { Arn: string }[];
    };
    for (const target of properties.Targets) {
      const functionName = target.Arn.slice(target.Arn.lastIndexOf(":") + 1);
      rules.push({
        name: properties.Name ?? logicalId,
        busName: properties.EventBusName ?? "default",
        pattern: properties.EventPattern,
        enabled: properties.State !== "DISABLED",
        functionKey: functionName.replace(/^phoenix-[^-]+-/, ""),
      });
    }
  }
  return rules;
}

/** The rules an event put on a bus matches. */
export function matchingRules(rules: EventRule[], busName: string, event: unknown): EventRule[] {
  return rules.filter(
    (rule) => rule.enabled && rule.busName === busName && matchesPattern(rule.pattern, event),
  );
}

/** A bus's resource policy, assembled from the deployed EventBusPolicy statements (undefined: none). */
export function busPolicy(
  deployment: Deployment,
  busName: string,
): { Version: string; Statement: unknown[] } | undefined {
  const statements = deployedResources(deployment)
    .filter(([, resource]) => resource.Type === "AWS::Events::EventBusPolicy")
    .map(
      ([, resource]) =>
        resolve(resource.Properties, deployment) as {
          EventBusName: string;
          StatementId: string;
          Statement: Record<string, unknown>;
        },
    )
    .filter((policy) => policy.EventBusName === busName)
    .map((policy) => ({ Sid: policy.StatementId, ...policy.Statement }));
  return statements.length > 0 ? { Version: "2012-10-17", Statement: statements } : undefined;
}

/** Someone outside Phoenix putting an event: their principal ARN and identity policies. */
export interface Sender {
  principal: string;
  policies: NamedPolicy[];
}

/**
 * Whether EventBridge accepts a sender's PutEvents entry on a bus: their identity policies and the bus's
 * resource policy, evaluated as IAM does (cross-account needs both; an explicit deny in either wins).
 */
export async function mayPutEvent(
  world: SimWorld,
  deployment: Deployment,
  sender: Sender,
  entry: { busName: string; source: string; detailType: string },
): Promise<{ accepted: boolean; result: string }> {
  const { result } = await evaluate(
    sender.principal,
    sender.policies,
    {
      action: "events:PutEvents",
      resource: busArn(world, entry.busName),
      // Multivalued keys: one value per entry of the call (one entry here).
      context: { "events:source": [entry.source], "events:detail-type": [entry.detailType] },
    },
    world.accountId,
    busPolicy(deployment, entry.busName),
  );
  return { accepted: result === "Allowed", result };
}
