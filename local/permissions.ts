// Which AWS actions each function can call, read from its own bundle: esbuild bundles the handler as it
// would for Lambda (tree-shaken, so only the code the handler reaches is kept), with the AWS SDK left out,
// and every `new XCommand(...)` that survives, with the client it comes from, is an action. The IAM test
// compares this with each function's role; `npm run permissions` prints it (deploy/permissions.ts).
import { build } from "esbuild";
import { REPO_ROOT, readStack } from "./stack";

/** IAM service prefix of each SDK client package. */
const SERVICE_PREFIX: Record<string, string> = {
  "client-auto-scaling": "autoscaling",
  "client-ec2": "ec2",
  "client-elastic-load-balancing-v2": "elasticloadbalancing",
  "client-cloudwatch": "cloudwatch",
  "client-eventbridge": "events",
  "client-sfn": "states",
  "client-dynamodb": "dynamodb",
  "client-ssm": "ssm",
  "client-imagebuilder": "imagebuilder",
  "client-lambda": "lambda",
  "client-iam": "iam",
  "client-kms": "kms",
};

/**
 * Actions of libraries that send commands from inside node_modules (bundled, so not seen as imports):
 * Powertools idempotency keeps its records with these DynamoDB calls.
 */
const LIBRARY_ACTIONS: Record<string, string[]> = {
  "@aws-lambda-powertools/idempotency": [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
  ],
};

/**
 * Request parameters that make AWS authorize more than the call's own action: tag-on-create
 * (TagSpecifications) and pointing a group at a launch template (LaunchTemplate).
 */
const SHAPING_PARAMETERS = ["TagSpecifications", "LaunchTemplate"];

/**
 * The AWS actions a handler file can call, as IAM names ("autoscaling:SetDesiredCapacity"), plus the call
 * shapes AWS authorizes further ("autoscaling:UpdateAutoScalingGroup[LaunchTemplate]").
 */
export async function calledActions(handlerFile: string): Promise<string[]> {
  const result = await build({
    entryPoints: [handlerFile],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    treeShaking: true,
    metafile: true,
    external: ["@aws-sdk/*", "@aws-lambda-powertools/*", "@middy/*"],
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.text ?? "";
  const actions = new Set<string>();
  // import { A as B, C } from "@aws-sdk/client-x";
  for (const match of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/(client-[\w-]+)"/g)) {
    const prefix = SERVICE_PREFIX[match[2] as string];
    if (!prefix) continue;
    for (const specifier of (match[1] as string).split(",")) {
      const [imported, local = imported] = specifier.trim().split(/\s+as\s+/);
      const name = imported?.trim() ?? "";
      if (!name.endsWith("Command") || !local) continue;
      // Only commands actually constructed (a type-only or unused import is not a call).
      if (!new RegExp(`new ${local.trim()}\\(`).test(code)) continue;
      const action = `${prefix}:${name.slice(0, -"Command".length)}`;
      actions.add(action);
      // A call built with a parameter that AWS authorizes further (deploy/permissions.ts IMPLIED) is a call
      // shape of its own: "action[Parameter]".
      for (const parameter of SHAPING_PARAMETERS) {
        if (new RegExp(`new ${local.trim()}\\(\\{(?:[^}]|\\}(?!\\)))*\\b${parameter}:`).test(code))
          actions.add(`${action}[${parameter}]`);
      }
    }
  }
  for (const [library, libraryActions] of Object.entries(LIBRARY_ACTIONS)) {
    if (code.includes(`from "${library}`)) for (const action of libraryActions) actions.add(action);
  }
  return [...actions].sort();
}

/** Every function of serverless.yml with the actions it can call. */
export async function actionsByFunction(): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  for (const fn of readStack().functions.values()) {
    result.set(fn.key, await calledActions(fn.module));
  }
  return result;
}
