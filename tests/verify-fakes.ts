/**
 * Small fake Ollama, Qdrant and Chroma servers on 127.0.0.1 for the verify tests. They
 * answer with the shapes their projects document (cited in tools/lib/verify/ollama.ts and
 * vectorStore.ts) and keep real state, so a check passes only when the client drives them
 * the way the real server needs.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { randomUUID } from "crypto";

export interface FakeServer {
    readonly url: string;
    readonly requests: { method: string; path: string; headers: http.IncomingHttpHeaders; body: unknown }[];
    close(): Promise<void>;
}

type Handler = (method: string, path: string, body: unknown, headers: http.IncomingHttpHeaders) => { status: number; json?: unknown; text?: string };

export async function serve(handler: Handler): Promise<FakeServer> {
    const requests: FakeServer["requests"] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const raw = Buffer.concat(chunks).toString("utf8");
            const body: unknown = raw === "" ? undefined : JSON.parse(raw);
            const path = req.url ?? "/";
            requests.push({ method: req.method ?? "GET", path, headers: req.headers, body });
            const out = handler(req.method ?? "GET", path, body, req.headers);
            if (out.json !== undefined) {
                res.writeHead(out.status, { "content-type": "application/json" }).end(JSON.stringify(out.json));
            } else {
                res.writeHead(out.status, { "content-type": "text/plain" }).end(out.text ?? "");
            }
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
}

/** A port on 127.0.0.1 where nothing listens: a dead service. */
export async function deadUrl(): Promise<string> {
    const s = await serve(() => ({ status: 200 }));
    await s.close();
    return s.url;
}

export interface FakeModel {
    readonly name: string;
    /** an embedding-only model (nomic-embed-text): /api/embed, never /api/generate */
    readonly embedding?: boolean;
    /** bytes the loaded model takes (weights + KV cache) */
    readonly size: number;
    /** bytes of it in VRAM: below size is a partial or full CPU fallback */
    readonly sizeVram: number;
    /** eval_count / eval_duration of each generate */
    readonly evalCount: number;
    readonly evalDurationNs: number;
    readonly promptEvalCount?: number;
    readonly promptEvalDurationNs?: number;
}

const details = { parent_model: "", format: "gguf", family: "qwen2", families: ["qwen2"], parameter_size: "32.8B", quantization_level: "Q4_K_M" };

/** Ollama as docs/api.md shows it: /api/tags, /api/generate (load and non-streamed generate), /api/ps. */
export function fakeOllama(models: readonly FakeModel[]): Promise<FakeServer> {
    const loaded = new Set<string>();
    const find = (name: unknown) => models.find((m) => m.name === name);
    return serve((method, path, body) => {
        if (method === "GET" && path === "/api/tags") {
            return { status: 200, json: { models: models.map((m) => ({ name: m.name, model: m.name, modified_at: "2025-05-10T08:06:48.639712648-07:00", size: m.size, digest: "0a8c2669".repeat(8), details })) } };
        }
        if (method === "GET" && path === "/api/ps") {
            return { status: 200, json: { models: models.filter((m) => loaded.has(m.name)).map((m) => ({ name: m.name, model: m.name, size: m.size, digest: "2ae6f6dd".repeat(8), details, expires_at: "2024-06-04T14:38:31.83753-07:00", size_vram: m.sizeVram })) } };
        }
        if (method === "POST" && path === "/api/embed") {
            // docs/api.md "Generate Embeddings": { model, embeddings: [[...]], total_duration, load_duration, prompt_eval_count }
            const req = body as { model?: string; input?: unknown };
            const m = find(req.model);
            if (m === undefined) {
                return { status: 404, json: { error: `model '${String(req.model)}' not found` } };
            }
            loaded.add(m.name);
            return { status: 200, json: { model: m.name, embeddings: [[0.010071029, -0.0017594862, 0.05007221]], total_duration: 14143917, load_duration: 1019500, prompt_eval_count: 8 } };
        }
        if (method === "POST" && path === "/api/generate") {
            const req = body as { model?: string; prompt?: string; stream?: boolean };
            const m = find(req.model);
            if (m === undefined) {
                return { status: 404, json: { error: `model '${String(req.model)}' not found` } };
            }
            if (m.embedding === true) {
                // An embedding-only model refuses text generation (server/routes.go GenerateHandler).
                return { status: 400, json: { error: `"${m.name}" does not support generate` } };
            }
            loaded.add(m.name);
            if (req.prompt === undefined || req.prompt === "") {
                // "Load a model": an empty prompt loads it and answers done.
                return { status: 200, json: { model: m.name, created_at: "2023-12-18T19:52:07.071755Z", response: "", done: true } };
            }
            if (req.stream !== false) {
                return { status: 400, json: { error: "this fake answers only stream: false" } };
            }
            return {
                status: 200,
                json: {
                    model: m.name, created_at: "2023-08-04T19:22:45.499127Z", response: "A GPU runs many multiplications at once...", done: true, context: [1, 2, 3],
                    total_duration: 5043500667, load_duration: 5025959,
                    ...(m.promptEvalCount !== undefined ? { prompt_eval_count: m.promptEvalCount, prompt_eval_duration: m.promptEvalDurationNs } : {}),
                    eval_count: m.evalCount, eval_duration: m.evalDurationNs,
                },
            };
        }
        return { status: 404, text: "404 page not found" };
    });
}

