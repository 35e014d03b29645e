// Builds and caches the packaged template the simulator deploys (`npm run package:sim`); the tests and
// `npm start` build it on first use anyway. Prints where it is and how long packaging took.
import { buildTemplate, templateCachePath, templateIsBuilt } from "./sim/template";

const started = performance.now();
if (templateIsBuilt() && !process.argv.includes("--force"))
  console.log(`already built: ${templateCachePath()}`);
else console.log(`built ${await buildTemplate()} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
