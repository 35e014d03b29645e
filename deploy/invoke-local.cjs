// A Serverless Framework plugin for `osls invoke local`: the functions are bundled as ES modules with the
// .mjs extension (so that Lambda loads them as ESM without a package.json in the artifact), but osls 4.3
// loads a local handler by require()-ing its path with no extension, then trying .cjs; only a .js file that
// turns out to be ESM is import()ed. So, once serverless-esbuild has bundled the function for the local
// invocation, this writes a one-line .js module next to the bundle that re-exports it. It changes nothing
// that is packaged or deployed. (Serverless v4 resolves .mjs itself: serverless/serverless#13740.)
const { existsSync, writeFileSync } = require("node:fs");
const { basename, dirname, join } = require("node:path");

class InvokeLocalEsm {
  constructor(serverless, options) {
    this.hooks = {
      "before:invoke:local:invoke": () => {
        const functionObject = serverless.service.getFunction(options.function);
        const handlerPath = functionObject.handler.slice(0, functionObject.handler.lastIndexOf("."));
        // serverless-esbuild (listed before this plugin) has made the build folder the service path.
        const bundle = join(serverless.config.servicePath, `${handlerPath}.mjs`);
        if (!existsSync(bundle)) return;
        // The build folder has no package.json of its own: the project's "type": "module" makes this ESM.
        writeFileSync(
          join(dirname(bundle), `${basename(handlerPath)}.js`),
          `export * from "./${basename(handlerPath)}.mjs";\n`,
        );
      },
    };
  }
}

module.exports = InvokeLocalEsm;
