/**
 * Ollama checks: the configured models are present, each one loads entirely into VRAM,
 * and each generates at least as fast as its target.
 *
 * API shapes from ollama/ollama `docs/api.md` (and `api/types.go`):
 * - `GET /api/tags` -> `{ models: [{ name, model, size, ... }] }` ("List Local Models");
 * - `POST /api/generate` with no prompt loads a model -> `{ model, response: "", done: true }`
 *   ("Load a model");
 * - `GET /api/ps` -> `{ models: [{ name, model, size, size_vram, ... }] }` ("List Running
 *   Models"): `size_vram` below `size` means part of the model runs on the CPU;
 * - `POST /api/generate` with `stream: false` -> one object whose durations are in
 *   nanoseconds: `eval_count / eval_duration * 10^9` is the generation speed (the docs'
 *   own formula); `prompt_eval_count / prompt_eval_duration` the prompt speed. Both counts
 *   are `omitempty` in `api.Metrics`, so an absent count means "not measured".
 */
import { DEFAULT_TARGET_TOKENS_PER_SECOND } from "../../../config/schema";
import { isRecord } from "../../../graph";
import { describeStatus, NetworkError, Reachability, request } from "./http";
import type { Check } from "./report";

export interface ModelTarget {
    readonly name: string;
    /** generation tokens/s the model must reach (config `models[].targetTokensPerSecond`) */
    readonly targetTokensPerSecond?: number;
    /** an embedding model (an app's `embeddingModel`): loaded through /api/embed, no generation benchmark */
    readonly embedding?: boolean;
}

export interface OllamaCheckOptions {
    readonly benchmark: boolean;
    /** benchmark runs per model (the median is compared with the target) */
    readonly runs?: number;
    /** tokens to generate per run */
    readonly numPredict?: number;
    readonly progress: (line: string) => void;
    readonly reach?: Reachability;
}

/** The fixed benchmark prompt: long enough to measure prompt speed, same every time. */
const BENCHMARK_PROMPT = "Explain in about 150 words how a graphics card speeds up the inference of a large language model, "
    + "and why the whole model should fit in the card's memory. Answer in plain prose.";

const GiB = 1024 ** 3;
const LOAD_TIMEOUT_MS = 600_000; // a 20 GB model read from disk into VRAM
const RUN_TIMEOUT_MS = 300_000;

export function tokensPerSecond(count: unknown, durationNs: unknown): number | null {
    return typeof count === "number" && typeof durationNs === "number" && count > 0 && durationNs > 0 ? count / durationNs * 1e9 : null;
}

export function median(values: readonly number[]): number | null {
    if (values.length === 0) {
        return null;
    }
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n: number | null, digits = 1): string => (n === null ? "n/a" : n.toFixed(digits));

interface ModelEntry { readonly name?: unknown; readonly model?: unknown; readonly size?: unknown; readonly size_vram?: unknown }

function modelEntries(json: unknown): ModelEntry[] {
    return isRecord(json) && Array.isArray(json.models) ? json.models.filter(isRecord) : [];
}

const sameModel = (entry: ModelEntry, name: string) => entry.name === name || entry.model === name;

export async function checkOllama(url: string, models: readonly ModelTarget[], options: OllamaCheckOptions): Promise<Check[]> {
    const base = url.replace(/\/+$/, "");
    const checks: Check[] = [];
    const { progress, reach } = options;

    progress(`ollama: listing models at ${base}`);
    let present: ModelEntry[];
    try {
        const tags = await request("GET", `${base}/api/tags`, {}, reach);
        if (tags.status !== 200) {
            return [{ group: "ollama", name: "api", status: "fail", detail: `GET /api/tags: ${describeStatus(tags)}` }];
        }
        present = modelEntries(tags.json);
    } catch (err) {
        return [{ group: "ollama", name: "api", status: "fail", detail: `Ollama does not answer: ${(err as Error).message}` }];
    }

    for (const model of models) {
        if (!present.some((e) => sameModel(e, model.name))) {
            checks.push({ group: "ollama", name: model.name, status: "fail", detail: `not pulled: /api/tags lists ${present.map((e) => String(e.name)).join(", ") || "no models"}` });
            continue;
        }
        checks.push({ group: "ollama", name: model.name, status: "pass", detail: "present" });
        checks.push(await checkVram(base, model, progress, reach));
        if (model.embedding === true) {
            checks.push({ group: "benchmark", name: model.name, status: "skip", detail: "embedding model: no generation benchmark" });
        } else if (options.benchmark) {
            checks.push(await benchmark(base, model, options));
        } else {
            checks.push({ group: "benchmark", name: model.name, status: "skip", detail: "--skip-benchmark" });
        }
    }
    return checks;
}

