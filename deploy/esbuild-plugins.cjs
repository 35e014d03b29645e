// esbuild plugins for the Lambda bundles (serverless.yml custom.esbuild.plugins; `npm run bench` bundles
// with the same file). Each one keeps code out of a bundle that a deployed function never runs, so that
// cold starts stay short. None changes what a function does in Lambda.
const { readFile } = require("node:fs/promises");
const path = require("node:path");

/**
 * Zod registers its English messages itself; `export * as locales` still drags its ~40 other locales
 * (about 250 KB) into every bundle, because esbuild cannot shake a namespace re-export (colinhacks/zod#6050).
 */
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: path.dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * AWS SDK clients describe their shapes in one schemas file whose entries use computed keys
 * (`{ [_xN]: _II }`, `_xN` a string constant). esbuild must assume a computed key may have side effects, so it
 * keeps every shape: 540 KB of EC2 for three commands (aws/aws-sdk-js-v3#7607). Writing each constant's
 * string in place of the computed key lets esbuild drop the shapes no command uses.
 */
const sdkSchemasShakable = {
  name: "sdk-schemas-shakable",
  setup(build) {
    build.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const strings = new Map();
      for (const match of source.matchAll(/^const (_\w+) = ("[^"\\]*");$/gm)) strings.set(match[1], match[2]);
      return {
        contents: source.replace(/\[(_\w+)\]:/g, (key, name) => (strings.has(name) ? `${strings.get(name)}:` : key)),
        resolveDir: path.dirname(args.path),
        loader: "js",
      };
    });
  },
};

/**
 * Lambda always hands a function its role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, which is the first place the SDK's default chain looks. The rest of the chain (profiles,
 * SSO, web identity, instance metadata and the STS and SSO clients they use) never runs there, so a Lambda
 * bundle reads the environment only. Workstation runs (the CLI, pull mode) are not bundled and keep the full chain.
 */
const lambdaEnvironmentCredentials = {
  name: "lambda-environment-credentials",
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, (args) => ({
      path: args.path,
      namespace: "lambda-environment-credentials",
      pluginData: { resolveDir: args.resolveDir },
    }));
    build.onLoad({ filter: /.*/, namespace: "lambda-environment-credentials" }, (args) => ({
      contents: 'export { fromEnv as defaultProvider } from "@aws-sdk/credential-provider-env";',
      resolveDir: args.pluginData.resolveDir,
      loader: "js",
    }));
  },
};

/**
 * The SDK's protocols load event-stream support (`await import("@smithy/core/event-streams")`) only for an
 * operation with an event-stream member; esbuild still inlines it, about 12 KB in every bundle. No operation a
 * Phoenix function calls streams events, so a bundle gets a stand-in that says so if one ever did.
 */
const noEventStreams = {
  name: "no-event-streams",
  setup(build) {
    build.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, (args) => ({
      path: args.path,
      namespace: "no-event-streams",
    }));
    build.onLoad({ filter: /.*/, namespace: "no-event-streams" }, () => ({
      contents: [
        'const unused = () => { throw new Error("event streams are not bundled: no Phoenix function calls an operation that streams events (deploy/esbuild-plugins.cjs)"); };',
        "export const eventStreamSerdeProvider = unused;",
        "export class EventStreamSerde { constructor() { unused(); } }",
      ].join("\n"),
      loader: "js",
    }));
  },
};

module.exports = [zodEnglishOnly, sdkSchemasShakable, lambdaEnvironmentCredentials, noEventStreams];