const cosine = (a: number[], b: number[]) => {
    const dot = a.reduce((s, x, i) => s + x * b[i], 0);
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return dot / (norm(a) * norm(b));
};

/** Qdrant's REST API (openapi v1.14.x): { result, status, time } envelopes, api-key header. */
export function fakeQdrant(apiKey: string | undefined): Promise<FakeServer> {
    const collections = new Map<string, { size: number; points: Map<number | string, number[]> }>();
    const ok = (result: unknown) => ({ status: 200, json: { usage: null, time: 0.002, status: "ok", result } });
    const notFound = (name: string) => ({ status: 404, json: { status: { error: `Not found: Collection \`${name}\` doesn't exist!` }, time: 0.0001 } });
    return serve((method, path, body, headers) => {
        if (apiKey !== undefined && headers["api-key"] !== apiKey) {
            return { status: 401, text: headers["api-key"] === undefined ? "Must provide an API key or an Authorization bearer token" : "Invalid API key or JWT" };
        }
        const m = /^\/collections\/([^/?]+)(\/points(\/query)?)?(\?.*)?$/.exec(path);
        if (!m) {
            return { status: 404, text: "" };
        }
        const [, name, points, query] = m;
        const c = collections.get(name);
        if (!points && method === "PUT") {
            const size = (body as { vectors: { size: number } }).vectors.size;
            collections.set(name, { size, points: new Map() });
            return ok(true);
        }
        if (!points && method === "DELETE") {
            return ok(collections.delete(name));
        }
        if (c === undefined) {
            return notFound(name);
        }
        if (points && !query && method === "PUT") {
            for (const p of (body as { points: { id: number; vector: number[] }[] }).points) {
                if (p.vector.length !== c.size) {
                    return { status: 400, json: { status: { error: `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${p.vector.length}` }, time: 0 } };
                }
                c.points.set(p.id, p.vector);
            }
            return ok({ operation_id: 0, status: "completed" });
        }
        if (query && method === "POST") {
            const q = (body as { query: number[]; limit?: number });
            const scored = [...c.points.entries()].map(([id, v]) => ({ id, version: 0, score: cosine(q.query, v) })).sort((a, b) => b.score - a.score);
            return ok({ points: scored.slice(0, q.limit ?? 10) });
        }
        return { status: 405, text: "" };
    });
}

/** Chroma 1.x v2 API: collections under default_tenant/default_database, JSON-array embeddings. */
export function fakeChroma(): Promise<FakeServer> {
    const byName = new Map<string, { id: string; records: Map<string, number[]> }>();
    const base = "/api/v2/tenants/default_tenant/databases/default_database/collections";
    const error = (status: number, message: string) => ({ status, json: { error: status === 404 ? "NotFoundError" : "InvalidArgumentError", message } });
    return serve((method, path, body) => {
        if (method === "GET" && path === "/api/v2/heartbeat") {
            return { status: 200, json: { "nanosecond heartbeat": 1_700_000_000_000_000_000 } };
        }
        if (!path.startsWith(base)) {
            return error(404, "not found");
        }
        const rest = path.slice(base.length).split("/").filter(Boolean);
        if (rest.length === 0 && method === "POST") {
            const name = (body as { name: string }).name;
            if (byName.has(name)) {
                return error(409, `Collection [${name}] already exists`);
            }
            const id = randomUUID();
            byName.set(name, { id, records: new Map() });
            return { status: 200, json: { id, name, configuration_json: {}, metadata: null, dimension: null, tenant: "default_tenant", database: "default_database", log_position: 0, version: 0 } };
        }
        if (rest.length === 1 && method === "DELETE") {
            return byName.delete(rest[0]) ? { status: 200, json: {} } : error(404, `Collection [${rest[0]}] does not exists`);
        }
        const c = [...byName.values()].find((x) => x.id === rest[0]);
        if (c === undefined) {
            return error(404, `Collection [${rest[0]}] does not exists`);
        }
        if (rest[1] === "upsert" && method === "POST") {
            const b = body as { ids: string[]; embeddings: number[][] };
            b.ids.forEach((id, i) => c.records.set(id, b.embeddings[i]));
            return { status: 200, json: {} };
        }
        if (rest[1] === "query" && method === "POST") {
            const b = body as { query_embeddings: number[][]; n_results?: number };
            const l2 = (a: number[], v: number[]) => a.reduce((s, x, i) => s + (x - v[i]) ** 2, 0);
            const results = b.query_embeddings.map((q) => [...c.records.entries()].map(([id, v]) => ({ id, d: l2(q, v) })).sort((x, y) => x.d - y.d).slice(0, b.n_results ?? 10));
            return { status: 200, json: { ids: results.map((r) => r.map((x) => x.id)), distances: results.map((r) => r.map((x) => x.d)), embeddings: null, documents: null, uris: null, metadatas: null, include: ["distances"] } };
        }
        return error(404, "not found");
    });
}
