/**
 * partnerhub's smoke test through the generated TypeScript client: every
 * call goes through openapi-fetch typed by schema.d.ts (generated from
 * openapi.yaml), so a path, parameter, body or answer that drifted from
 * the document fails to compile before it fails to run.
 *
 * Against PARTNERHUB_URL with the operator key PARTNERHUB_KEY it creates a
 * tenant, configures staging (Pay1st credentials, a product and bundle in
 * the catalog), uploads the wallet plugin (PARTNERHUB_SMOKE_PLUGIN, a
 * built plugins/examples/wallet) and activates it in staging, runs a test
 * transaction, and reads its payment back: paid and fulfilled once.
 *
 * Progress goes to stderr, one line per step; on success the last stdout
 * line is a JSON summary (tenant, payment reference) for the caller to
 * check server-side. Any failure exits 1 with the step, the HTTP status
 * and the problem's title and detail; bad usage exits 2. No key, secret
 * or signing key is ever printed.
 *
 * Optional: PARTNERHUB_SMOKE_TENANT (partnerCode; default smoke-<random>),
 * PARTNERHUB_SMOKE_PARTNER_ID (default random), PARTNERHUB_SMOKE_PLUGIN_OS
 * and PARTNERHUB_SMOKE_PLUGIN_ARCH (GOOS/GOARCH the plugin is built for;
 * default this machine's).
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["ErrorModel"];

/** A failed check or call: exit 1 with its message. */
class SmokeError extends Error {}

/** Bad usage (a missing variable): exit 2. */
class UsageError extends Error {}

/** Every request's own deadline; activation has a 45 s one server-side. */
const requestTimeoutMs = 120_000;
/** How long the test transaction may take in all, repeats included. */
const testTransactionDeadlineMs = 180_000;
const env = "staging";
const sku = "gems-100";
const playerId = 501;

function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new UsageError(`${name} is not set`);
  }
  return v;
}

function log(line: string): void {
  process.stderr.write(`smoke: ${line}\n`);
}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) {
    throw new SmokeError(what);
  }
}

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && ("title" in v || "detail" in v);
}

/** problemText renders an error answer: the RFC 9457 problem's title, detail and field errors, else the raw body. */
function problemText(error: unknown): string {
  if (!isProblem(error)) {
    return typeof error === "string" ? error.slice(0, 500) : JSON.stringify(error);
  }
  const parts = [error.title ?? "", error.detail ?? ""].filter((s) => s !== "");
  for (const e of error.errors ?? []) {
    parts.push(`${e.location ?? "?"}: ${e.message ?? ""}`);
  }
  return parts.join(": ");
}

/**
 * ok returns an answer's data, or throws naming the step, the status and
 * the problem. openapi-fetch answers either data (a 2xx) or error (the
 * decoded problem+json of any other status), never both.
 */
async function ok<D>(step: string, call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const { data, error, response } = await call;
  if (error !== undefined || data === undefined) {
    throw new SmokeError(`${step}: ${response.status} ${problemText(error)}`);
  }
  return data;
}

/** GOOS and GOARCH of this machine, for the plugin upload. */
function goPlatform(): { os: string; arch: string } {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm" }[process.arch as string] ?? process.arch;
  return {
    os: process.env.PARTNERHUB_SMOKE_PLUGIN_OS || os,
    arch: process.env.PARTNERHUB_SMOKE_PLUGIN_ARCH || arch,
  };
}

