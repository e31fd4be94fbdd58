// lambkin's Node.js runtimes (/var/runtime/node-path.mjs): an `import` of a package searches NODE_PATH's
// node_modules folders, as Lambda's Node.js runtimes do since nodejs18.x (Node.js itself searches NODE_PATH
// for `require` only), so a function in /var/task imports the runtime's AWS SDK or a layer's package. Only
// a package Node.js finds nowhere from the importing file (its own node_modules first) is looked up there.
import { pathToFileURL } from "node:url";

const folders = (process.env.NODE_PATH ?? "")
  .split(":")
  .filter((folder) => folder.endsWith("/node_modules"))
  .map((folder) => pathToFileURL(`${folder}/`).href);

// "pkg" or "@scope/pkg/sub", not "./x", "/x", "#x" or "node:x"
const isPackage = (specifier) => !/^([./#]|[a-zA-Z][a-zA-Z\d+.-]*:)/.test(specifier);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isPackage(specifier)) throw error;
    for (const parentURL of folders) {
      try {
        // resolved as if imported from a file in the folder: Node.js looks in <folder>/node_modules, then
        // in <folder> itself
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (again) {
        if (again?.code !== "ERR_MODULE_NOT_FOUND") throw again;
      }
    }
    throw error;
  }
}