/**
 * Loads the model and reads /api/ps: all of it must sit in VRAM. A generation model loads
 * with an empty prompt (docs/api.md "Load a model"); an embedding model refuses generate,
 * so it loads by embedding one word (/api/embed).
 */
async function checkVram(base: string, target: ModelTarget, progress: (line: string) => void, reach?: Reachability): Promise<Check> {
    const model = target.name;
    progress(`ollama: loading ${model} (a large model takes a minute)`);
    try {
        const load = target.embedding === true
            ? await request("POST", `${base}/api/embed`, { body: { model, input: "ping" }, timeoutMs: LOAD_TIMEOUT_MS }, reach)
            : await request("POST", `${base}/api/generate`, { body: { model, stream: false }, timeoutMs: LOAD_TIMEOUT_MS }, reach);
        if (load.status !== 200) {
            return { group: "ollama", name: `${model} in VRAM`, status: "fail", detail: `loading failed: ${describeStatus(load)}` };
        }
        const ps = await request("GET", `${base}/api/ps`, {}, reach);
        const entry = modelEntries(ps.json).find((e) => sameModel(e, model));
        if (ps.status !== 200 || entry === undefined) {
            return { group: "ollama", name: `${model} in VRAM`, status: "fail", detail: ps.status !== 200 ? `GET /api/ps: ${describeStatus(ps)}` : "not loaded after the load request (/api/ps does not list it)" };
        }
        const size = typeof entry.size === "number" ? entry.size : 0;
        const vram = typeof entry.size_vram === "number" ? entry.size_vram : 0;
        const figures = { sizeBytes: size, sizeVramBytes: vram };
        if (size > 0 && vram >= size) {
            return { group: "ollama", name: `${model} in VRAM`, status: "pass", detail: `${fmt(size / GiB)} GiB, all in VRAM`, figures };
        }
        const onCpu = size > 0 ? Math.round((size - vram) / size * 100) : 100;
        return {
            group: "ollama", name: `${model} in VRAM`, status: "fail", figures,
            detail: vram === 0
                ? `CPU fallback: 0 of ${fmt(size / GiB)} GiB in VRAM (is the GPU visible to the Ollama container?)`
                : `partly on CPU: ${fmt(vram / GiB)} of ${fmt(size / GiB)} GiB in VRAM, ${onCpu}% on the CPU (model + KV cache too large for the card)`,
        };
    } catch (err) {
        return { group: "ollama", name: `${model} in VRAM`, status: "fail", detail: err instanceof NetworkError ? `no answer: ${err.message}` : String(err) };
    }
}

async function benchmark(base: string, model: ModelTarget, options: OllamaCheckOptions): Promise<Check> {
    const runs = options.runs ?? 3;
    const target = model.targetTokensPerSecond ?? DEFAULT_TARGET_TOKENS_PER_SECOND;
    const generation: number[] = [];
    const prompt: number[] = [];
    for (let run = 1; run <= runs; run++) {
        options.progress(`benchmark: ${model.name} run ${run}/${runs}`);
        try {
            const r = await request("POST", `${base}/api/generate`, {
                // The run number leads the prompt so Ollama's prompt cache cannot skip the prompt evaluation.
                body: { model: model.name, prompt: `Run ${run}. ${BENCHMARK_PROMPT}`, stream: false, options: { temperature: 0, seed: 42, num_predict: options.numPredict ?? 256 } },
                timeoutMs: RUN_TIMEOUT_MS,
            }, options.reach);
            if (r.status !== 200 || !isRecord(r.json)) {
                return { group: "benchmark", name: model.name, status: "fail", detail: `run ${run}: ${describeStatus(r)}` };
            }
            const gen = tokensPerSecond(r.json.eval_count, r.json.eval_duration);
            const pre = tokensPerSecond(r.json.prompt_eval_count, r.json.prompt_eval_duration);
            if (gen === null) {
                return { group: "benchmark", name: model.name, status: "fail", detail: `run ${run}: the response has no eval_count/eval_duration` };
            }
            generation.push(gen);
            if (pre !== null) {
                prompt.push(pre);
            }
        } catch (err) {
            return { group: "benchmark", name: model.name, status: "fail", detail: `run ${run}: ${(err as Error).message}` };
        }
    }
    const gen = median(generation) ?? 0;
    const pre = median(prompt);
    const figures = { generationTokensPerSecond: round(gen), promptTokensPerSecond: pre === null ? null : round(pre), targetTokensPerSecond: target, runs };
    const said = `generation ${fmt(gen)} tokens/s (median of ${runs}), prompt ${fmt(pre, 0)} tokens/s, target ${target}`;
    return gen >= target
        ? { group: "benchmark", name: model.name, status: "pass", detail: said, figures }
        : { group: "benchmark", name: model.name, status: "fail", detail: `missed target: ${said}`, figures };
}

const round = (n: number): number => Math.round(n * 10) / 10;