/** sameDecimal compares exact decimal strings ("100.50" and "100.5" are equal) without floats. */
function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  return norm(a) === norm(b);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const baseUrl = required("PARTNERHUB_URL").replace(/\/+$/, "");
  const key = required("PARTNERHUB_KEY");
  const pluginPath = required("PARTNERHUB_SMOKE_PLUGIN");
  const partnerCode = process.env.PARTNERHUB_SMOKE_TENANT || `smoke-${randomBytes(4).toString("hex")}`;
  const partnerId = Number(process.env.PARTNERHUB_SMOKE_PARTNER_ID || randomInt(100_000, 1_000_000_000));
  if (!Number.isSafeInteger(partnerId) || partnerId <= 0) {
    throw new UsageError("PARTNERHUB_SMOKE_PARTNER_ID must be a positive integer");
  }

  const api = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${key}` },
    fetch: (request) => globalThis.fetch(request, { signal: AbortSignal.timeout(requestTimeoutMs) }),
  });
  const tenantPath = { partnerCode };
  const envPath = { partnerCode, env };

  // 1. The tenant; its staging Signing Key is answered once, here.
  const tenant = await ok(
    "create-tenant",
    api.POST("/v1/tenants", { body: { partnerCode, partnerId, name: `Smoke test ${partnerCode}` } }),
  );
  check(tenant.partnerCode === partnerCode && tenant.status === "active", `create-tenant answered ${tenant.partnerCode} ${tenant.status}`);
  check(tenant.stagingSigningKey.length > 0, "create-tenant answered no staging Signing Key");
  log(`created tenant ${partnerCode} (partnerId ${partnerId})`);

  // Errors are problems, typed by the document: the same tenant again conflicts.
  const again = await api.POST("/v1/tenants", { body: { partnerCode, partnerId, name: "again" } });
  check(again.error !== undefined && again.response.status === 409, `create-tenant twice: want 409, got ${again.response.status}`);
  check(again.response.headers.get("Content-Type")?.startsWith("application/problem+json") === true,
    `create-tenant twice: want application/problem+json, got ${again.response.headers.get("Content-Type")}`);
  check(again.error.status === 409 && (again.error.title ?? "") !== "", `create-tenant twice: problem ${JSON.stringify(again.error)}`);
  log(`creating it again is refused: 409 ${problemText(again.error)}`);

  // Lists are paged: follow nextCursor until it is absent.
  let found = false;
  let pages = 0;
  let cursor: string | undefined;
  do {
    const page = await ok("list-tenants", api.GET("/v1/tenants", { params: { query: cursor === undefined ? { limit: 1 } : { limit: 1, cursor } } }));
    pages++;
    found ||= (page.items ?? []).some((t) => t.partnerCode === partnerCode);
    cursor = page.nextCursor;
    check(pages <= 10_000, "list-tenants: more than 10000 pages");
  } while (cursor !== undefined);
  check(found, `list-tenants: ${partnerCode} is on none of ${pages} pages`);
  log(`list-tenants: found it, ${pages} page(s) of 1`);

  // 2. Staging's Pay1st credentials (the Signing Key is set already).
  const creds = await ok(
    "set-environment-credentials",
    api.PUT("/v1/tenants/{partnerCode}/environments/{env}/credentials", {
      params: { path: envPath },
      body: { apiKey: `smoke-api-key-${randomBytes(8).toString("hex")}`, apiSecret: randomBytes(24).toString("hex") },
    }),
  );
  check(creds.apiKeySet && creds.apiSecretSet && creds.signingKeySet, `staging credentials incomplete: ${JSON.stringify(creds)}`);
  log("set staging credentials (API key, API secret; Signing Key from creation)");

  // 3. The catalog: a product credited by the plugin, one bundle sold in NG.
  const product = await ok(
    "create-product",
    api.POST("/v1/tenants/{partnerCode}/environments/{env}/products", {
      params: { path: envPath },
      body: { name: "Gems", countries: ["NG"], fulfilmentMethod: "plugin" },
    }),
  );
  const bundle = await ok(
    "create-bundle",
    api.POST("/v1/tenants/{partnerCode}/environments/{env}/bundles", {
      params: { path: envPath },
      body: {
        productId: product.id,
        sku,
        name: "100 Gems",
        quantity: "100",
        digitalCurrency: { code: "GEM", name: "Gems" },
        prices: [{ countryCode: "NG", currencyCode: "NGN", amount: "100.50" }],
      },
    }),
  );
  check(bundle.sku === sku && bundle.environment === env, `create-bundle answered ${bundle.sku} in ${bundle.environment}`);
  log(`catalog: product ${product.id}, bundle ${bundle.id} (${sku}, 100.50 NGN in NG)`);

  // 4. The wallet plugin: uploaded as raw bytes, then activated in staging.
  const bytes = await readFile(pluginPath);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const { os, arch } = goPlatform();
  const plugin = await ok(
    "upload-plugin",
    api.POST("/v1/tenants/{partnerCode}/plugins", {
      params: { path: tenantPath, query: { name: "wallet", version: "1.0.0", os, arch } },
      body: new Blob([bytes]),
      bodySerializer: (body) => body, // the bytes as they are, not JSON
      headers: { "Content-Type": "application/octet-stream" },
    }),
  );
  check(plugin.sha256 === sha256 && plugin.size === bytes.length, `upload-plugin stored ${plugin.size} bytes, sha256 ${plugin.sha256}; sent ${bytes.length}, ${sha256}`);
  log(`uploaded plugin ${plugin.id} (wallet 1.0.0, ${os}/${arch}, ${bytes.length} bytes)`);
  const active = await ok(
    "activate-plugin",
    api.PUT("/v1/tenants/{partnerCode}/environments/{env}/plugin", {
      params: { path: envPath },
      body: { pluginId: plugin.id },
    }),
  );
  check(active.plugin.id === plugin.id && active.environment === env, `activate-plugin: plugin ${active.plugin.id} active in ${active.environment}`);
  log(`plugin ${plugin.id} active in staging (protocol ${active.description?.protocolVersion ?? "?"})`);

  // 5. A test transaction: the same request again resumes it until it is done.
  const partnerReference = `smoke-${partnerCode}`;
  const deadline = Date.now() + testTransactionDeadlineMs;
  let tx = await ok(
    "create-test-transaction",
    api.POST("/v1/tenants/{partnerCode}/environments/{env}/test-transactions", {
      params: { path: envPath },
      body: { partnerReference, sku, playerId },
    }),
  );
  while ((tx.status === "running" || tx.status === "pending") && Date.now() < deadline) {
    log(`test transaction ${tx.status}; asking again`);
    await sleep(1000);
    tx = await ok(
      "create-test-transaction (again)",
      api.POST("/v1/tenants/{partnerCode}/environments/{env}/test-transactions", {
        params: { path: envPath },
        body: { partnerReference, sku, playerId },
      }),
    );
  }
  const steps = tx.steps.map((s) => `${s.name}=${s.result}${s.result === "ok" ? "" : ` (${s.detail})`}`).join(", ");
  check(tx.status === "succeeded", `test transaction ${tx.status}: ${steps}`);
  const reference = tx.reference;
  check(reference !== undefined && reference !== "", "the test transaction succeeded without a payment reference");
  log(`test transaction ${partnerReference} succeeded: ${steps}`);

  // 6. Its payment, read back: paid, credited once, reported to Pay1st.
  const pay = await ok(
    "get-payment",
    api.GET("/v1/tenants/{partnerCode}/environments/{env}/payments/{reference}", {
      params: { path: { ...envPath, reference } },
    }),
  );
  check(pay.reference === reference && pay.partnerReference === partnerReference,
    `get-payment answered ${pay.reference} (${pay.partnerReference})`);
  check(pay.status === "SUCCESSFUL", `payment ${reference} is ${pay.status}, not SUCCESSFUL`);
  check(pay.currencyCode === "NGN" && sameDecimal(pay.amount, "100.50"), `payment ${reference} is ${pay.amount} ${pay.currencyCode}, not 100.50 NGN`);
  const fulfilments = pay.fulfilments ?? [];
  check(fulfilments.length === 1, `payment ${reference} has ${fulfilments.length} fulfilments, want 1: ${JSON.stringify(fulfilments)}`);
  const [f] = fulfilments;
  check(f !== undefined && f.kind === "fulfil" && f.state === "succeeded" && f.attempts === 1,
    `payment ${reference}: fulfilment ${JSON.stringify(f)}, want fulfil succeeded in 1 attempt`);
  check(pay.report?.state === "succeeded", `payment ${reference}: fulfilment report ${JSON.stringify(pay.report)}, want succeeded`);
  log(`payment ${reference}: ${pay.status}, fulfilled once, reported`);

  process.stdout.write(`${JSON.stringify({ partnerCode, partnerId, pluginId: plugin.id, partnerReference, reference })}\n`);
}

main().then(
  () => log("ok"),
  (err: unknown) => {
    if (err instanceof UsageError) {
      log(`usage: ${err.message} (needs PARTNERHUB_URL, PARTNERHUB_KEY, PARTNERHUB_SMOKE_PLUGIN)`);
      process.exit(2);
    }
    if (err instanceof SmokeError) {
      log(`FAIL: ${err.message}`);
    } else {
      // A transport error (fetch failed: the server was not reached, or a
      // deadline passed) or a bug: the cause says which.
      const cause = err instanceof Error && err.cause !== undefined ? ` (${String(err.cause)})` : "";
      log(`FAIL: ${err instanceof Error ? err.message : String(err)}${cause}`);
    }
    process.exit(1);
  },
);
