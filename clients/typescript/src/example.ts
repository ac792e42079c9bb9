/**
 * The examples of docs/clients.md ("TypeScript"), compiled by `npm run
 * build` so that they keep matching the generated types; not run.
 */
import { readFile } from "node:fs/promises";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["ErrorModel"];

const partnerhub = createClient<paths>({
  baseUrl: process.env.PARTNERHUB_URL ?? "http://127.0.0.1:8080",
  headers: { Authorization: `Bearer ${process.env.PARTNERHUB_KEY}` },
});

/** A failed call: the HTTP status and the RFC 9457 problem. */
export class PartnerhubError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(`${status} ${problem?.title ?? ""}: ${problem?.detail ?? ""}`);
  }
}

export async function paymentStatus(partnerCode: string, reference: string): Promise<string> {
  const { data, error, response } = await partnerhub.GET(
    "/v1/tenants/{partnerCode}/environments/{env}/payments/{reference}",
    { params: { path: { partnerCode, env: "staging", reference } } },
  );
  if (error) {
    // error is the decoded application/problem+json body
    for (const e of error.errors ?? []) {
      console.error(`${e.location}: ${e.message}`); // which field, and why
    }
    throw new PartnerhubError(response.status, error);
  }
  return data.status; // "SUCCESSFUL", ...; data.amount is an exact decimal string
}

export async function allTenants(): Promise<components["schemas"]["Tenant"][]> {
  const tenants: components["schemas"]["Tenant"][] = [];
  let cursor: string | undefined;
  do {
    const { data, error, response } = await partnerhub.GET("/v1/tenants", {
      params: { query: cursor === undefined ? { limit: 200 } : { limit: 200, cursor } },
    });
    if (error) {
      throw new PartnerhubError(response.status, error);
    }
    tenants.push(...(data.items ?? []));
    cursor = data.nextCursor; // absent on the last page
  } while (cursor !== undefined);
  return tenants;
}

export async function uploadPlugin(partnerCode: string, file: string): Promise<number> {
  const { data, error, response } = await partnerhub.POST("/v1/tenants/{partnerCode}/plugins", {
    params: { path: { partnerCode }, query: { name: "wallet", version: "1.2.0", os: "linux", arch: "amd64" } },
    body: new Blob([await readFile(file)]),
    bodySerializer: (body) => body, // send the bytes, not JSON
    headers: { "Content-Type": "application/octet-stream" },
  });
  if (error) {
    throw new PartnerhubError(response.status, error);
  }
  return data.id; // activate it with PUT .../environments/{env}/plugin
}
