// The packaged stack, as the simulator deploys it: the CloudFormation template `npx osls package` writes for
// the local stage, cached under node_modules/.cache so that it is built once per change of what shapes it
// (serverless.yml, deploy/iam.yml, the state machine files, the installed framework and plugins), and a small
// CloudFormation evaluator that resolves the template's intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
// Fn::If, Fn::Split, conditions) for the simulated account, the way a deployment would.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STAGE, REPO_ROOT } from "../stack";

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is JSON of any shape
type Json = any;

/** A CloudFormation template as JSON. */
export type Template = {
  Resources: Record<string, Json>;
  Parameters?: Record<string, Json>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, Json>;
};

const CACHE_DIR = join(REPO_ROOT, "node_modules", ".cache", "phoenix-template");

/** Files whose content shapes the template (the bundles' code only changes their hashes). */
function templateInputs(): string[] {
  const machines = readdirSync(join(REPO_ROOT, "statemachines"))
    .filter((file) => file.endsWith(".asl.json"))
    .sort()
    .map((file) => join("statemachines", file));
  return ["serverless.yml", join("deploy", "iam.yml"), "package-lock.json", ...machines];
}

/** The cache file for the current inputs. */
export function templateCachePath(): string {
  const hash = createHash("sha256");
  for (const file of templateInputs())
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(join(REPO_ROOT, file)))
      .update("\0");
  return join(CACHE_DIR, `${LOCAL_STAGE}-${hash.digest("hex").slice(0, 16)}.json`);
}

/** Whether the template for the current inputs is already built. */
export const templateIsBuilt = () => existsSync(templateCachePath());

/**
 * Runs `osls package --stage local` (no credentials, no network) and caches its
 * cloudformation-template-update-stack.json. Returns the cache file.
 */
export async function buildTemplate(): Promise<string> {
  const target = templateCachePath();
  mkdirSync(CACHE_DIR, { recursive: true });
  // One build at a time per template (tests, npm start and the CLI may all ask at once): the others wait.
  const lock = `${target}.lock`;
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch {
    const fresh = Date.now() - statSync(lock).mtimeMs < 30 * 60_000;
    if (fresh) {
      while (!existsSync(target) && existsSync(lock))
        await new Promise((resolve) => setTimeout(resolve, 1000));
      if (existsSync(target)) return target;
    }
    writeFileSync(lock, String(process.pid));
  }
  const outDir = mkdtempSync(join(tmpdir(), "phoenix-package-"));
  try {
    await promisify(execFile)(
      join(REPO_ROOT, "node_modules", ".bin", "osls"),
      ["package", "--stage", LOCAL_STAGE, "--region", LOCAL_REGION, "--package", outDir],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: "",
          AWS_SECRET_ACCESS_KEY: "",
          AWS_PROFILE: "",
          SLS_TELEMETRY_DISABLED: "1",
        },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    // Written aside and renamed, so a reader never sees half a file (two builds at once both succeed).
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, readFileSync(join(outDir, "cloudformation-template-update-stack.json")));
    renameSync(partial, target);
    // Templates of earlier inputs are not needed again (a branch switch rebuilds): keep the newest few.
    const cached = readdirSync(CACHE_DIR)
      .filter((file) => file.endsWith(".json"))
      .map((file) => join(CACHE_DIR, file))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    for (const old of cached.slice(4)) rmSync(old, { force: true });
    return target;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
    rmSync(lock, { force: true });
  }
}

let loaded: { path: string; template: Template } | undefined;

