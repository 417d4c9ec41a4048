/**
 * Vector-store round trip on a scratch collection: create, upsert two points, query the
 * nearest, delete. The collection is deleted even when a step fails.
 *
 * Qdrant (qdrant/qdrant `docs/redoc/v1.14.x/openapi.json`): every answer is
 * `{ result, status: "ok", time }`; `PUT /collections/{name}` (`CreateCollection`, result
 * `true`), `PUT /collections/{name}/points?wait=true` (`PointsList`, result `UpdateResult`
 * with `status: "completed"`), `POST /collections/{name}/points/query` (`QueryRequest`,
 * result `{ points: [ScoredPoint] }`), `DELETE /collections/{name}`. The API key goes in
 * the `api-key` header (the spec's security scheme; `lib/api/src/lib.rs`
 * HTTP_HEADER_API_KEY); without it Qdrant answers 401 "Must provide an API key or an
 * Authorization bearer token" (`src/common/auth/mod.rs`).
 *
 * Chroma 1.x, v2 API (chroma-core/chroma 1.0.15 `rust/frontend/src/server.rs`,
 * `rust/types/src/api_types.rs`): `POST /api/v2/tenants/{t}/databases/{d}/collections`
 * (`{ name }` -> `Collection` with `id`), `POST .../collections/{id}/upsert` (`{ ids,
 * embeddings, documents }` -> `{}`), `POST .../collections/{id}/query`
 * (`{ query_embeddings, n_results, include }` -> `{ ids: [[...]], distances: [[...]] }`),
 * `DELETE .../collections/{name}` (the handler binds the path segment as the collection
 * name). The default tenant and database are `default_tenant` / `default_database`
 * (`chromadb/config.py`). Errors are `{ error, message }`.
 */
import { randomBytes } from "crypto";
import type { VerifyTargets } from "../verifyTargets";
import { isRecord, text } from "../../../graph";
import { describeStatus, HttpResponse, Reachability, request } from "./http";
import type { Check } from "./report";

/** Two unit vectors far apart; the query is close to the first. */
const VECTORS = { near: [0.9, 0.1, 0.0, 0.1], far: [0.0, 0.1, 0.9, 0.1], query: [0.8, 0.2, 0.0, 0.1] };

const SCRATCH_PREFIX = "ai-dualstack-verify-";

class StepFailed extends Error {}

function expectOk(step: string, r: HttpResponse, ok: (json: unknown) => boolean): void {
    if (r.status !== 200 || !ok(r.json)) {
        throw new StepFailed(`${step}: ${describeStatus(r)}`);
    }
}

/** Runs the steps on the scratch collection, then deletes it whatever happened; the first failure wins. */
async function thenDelete(collection: string, steps: () => Promise<void>, del: () => Promise<HttpResponse>): Promise<void> {
    let failure: Error | undefined;
    try {
        await steps();
    } catch (err) {
        failure = err instanceof Error ? err : new Error(text(err));
    }
    const deleted = await del().catch((err: Error) => err);
    if (failure !== undefined) {
        throw failure;
    }
    if (deleted instanceof Error || deleted.status !== 200) {
        throw new StepFailed(`delete: ${deleted instanceof Error ? deleted.message : describeStatus(deleted)} (remove collection ${collection} by hand)`);
    }
}

export async function checkVectorStore(store: VerifyTargets["vectorStore"], progress: (line: string) => void, reach?: Reachability): Promise<Check> {
    const collection = `${SCRATCH_PREFIX}${randomBytes(4).toString("hex")}`;
    const name = `${store.kind} round trip`;
    progress(`vector store: ${store.kind} round trip on scratch collection ${collection}`);
    try {
        const steps = store.kind === "qdrant"
            ? await qdrantRoundTrip(store.url, store.apiKey, collection, reach)
            : await chromaRoundTrip(store.url, collection, reach);
        return { group: "vector store", name, status: "pass", detail: steps };
    } catch (err) {
        return { group: "vector store", name, status: "fail", detail: err instanceof StepFailed ? err.message : (err as Error).message };
    }
}

async function qdrantRoundTrip(url: string, apiKey: string | undefined, collection: string, reach?: Reachability): Promise<string> {
    const base = `${url.replace(/\/+$/, "")}/collections/${collection}`;
    const headers = apiKey !== undefined ? { "api-key": apiKey } : undefined;
    const okResult = (want: (result: unknown) => boolean) => (json: unknown) => isRecord(json) && json.status === "ok" && want(json.result);
    const create = await request("PUT", base, { headers, body: { vectors: { size: VECTORS.near.length, distance: "Cosine" } } }, reach);
    if (create.status === 401 || create.status === 403) {
        throw new StepFailed(`create: ${describeStatus(create)} (${apiKey === undefined ? "no API key in the stack outputs" : "the API key was refused"})`);
    }
    expectOk("create", create, okResult((r) => r === true));
    await thenDelete(collection, async () => {
        const upsert = await request("PUT", `${base}/points?wait=true`, {
            headers,
            body: { points: [{ id: 1, vector: VECTORS.near, payload: { probe: "near" } }, { id: 2, vector: VECTORS.far, payload: { probe: "far" } }] },
        }, reach);
        expectOk("upsert", upsert, okResult((r) => isRecord(r) && r.status === "completed"));
        const query = await request("POST", `${base}/points/query`, { headers, body: { query: VECTORS.query, limit: 1, with_payload: true } }, reach);
        expectOk("query", query, okResult((r) => isRecord(r) && Array.isArray(r.points)));
        const points = (query.json as { result: { points: unknown[] } }).result.points;
        const top = isRecord(points[0]) ? points[0].id : undefined;
        if (top !== 1) {
            throw new StepFailed(`query: expected point 1 nearest, got ${JSON.stringify(top)}`);
        }
    }, () => request("DELETE", base, { headers }, reach));
    return `create, upsert, query, delete: ok${apiKey !== undefined ? " (with the API key)" : ""}`;
}

async function chromaRoundTrip(url: string, collection: string, reach?: Reachability): Promise<string> {
    const base = `${url.replace(/\/+$/, "")}/api/v2/tenants/default_tenant/databases/default_database/collections`;
    const create = await request("POST", base, { body: { name: collection, get_or_create: false } }, reach);
    expectOk("create", create, (j) => isRecord(j) && typeof j.id === "string");
    const id = (create.json as { id: string }).id;
    await thenDelete(collection, async () => {
        const upsert = await request("POST", `${base}/${id}/upsert`, {
            body: { ids: ["near", "far"], embeddings: [VECTORS.near, VECTORS.far], documents: ["near", "far"] },
        }, reach);
        expectOk("upsert", upsert, isRecord);
        const query = await request("POST", `${base}/${id}/query`, { body: { query_embeddings: [VECTORS.query], n_results: 1, include: ["distances"] } }, reach);
        expectOk("query", query, (j) => isRecord(j) && Array.isArray(j.ids));
        const ids = (query.json as { ids: unknown[] }).ids;
        const top: unknown = Array.isArray(ids[0]) ? ids[0][0] : undefined;
        if (top !== "near") {
            throw new StepFailed(`query: expected "near" nearest, got ${JSON.stringify(top)}`);
        }
    }, () => request("DELETE", `${base}/${collection}`, {}, reach));
    return "create, upsert, query, delete: ok";
}
