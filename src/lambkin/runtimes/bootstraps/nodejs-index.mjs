// lambkin's Node.js runtime entry (/var/runtime/index.mjs): aws-lambda-ric runs the handler named by the first
// argument from the function's directory, as its own bin/index.mjs does, without that script's extra log line.
// Before it loads an ES module handler, `import` learns to search NODE_PATH as on Lambda (node-path.mjs); a
// CommonJS handler's `require` searches it by itself, and skips the loader thread the hook costs (~30 ms).
import { existsSync, readFileSync } from "node:fs";
import { register } from "node:module";
import { dirname } from "node:path";
import { run } from "/var/runtime/node_modules/aws-lambda-ric/dist/index.mjs";

// The file aws-lambda-ric loads for `module` (it tries .js, .mjs, .cjs in that order) is an ES module.
function esModule(root, module) {
  const base = `${root}/${module}`;
  if (existsSync(`${base}.js`)) {
    for (let folder = dirname(base); ; folder = dirname(folder)) {
      const manifest = `${folder}/package.json`;
      if (existsSync(manifest)) {
        try {
          return JSON.parse(readFileSync(manifest, "utf8")).type === "module";
        } catch {
          return false; // aws-lambda-ric reports the broken package.json
        }
      }
      if (folder === "/") return false;
    }
  }
  return existsSync(`${base}.mjs`);
}

const handler = process.argv[2];
if (esModule(process.cwd(), handler.slice(0, handler.lastIndexOf(".")))) {
  register("./node-path.mjs", import.meta.url);
}
await run(process.cwd(), handler);
