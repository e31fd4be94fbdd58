// lambkin's Node.js runtime entry (/var/runtime/index.mjs): aws-lambda-ric runs the handler named by the first
// argument from the function's directory, as its own bin/index.mjs does, without that script's extra log line.
// Before it loads the handler, `import` learns to search NODE_PATH as on Lambda (node-path.mjs).
import { register } from "node:module";
import { run } from "/var/runtime/node_modules/aws-lambda-ric/dist/index.mjs";

register("./node-path.mjs", import.meta.url);
await run(process.cwd(), process.argv[2]);