/** The packaged template for the current inputs, built first if needed (`say` hears why a build takes a while). */
export async function packagedTemplate(
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<Template> {
  const path = templateCachePath();
  if (loaded?.path === path) return loaded.template;
  if (!existsSync(path)) {
    say(
      "packaging the stack once with `osls package` (its template is cached until serverless.yml, deploy/iam.yml or a state machine changes)...",
    );
    await buildTemplate();
  }
  loaded = { path, template: JSON.parse(readFileSync(path, "utf8")) as Template };
  return loaded.template;
}

/** The packaged template if it is built already (synchronous, for code that cannot wait). */
export function cachedTemplate(): Template | undefined {
  const path = templateCachePath();
  if (loaded?.path === path) return loaded.template;
  if (!existsSync(path)) return undefined;
  loaded = { path, template: JSON.parse(readFileSync(path, "utf8")) as Template };
  return loaded.template;
}

/** What a deployment of the template in the simulated account is: its parameter values, and names of what it made. */
export interface Deployment {
  template: Template;
  /** CloudFormation parameter values, by name (lists as arrays). */
  parameters: Record<string, string | string[]>;
  /** Physical name (Ref) of a resource. */
  refOf(logicalId: string): string;
  /** An attribute (Arn, Name) of a resource. */
  attributeOf(logicalId: string, attribute: string): string;
}

const PSEUDO: Record<string, string> = {
  "AWS::AccountId": LOCAL_ACCOUNT,
  "AWS::Region": LOCAL_REGION,
  "AWS::Partition": "aws",
  "AWS::StackName": `phoenix-${LOCAL_STAGE}`,
  "AWS::URLSuffix": "amazonaws.com",
};

/** Deploys the template in the simulated account: names and ARNs as CloudFormation would give them here. */
export function deploy(template: Template, parameters: Record<string, string | string[]> = {}): Deployment {
  const arnOf = (service: string, resource: string) =>
    `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;
  const values: Record<string, string | string[]> = {};
  for (const [name, spec] of Object.entries(template.Parameters ?? {})) {
    const given = parameters[name] ?? spec.Default ?? "";
    values[name] = spec.Type === "CommaDelimitedList" && typeof given === "string" ? given.split(",") : given;
  }
  let deployment: Deployment;
  const nameOf = (logicalId: string): string => {
    const resource = template.Resources[logicalId];
    if (!resource) throw new Error(`the template has no resource ${logicalId}`);
    const properties = resource.Properties ?? {};
    const named =
      properties.FunctionName ??
      properties.TableName ??
      properties.Name ??
      properties.StateMachineName ??
      properties.RoleName ??
      properties.TopicName ??
      properties.QueueName ??
      properties.ManagedPolicyName;
    return named === undefined ? logicalId : String(resolve(named, deployment));
  };
  deployment = {
    template,
    parameters: values,
    refOf(logicalId) {
      if (logicalId in PSEUDO) return PSEUDO[logicalId] as string;
      if (logicalId in values) return values[logicalId] as string;
      const resource = template.Resources[logicalId];
      switch (resource?.Type) {
        case "AWS::StepFunctions::StateMachine":
          return arnOf("states", `stateMachine:${nameOf(logicalId)}`);
        case "AWS::SNS::Topic":
          return arnOf("sns", nameOf(logicalId));
        case "AWS::IAM::ManagedPolicy":
          return `arn:aws:iam::${LOCAL_ACCOUNT}:policy/${nameOf(logicalId)}`;
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html
        // (Ref returns the queue URL).
        case "AWS::SQS::Queue":
          return `https://sqs.${LOCAL_REGION}.amazonaws.com/${LOCAL_ACCOUNT}/${nameOf(logicalId)}`;
        default:
          return nameOf(logicalId);
      }
    },
    attributeOf(logicalId, attribute) {
      const resource = template.Resources[logicalId];
      const name = nameOf(logicalId);
      if (attribute === "Name" || (attribute === "QueueName" && resource?.Type === "AWS::SQS::Queue"))
        return name;
      if (attribute !== "Arn") throw new Error(`the simulator does not know ${logicalId}.${attribute}`);
      switch (resource?.Type) {
        case "AWS::Lambda::Function":
          return arnOf("lambda", `function:${name}`);
        case "AWS::DynamoDB::Table":
          return arnOf("dynamodb", `table/${name}`);
        case "AWS::Events::EventBus":
          return arnOf("events", `event-bus/${name}`);
        case "AWS::IAM::Role":
          return `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}`;
        case "AWS::StepFunctions::StateMachine":
          return arnOf("states", `stateMachine:${name}`);
        case "AWS::SNS::Topic":
          return arnOf("sns", name);
        case "AWS::SQS::Queue":
          return arnOf("sqs", name);
        // A rule on a custom bus has the bus in its ARN:
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list-amazoneventbridge.html#amazoneventbridge-resources-for-iam-policies
        case "AWS::Events::Rule": {
          const bus = resource.Properties?.EventBusName;
          const busName = bus === undefined ? "default" : String(resolve(bus, deployment));
          return arnOf("events", busName === "default" ? `rule/${name}` : `rule/${busName}/${name}`);
        }
        default:
          throw new Error(`the simulator does not know the ARN of ${logicalId} (${resource?.Type})`);
      }
    },
  };
  return deployment;
}

