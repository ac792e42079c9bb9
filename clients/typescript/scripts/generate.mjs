// Generates src/schema.d.ts, the TypeScript types of partnerhub's API, from
// ../../openapi.yaml with openapi-typescript.
//
//   node scripts/generate.mjs           write src/schema.d.ts (npm run generate)
//   node scripts/generate.mjs --check   exit 1 when src/schema.d.ts is stale (npm run check)
//   node scripts/generate.mjs FILE      write FILE instead (the Go staleness test)
//
// It is the openapi-typescript CLI's output with one transform: a binary
// string (`format: binary`, or OpenAPI 3.1's `contentMediaType:
// application/octet-stream`; the plugin upload's body) is a Blob, not a
// string, so the bytes are passed as they are and type-check. Reads only
// local files: runs offline once `npm ci` has.
import { readFileSync, writeFileSync } from "node:fs";
import openapiTS, { COMMENT_HEADER, astToString } from "openapi-typescript";
import ts from "typescript";

const here = new URL("../", import.meta.url);
const input = new URL("../../openapi.yaml", here);
const target = new URL("src/schema.d.ts", here);

const args = process.argv.slice(2);
const unknown = args.filter((a) => a.startsWith("-") && a !== "--check");
if (unknown.length > 0 || args.length > 1) {
  console.error(
    `usage: node scripts/generate.mjs [--check | FILE]${unknown.length > 0 ? ` (unknown option ${unknown.join(", ")})` : ""}`,
  );
  process.exit(2);
}
const arg = args[0];

const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));

const ast = await openapiTS(input, {
  transform(schema) {
    if (schema.format === "binary" || schema.contentMediaType === "application/octet-stream") {
      return BLOB;
    }
    return undefined;
  },
});
const generated = `${COMMENT_HEADER}${astToString(ast)}`;

if (arg === "--check") {
  if (readFileSync(target, "utf8") !== generated) {
    console.error("src/schema.d.ts is stale: openapi.yaml changed. Run `npm run generate` in clients/typescript.");
    process.exit(1);
  }
} else {
  writeFileSync(arg ?? target, generated, "utf8");
}