/** Whether a named condition of the template holds in a deployment. */
export function conditionHolds(name: string, deployment: Deployment): boolean {
  const condition = deployment.template.Conditions?.[name];
  if (condition === undefined) throw new Error(`the template has no condition ${name}`);
  return Boolean(resolve(condition, deployment));
}

/** Resolves CloudFormation intrinsics in a value for a deployment. */
export function resolve(value: unknown, deployment: Deployment): unknown {
  if (Array.isArray(value))
    return value.map((item) => resolve(item, deployment)).filter((item) => item !== NO_VALUE);
  if (!value || typeof value !== "object") return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [key, argument] = entries[0] as [string, unknown];
    const args = argument as unknown[];
    switch (key) {
      case "Ref":
        return argument === "AWS::NoValue" ? NO_VALUE : deployment.refOf(argument as string);
      case "Fn::GetAtt": {
        const [logicalId, attribute] =
          typeof argument === "string" ? argument.split(".") : (args as string[]);
        return deployment.attributeOf(logicalId as string, attribute as string);
      }
      case "Fn::Join":
        return (resolve(args[1], deployment) as unknown[]).map(String).join(args[0] as string);
      case "Fn::Split":
        return String(resolve(args[1], deployment)).split(args[0] as string);
      case "Fn::Select":
        return (resolve(args[1], deployment) as unknown[])[Number(resolve(args[0], deployment))];
      case "Fn::Sub": {
        const [text, variables] =
          typeof argument === "string" ? [argument, {}] : (args as [string, Record<string, unknown>]);
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in variables) return String(resolve(variables[name], deployment));
          const [logicalId, attribute] = name.split(".");
          return attribute
            ? deployment.attributeOf(logicalId as string, attribute)
            : String(deployment.refOf(name));
        });
      }
      case "Fn::If": {
        const [condition, whenTrue, whenFalse] = args as [string, unknown, unknown];
        return resolve(conditionHolds(condition, deployment) ? whenTrue : whenFalse, deployment);
      }
      case "Fn::Equals":
        return JSON.stringify(resolve(args[0], deployment)) === JSON.stringify(resolve(args[1], deployment));
      case "Fn::Not":
        return !resolve(args[0], deployment);
      case "Fn::And":
        return args.every((item) => resolve(item, deployment));
      case "Fn::Or":
        return args.some((item) => resolve(item, deployment));
      case "Condition":
        return conditionHolds(argument as string, deployment);
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const next = resolve(item, deployment);
    if (next !== NO_VALUE) resolved[key] = next;
  }
  return resolved;
}

/** AWS::NoValue: the property or list item is left out. */
const NO_VALUE = Symbol("AWS::NoValue");

/** The resources a deployment creates (a resource whose Condition does not hold is not created). */
export function deployedResources(
  deployment: Deployment,
): [string, { Type: string; Properties: Record<string, unknown> }][] {
  return Object.entries(deployment.template.Resources)
    .filter(([, resource]) => !resource.Condition || conditionHolds(resource.Condition, deployment))
    .map(([logicalId, resource]) => [
      logicalId,
      { Type: resource.Type, Properties: resource.Properties ?? {} },
    ]);
}
