/**
 * `npm run verify` end to end: the real tool against fake Ollama, Qdrant and Chroma servers
 * on 127.0.0.1 (documented response shapes, real state), a fake stack reader, and a fake
 * command runner standing in for ssh. Plus the probe script run for real.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import type { AddressInfo } from "net";
import { PORTS } from "../components/catalog";
import { runVerify, VerifyDeps } from "../tools/verify";
import type { ReaderBackend } from "../tools/lib/automation";
import type { CommandRunner, RunOptions } from "../tools/lib/runner";
import { knownHostsLine, parseProbeOutput, plannedProbes, PROBE_SCRIPT, sshArgs } from "../tools/lib/verify/isolation";
import { median, tokensPerSecond } from "../tools/lib/verify/ollama";
import { OpenTunnel, TunnelTarget, tunnelArgs } from "../tools/lib/verify/tunnel";
import { parseVerifyTargets, TargetsError, VERIFY_OUTPUT_KEYS } from "../tools/lib/verifyTargets";
import { adminSourcesOf, environmentOnly, validateRawConfig } from "../config/load";
import type { StackConfig } from "../config/schema";
import { ConfigSection, key, scriptEnv, stackFile } from "./helpers";
import { deadUrl, fakeChroma, FakeModel, fakeOllama, fakeQdrant, FakeServer, serve } from "./verify-fakes";

const GiB = 1024 ** 3;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheGuestForTestsOnly0000000000000";
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----";
const QDRANT_KEY = "qdrant-test-key";

/** 32b at 60 tokens/s, fully in VRAM; 7b at 120 tokens/s. */
const qwen32 = (over: Partial<FakeModel> = {}): FakeModel => ({ name: "qwen2.5:32b", size: 22 * GiB, sizeVram: 22 * GiB, evalCount: 300, evalDurationNs: 5e9, promptEvalCount: 40, promptEvalDurationNs: 5e7, ...over });
const qwen7 = (over: Partial<FakeModel> = {}): FakeModel => ({ name: "qwen2.5:7b", size: 6 * GiB, sizeVram: 6 * GiB, evalCount: 240, evalDurationNs: 2e9, promptEvalCount: 40, promptEvalDurationNs: 2e7, ...over });
/** PrivateGPT's embedding model (apps[].embeddingModel in the private stack): embed only, no generate. */
const nomic = (over: Partial<FakeModel> = {}): FakeModel => ({ name: "nomic-embed-text:v1.5", embedding: true, size: 0.6 * GiB, sizeVram: 0.6 * GiB, evalCount: 0, evalDurationNs: 0, ...over });

function configOf(stack: "private" | "public", change?: (c: ConfigSection) => void): { values: Record<string, string>; secretKeys: string[] } {
    const file = stackFile(stack, change);
    return {
        values: { ...file.config, "ai-dualstack:sshPrivateKey": SSH_KEY },
        secretKeys: [...new Set([...file.secretKeys, "ai-dualstack:sshPrivateKey"])],
    };
}

function validated(stack: "private" | "public"): StackConfig {
    const file = stackFile(stack);
    return environmentOnly(validateRawConfig(Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.replace(/^ai-dualstack:/, ""), v])), undefined), "the test");
}

function reader(outputs: Record<string, unknown>, config: { values: Record<string, string>; secretKeys: string[] }): ReaderBackend {
    return { read: async (name) => ({ name, outputs: async () => outputs, config: async () => config }) };
}

interface SshCall { args: string[]; knownHosts: string; identity: string; input: string }

/** Stands in for ssh: answers each guest's probes from `open` (the targets that connect). */
function fakeSsh(open: (from: string, target: string) => boolean, fail?: { from: string; code: number; stderr: string }): CommandRunner & { calls: SshCall[] } {
    const calls: SshCall[] = [];
    return {
        calls,
        async run(command: string, args: readonly string[], options?: RunOptions) {
            expect(command).toBe("ssh");
            const knownHostsFile = (args.find((a) => a.startsWith("UserKnownHostsFile=")) ?? "=").split("=")[1];
            const identityFile = args[args.indexOf("-i") + 1];
            calls.push({ args: [...args], knownHosts: fs.readFileSync(knownHostsFile, "utf8"), identity: fs.readFileSync(identityFile, "utf8"), input: options?.input ?? "" });
            const from = args[args.indexOf("--") - 1];
            if (fail !== undefined && fail.from === from) {
                return { code: fail.code, stdout: "", stderr: fail.stderr };
            }
            const targets = args.slice(args.lastIndexOf("--") + 1);
            return { code: 0, stdout: targets.map((t) => `${open(from, t) ? "open" : "closed"} ${t}\n`).join(""), stderr: "" };
        },
    };
}

/** Public exporters (node, cAdvisor, GPU, PostgreSQL, Redis) answer the private monitoring container (10.10.10.24) only. */
const EXPORTER_PORTS: number[] = [PORTS.nodeExporter, PORTS.cadvisor, PORTS.nvidiaExporter, PORTS.postgresExporter, PORTS.redisExporter];
const healthyIsolation = (from: string, target: string) => from === "10.10.10.24" && /^10\.20\.20\.\d+:\d+$/.test(target) && EXPORTER_PORTS.includes(Number(target.split(":")[1]));

interface World { ollama: FakeServer; qdrant: FakeServer; chroma: FakeServer; app: FakeServer; close(): Promise<void> }

async function world(models: FakeModel[] = [qwen32(), qwen7(), nomic()], publicModels: FakeModel[] = [{ name: "mistral:7b", size: 5 * GiB, sizeVram: 5 * GiB, evalCount: 200, evalDurationNs: 2e9 }]): Promise<World & { publicOllama: FakeServer }> {
    const [ollama, publicOllama, qdrant, chroma, app] = await Promise.all([
        fakeOllama(models), fakeOllama(publicModels), fakeQdrant(QDRANT_KEY), fakeChroma(),
        serve((_method, p) => (p === "/health" ? { status: 200, json: { status: true } } : { status: 404, text: "" })),
    ]);
    return { ollama, publicOllama, qdrant, chroma, app, close: async () => { await Promise.all([ollama, publicOllama, qdrant, chroma, app].map((s) => s.close())); } };
}

function privateOutputs(w: World, over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        environment: "private",
        ollama: { url: w.ollama.url },
        vectorStore: { kind: "qdrant", url: w.qdrant.url, apiKey: QDRANT_KEY },
        workloads: [{ name: "open-webui", url: w.app.url, healthPath: "/health" }, { name: "privategpt", url: w.app.url, healthPath: "/health" }],
        sshHostKeys: { "private-ai": HOST_KEY, "private-monitoring": HOST_KEY },
        ...over,
    };
}

async function run(argv: string[], deps: Omit<VerifyDeps, "io">): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    // The fakes listen on this machine's loopback, which verify reads as "on the AI VM": the
    // default test tunnel is the identity (same port), tests of the tunnel pass their own.
    const identityTunnel: OpenTunnel = async (t) => ({ localPort: t.remotePort, close: () => undefined });
    const code = await runVerify(argv, { benchmarkRuns: 3, openTunnel: identityTunnel, ...deps, io: { out: (t) => { out += t; }, err: (t) => { err += t; } } });
    return { code, out, err };
}

describe("npm run verify against fake services", () => {
    let w: Awaited<ReturnType<typeof world>>;
    afterEach(async () => w?.close());

    test("a healthy private environment passes every check and exits 0, with progress on stderr", async () => {
        w = await world();
        const ssh = fakeSsh(healthyIsolation);
        const r = await run(["--stack", "private"], { reader: reader(privateOutputs(w), configOf("private")), runner: ssh });
        expect(r.err).toContain("verify private: benchmark: qwen2.5:32b run 3/3");
        expect(r.out).toMatch(/all \d+ checks passed/);
        expect(r.code).toBe(0);
        // 300 tokens in 5 s = 60 tokens/s; 40 prompt tokens in 50 ms = 800 tokens/s
        expect(r.out).toContain("generation 60.0 tokens/s (median of 3), prompt 800 tokens/s, target 50");
        expect(r.out).toContain("qwen2.5:7b in VRAM");
        // Each generate leads with its run number, so the prompt cache cannot skip the prompt.
        const prompts = w.ollama.requests.filter((q) => q.path === "/api/generate" && (q.body as { prompt?: string }).prompt !== undefined).map((q) => (q.body as { prompt: string }).prompt.slice(0, 6));
        expect(prompts).toEqual(["Run 1.", "Run 2.", "Run 3.", "Run 1.", "Run 2.", "Run 3."]);
        // Every Qdrant call carried the API key; the scratch collection is gone.
        expect(w.qdrant.requests.map((q) => q.headers["api-key"])).toEqual(Array(w.qdrant.requests.length).fill(QDRANT_KEY));
        expect(w.qdrant.requests.map((q) => `${q.method} ${q.path.replace(/verify-[0-9a-f]+/, "verify-X")}`)).toEqual([
            "PUT /collections/ai-dualstack-verify-X", "PUT /collections/ai-dualstack-verify-X/points?wait=true",
            "POST /collections/ai-dualstack-verify-X/points/query", "DELETE /collections/ai-dualstack-verify-X",
        ]);
        // Probes: monitoring reaches the public exporters, the AI VM does not; pinned host key.
        expect(ssh.calls.map((c) => c.args[c.args.indexOf("--") - 1])).toEqual(["10.10.10.24", "10.10.10.10"]);
        expect(ssh.calls[0].knownHosts).toBe(`10.10.10.24 ${HOST_KEY}\n`);
        expect(ssh.calls[0].identity).toBe(`${SSH_KEY}\n`);
        expect(ssh.calls[0].args).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", "BatchMode=yes", "GlobalKnownHostsFile=/dev/null"]));
        expect(ssh.calls[0].input).toBe(fs.readFileSync(PROBE_SCRIPT, "utf8"));
    });

    test("--json gives the checks with their figures; the API key never appears", async () => {
        w = await world();
        const r = await run(["--stack", "private", "--json"], { reader: reader(privateOutputs(w), configOf("private")), runner: fakeSsh(healthyIsolation) });
        const report = JSON.parse(r.out) as { stack: string; summary: Record<string, number>; checks: { group: string; name: string; status: string; figures?: Record<string, number> }[] };
        expect(report.stack).toBe("private");
        expect(report.summary.fail + report.summary.error).toBe(0);
        expect(report.checks.find((c) => c.group === "benchmark" && c.name === "qwen2.5:7b")?.figures).toEqual({ generationTokensPerSecond: 120, promptTokensPerSecond: 2000, targetTokensPerSecond: 50, runs: 3 });
        expect(report.checks.find((c) => c.name === "qwen2.5:32b in VRAM")?.figures).toEqual({ sizeBytes: 22 * GiB, sizeVramBytes: 22 * GiB });
        expect(r.out).not.toContain(QDRANT_KEY);
        expect(r.out).not.toContain("OPENSSH");
        expect(r.code).toBe(0);
    });

    test("CPU fallback: a model with nothing in VRAM, or only part of it, fails and exits 2", async () => {
        w = await world([qwen32({ sizeVram: 0 }), qwen7({ sizeVram: 3 * GiB })]);
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(privateOutputs(w), configOf("private")), runner: fakeSsh(healthyIsolation) });
        expect(r.out).toMatch(/FAIL .*qwen2\.5:32b in VRAM +CPU fallback: 0 of 22\.0 GiB in VRAM/);
        expect(r.out).toMatch(/FAIL .*qwen2\.5:7b in VRAM +partly on CPU: 3\.0 of 6\.0 GiB in VRAM, 50% on the CPU/);
        expect(r.code).toBe(2);
        // --skip-benchmark: models are loaded, never asked to generate.
        expect(w.ollama.requests.some((q) => (q.body as { prompt?: string } | undefined)?.prompt !== undefined)).toBe(false);
        expect(r.out).toMatch(/skip +benchmark +qwen2\.5:32b +--skip-benchmark/);
    });

    test("a missed target names the model and the figures; a model's own target from config is used", async () => {
        // 32b: 200 tokens in 5 s = 40 tokens/s against the default 50; 7b: 60 tokens/s against its own 80.
        w = await world([qwen32({ evalCount: 200 }), qwen7({ evalCount: 120 })]);
        const config = configOf("private", (c) => { key<{ name: string; targetTokensPerSecond?: number }[]>(c, "models")[1].targetTokensPerSecond = 80; });
        const r = await run(["--stack", "private"], { reader: reader(privateOutputs(w), config), runner: fakeSsh(healthyIsolation) });
        expect(r.out).toMatch(/FAIL .*qwen2\.5:32b +missed target: generation 40\.0 tokens\/s \(median of 3\), prompt 800 tokens\/s, target 50/);
        expect(r.out).toMatch(/FAIL .*qwen2\.5:7b +missed target: generation 60\.0 tokens\/s .* target 80/);
        expect(r.code).toBe(2);
    });

    test("a model that is not pulled fails; the others are still checked", async () => {
        w = await world([qwen7()]);
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(privateOutputs(w), configOf("private")), runner: fakeSsh(healthyIsolation) });
        expect(r.out).toMatch(/FAIL .*qwen2\.5:32b +not pulled: \/api\/tags lists qwen2\.5:7b/);
        expect(r.out).toMatch(/ok +ollama +qwen2\.5:7b in VRAM/);
        expect(r.code).toBe(2);
    });

    test("a dead service fails with what the connection said, and exits 2", async () => {
        w = await world();
        const outputs = privateOutputs(w, { workloads: [{ name: "open-webui", url: w.app.url, healthPath: "/health" }, { name: "privategpt", url: await deadUrl(), healthPath: "/health" }] });
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(outputs, configOf("private")), runner: fakeSsh(healthyIsolation) });
        expect(r.out).toMatch(/FAIL +services +privategpt +dead: 127\.0\.0\.1:\d+: ECONNREFUSED/);
        expect(r.out).toMatch(/ok +services +open-webui +\/health: HTTP 200/);
        expect(r.code).toBe(2);
    });

    test("a health endpoint answering 503 fails", async () => {
        w = await world();
        const sick = await serve(() => ({ status: 503, text: "starting" }));
        const outputs = privateOutputs(w, { workloads: [{ name: "open-webui", url: sick.url, healthPath: "/health" }] });
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(outputs, configOf("private")), runner: fakeSsh(healthyIsolation) });
        await sick.close();
        expect(r.out).toMatch(/FAIL +services +open-webui +\/health: HTTP 503: starting/);
        expect(r.code).toBe(2);
    });

    test("Qdrant refusing the request without the API key fails the round trip", async () => {
        w = await world();
        const outputs = privateOutputs(w, { vectorStore: { kind: "qdrant", url: w.qdrant.url } });
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(outputs, configOf("private")), runner: fakeSsh(healthyIsolation) });
        expect(r.out).toMatch(/FAIL +vector store +qdrant round trip +create: HTTP 401: Must provide an API key or an Authorization bearer token \(no API key in the stack outputs\)/);
        expect(r.code).toBe(2);
    });

    test("nothing in the environment answers: no route, exit 1 with one clear line", async () => {
        w = await world();
        const dead = await deadUrl();
        const outputs = privateOutputs(w, { ollama: { url: dead }, vectorStore: { kind: "qdrant", url: dead, apiKey: QDRANT_KEY }, workloads: [{ name: "open-webui", url: dead, healthPath: "/health" }] });
        const ssh = fakeSsh(healthyIsolation);
        const r = await run(["--stack", "private"], { reader: reader(outputs, configOf("private")), runner: ssh });
        expect(r.code).toBe(1);
        expect(r.err).toMatch(/^verify: no route to the private environment \(10\.10\.10\.0\/24\): none of its 3 HTTP requests got an answer/m);
        expect(ssh.calls).toHaveLength(0);
    });

    test("the public stack: a round trip on Chroma's v2 API, then the probes from the public VM", async () => {
        w = await world();
        const ssh = fakeSsh(() => false);
        const outputs = {
            ollama: { url: w.publicOllama.url },
            vectorStore: { kind: "chroma", url: w.chroma.url },
            workloads: [{ name: "chatbot", url: w.app.url, healthPath: "/health" }],
            sshHostKeys: { "public-ai": HOST_KEY },
        };
        const r = await run(["--stack", "public"], { reader: reader(outputs, configOf("public")), runner: ssh });
        expect(r.out).toMatch(/ok +vector store +chroma round trip +create, upsert, query, delete: ok/);
        expect(w.chroma.requests.map((q) => `${q.method} ${q.path.replace(/[0-9a-f-]{36}/, "ID").replace(/verify-[0-9a-f]+/, "verify-X")}`)).toEqual([
            "POST /api/v2/tenants/default_tenant/databases/default_database/collections",
            "POST /api/v2/tenants/default_tenant/databases/default_database/collections/ID/upsert",
            "POST /api/v2/tenants/default_tenant/databases/default_database/collections/ID/query",
            "DELETE /api/v2/tenants/default_tenant/databases/default_database/collections/ai-dualstack-verify-X",
        ]);
        // One SSH session from public-ai, probing every private service port and the node's API and SSH.
        expect(ssh.calls).toHaveLength(1);
        const targets = ssh.calls[0].args.slice(ssh.calls[0].args.lastIndexOf("--") + 1);
        expect(targets).toEqual(expect.arrayContaining(["10.10.10.10:11434", "10.10.10.10:6333", "10.10.10.20:5432", "10.10.10.21:6379", "10.10.10.24:9090", "192.168.1.10:8006", "192.168.1.10:22"]));
        expect(ssh.calls[0].args).toEqual(expect.arrayContaining(["-l", "ai", "10.20.20.10"]));
        expect(r.code).toBe(0);
    });

    test("Chroma, published only on the public VM's loopback, is reached through an SSH forward with the pinned key", async () => {
        w = await world();
        const opened: TunnelTarget[] = [];
        let closed = 0;
        const tunnel: OpenTunnel = async (t) => {
            opened.push(t);
            return { localPort: Number(new URL(w.chroma.url).port), close: () => { closed++; } };
        };
        const outputs = { ollama: { url: w.publicOllama.url }, vectorStore: { kind: "chroma", url: "http://127.0.0.1:8000" }, workloads: [], sshHostKeys: { "public-ai": HOST_KEY } };
        const r = await run(["--stack", "public", "--skip-benchmark"], { reader: reader(outputs, configOf("public")), runner: fakeSsh(() => false), openTunnel: tunnel });
        expect(r.out).toMatch(/ok +vector store +chroma round trip +create, upsert, query, delete: ok/);
        expect(opened.map((t) => ({ host: t.host, user: t.user, hostKey: t.hostKey, remotePort: t.remotePort }))).toEqual([{ host: "10.20.20.10", user: "ai", hostKey: HOST_KEY, remotePort: 8000 }]);
        expect(closed).toBe(1);
        // The real forward: local loopback to the VM's loopback, strict host key, no agent, fail if it cannot forward.
        const args = tunnelArgs(opened[0], 40000, "/k", "/id");
        expect(args).toEqual(expect.arrayContaining(["-N", "ExitOnForwardFailure=yes", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/k", "-L", "127.0.0.1:40000:127.0.0.1:8000", "-l", "ai", "10.20.20.10"]));
        expect(spawnSync("ssh", ["-G", ...args.filter((a) => a !== "-N")].slice(0, -1).concat(["10.20.20.10"]), { encoding: "utf8" }).status).toBe(0);
    });

    test("a forward that cannot be opened fails that service, naming why", async () => {
        w = await world();
        const outputs = { ollama: { url: w.publicOllama.url }, vectorStore: { kind: "chroma", url: "http://127.0.0.1:8000" }, workloads: [], sshHostKeys: { "public-ai": HOST_KEY } };
        const refuse: OpenTunnel = async () => { throw new Error("ssh to ai@10.20.20.10 could not forward port 8000: Permission denied (publickey)"); };
        const r = await run(["--stack", "public", "--skip-benchmark"], { reader: reader(outputs, configOf("public")), runner: fakeSsh(() => false), openTunnel: refuse });
        expect(r.out).toMatch(/FAIL +services +http:\/\/127\.0\.0\.1:8000 +ssh to ai@10\.20\.20\.10 could not forward port 8000: Permission denied/);
        expect(r.code).toBe(2);
    });

    test("isolation breach: a private port that accepts the public VM fails and exits 2", async () => {
        w = await world();
        const ssh = fakeSsh((_from, target) => target === "10.10.10.10:11434");
        const outputs = { ollama: { url: w.publicOllama.url }, vectorStore: { kind: "chroma", url: w.chroma.url }, workloads: [], sshHostKeys: { "public-ai": HOST_KEY } };
        const r = await run(["--stack", "public", "--skip-benchmark"], { reader: reader(outputs, configOf("public")), runner: ssh });
        expect(r.out).toMatch(/FAIL +isolation +public-ai -> 10\.10\.10\.10:11434 +BREACH: private-ai private-ollama: Ollama API accepts connections from public-ai/);
        expect(r.code).toBe(2);
    });

    test("private side: a public exporter answering a private guest other than monitoring is a breach", async () => {
        w = await world();
        const ssh = fakeSsh((from, target) => healthyIsolation(from, target) || (from === "10.10.10.10" && target === "10.20.20.10:9100"));
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(privateOutputs(w), configOf("private")), runner: ssh });
        expect(r.out).toMatch(/FAIL +isolation +private-ai -> 10\.20\.20\.10:9100 +BREACH: public-ai public-node-exporter: node exporter accepts connections from private-ai/);
        expect(r.code).toBe(2);
    });

    test("a probe guest that refuses SSH (wrong host key) means the probes could not run: exit 1", async () => {
        w = await world();
        const ssh = fakeSsh(healthyIsolation, { from: "10.10.10.24", code: 255, stderr: "@@@ WARNING @@@\nHost key verification failed.\n" });
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(privateOutputs(w), configOf("private")), runner: ssh });
        expect(r.out).toMatch(/ERROR +isolation +from private-monitoring +could not run the probes over SSH \(root@10\.10\.10\.24\): Host key verification failed\./);
        expect(r.code).toBe(1);
    });

    test("a guest without a pinned host key is never dialled", async () => {
        w = await world();
        const ssh = fakeSsh(healthyIsolation);
        const r = await run(["--stack", "private", "--skip-benchmark"], { reader: reader(privateOutputs(w, { sshHostKeys: { "private-ai": HOST_KEY } }), configOf("private")), runner: ssh });
        expect(r.out).toMatch(/ERROR +isolation +from private-monitoring +no pinned host key for private-monitoring/);
        expect(ssh.calls.map((c) => c.args[c.args.indexOf("--") - 1])).toEqual(["10.10.10.10"]);
        expect(r.code).toBe(1);
    });

    test("outputs that are missing or odd: exit 1, one line each naming the output", async () => {
        const config = configOf("private");
        const none = await run(["--stack", "private"], { reader: reader({}, config), runner: fakeSsh(() => false) });
        expect(none).toMatchObject({ code: 1, out: "" });
        expect(none.err).toContain("verify: stack private has no outputs: it has not been deployed yet (run `pulumi up --stack private` first)");
        const odd = await run(["--stack", "private"], { reader: reader({ environment: "private", ollama: { url: "10.10.10.10:11434" }, vectorStore: { kind: "qdrant", url: "http://10.10.10.10:6333" }, workloads: [] }, config), runner: fakeSsh(() => false) });
        expect(odd.code).toBe(1);
        expect(odd.err.split("\n").filter((l) => l.startsWith("stack output") || l.startsWith("verify: stack output"))).toEqual([
            "verify: stack output ollama.url: expected an http(s) URL, got \"10.10.10.10:11434\"",
            "stack output sshHostKeys is missing: this deployment does not export what verify reads (see the README, \"Is it working?\")",
        ]);
    });

    test("usage: --stack is required", async () => {
        const r = await run([], { reader: reader({}, configOf("private")), runner: fakeSsh(() => false) });
        expect(r.code).toBe(1);
        expect(r.err).toContain("--stack is required");
    });
});

describe("verify's parts", () => {
    test("tokens/s follow Ollama's formula eval_count / eval_duration * 10^9; absent counts are not measured", () => {
        // docs/api.md's own example: 290 tokens in 4709213000 ns
        expect(tokensPerSecond(290, 4709213000)).toBeCloseTo(61.58, 2);
        expect(tokensPerSecond(undefined, 4709213000)).toBeNull();
        expect(tokensPerSecond(0, 0)).toBeNull();
        expect(median([40, 70, 60])).toBe(60);
        expect(median([40, 60])).toBe(50);
    });

    test("a model's targetTokensPerSecond must be a positive number, named by its key", () => {
        const file = stackFile("private", (c) => { key<{ targetTokensPerSecond?: unknown }[]>(c, "models")[0].targetTokensPerSecond = 0; });
        const raw = Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.replace(/^ai-dualstack:/, ""), v]));
        expect(() => validateRawConfig(raw, undefined)).toThrow("ai-dualstack:models[0].targetTokensPerSecond: must be above 0, got 0");
    });

    test("the output parser keeps secrets out of its messages", () => {
        const err = (() => {
            try {
                parseVerifyTargets("private", { ollama: { url: "http://a:1" }, vectorStore: { kind: "qdrant", url: "http://a:2" }, workloads: [], sshHostKeys: {}, postgres: [{ app: "x", connectionString: "mysql://u:hunter2@h/db" }] });
            } catch (e) {
                return e as TargetsError;
            }
            throw new Error("no error");
        })();
        expect(err.problems).toEqual(["stack output postgres[0].connectionString: expected a postgresql:// connection string (value not shown)"]);
        expect(err.message).not.toContain("hunter2");
    });

    test("known_hosts lines and ssh arguments pin the host key and never prompt", () => {
        expect(knownHostsLine("10.20.20.10", 22, HOST_KEY)).toBe(`10.20.20.10 ${HOST_KEY}`);
        expect(knownHostsLine("10.20.20.10", 2222, HOST_KEY)).toBe(`[10.20.20.10]:2222 ${HOST_KEY}`);
        const args = sshArgs({ name: "public-ai", ip: "10.20.20.10", user: "ai", hostKey: HOST_KEY }, "/k", "/id", ["10.10.10.10:22"]);
        expect(args.join(" ")).toBe("-o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/k -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o ConnectTimeout=10 -i /id -p 22 -l ai 10.20.20.10 -- bash -s -- 10.10.10.10:22");
    });

    test("a public VM inside the admin sources is allowed the Proxmox API: those probes are left out", () => {
        const pub = validated("public");
        const targetsOf = (adminSources: readonly string[]) => plannedProbes(pub, validated("private"), {}, adminSources)[0].targets.map((t) => `${t.host}:${t.port}`);
        expect(targetsOf(adminSourcesOf(pub))).toEqual(expect.arrayContaining(["192.168.1.10:8006", "192.168.1.10:22"]));
        expect(targetsOf(["10.20.20.0/24"])).not.toContain("192.168.1.10:8006");
        expect(targetsOf(["10.20.20.0/24"])).toContain("10.10.10.10:11434");
        // UDP (WireGuard) cannot be probed by a TCP connect and is not claimed.
        expect(targetsOf(adminSourcesOf(pub))).not.toContain("10.10.10.22:51820");
    });

    test("the probe script is shellcheck-clean and tells an open port from a closed one, for real", async () => {
        expect(execFileSync("shellcheck", ["--severity=style", PROBE_SCRIPT], { encoding: "utf8" })).toBe("");
        const server = http.createServer((_q, s) => s.end());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const open = (server.address() as AddressInfo).port;
        const closed = new URL(await deadUrl()).port;
        try {
            const out = execFileSync("bash", ["-s", "--", `127.0.0.1:${open}`, `127.0.0.1:${closed}`], { input: fs.readFileSync(PROBE_SCRIPT, "utf8"), encoding: "utf8", env: scriptEnv({ PROBE_TIMEOUT: "2" }) });
            expect(parseProbeOutput(out)).toEqual(new Map([[`127.0.0.1:${open}`, "open"], [`127.0.0.1:${closed}`, "closed"]]));
        } finally {
            server.close();
        }
    });

    test("on a machine without the Pulumi CLI, the real command exits 1 with one clear line", () => {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "home-"));
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "..", "tools", "verify.ts"), "--stack", "private"], {
            encoding: "utf8",
            env: { PATH: path.dirname(process.execPath), HOME: home },
        });
        expect(r.status).toBe(1);
        expect(r.stdout).toBe("");
        const lines = r.stderr.trim().split("\n");
        expect(lines.filter((l) => l.startsWith("verify: "))).toEqual([expect.stringMatching(/^verify: Pulumi CLI not found: /)]);
        expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    test("the README documents every output verify reads", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## Is it working?"));
        for (const k of VERIFY_OUTPUT_KEYS) {
            expect({ output: k, documented: section.includes(`\`${k}\``) }).toEqual({ output: k, documented: true });
        }
        expect(readme).toContain("npm run verify -- --stack <private|public> [--json] [--skip-benchmark]");
    });
});

describe("the program exports what verify reads", () => {
    /** What a deployed stack reports for values the offline plan can only mask. */
    const deployed = (value: unknown, keyName = ""): unknown => {
        if (value === "[secret]" && keyName === "postgres") return [{ app: "assistant", connectionString: "postgresql://assistant:pw@10.10.10.20:5432/assistant?sslmode=require" }];
        if (value === "[secret]" && keyName === "redis") return [{ app: "assistant", connectionString: "redis://:pw@10.10.10.21:6379/0" }];
        if (value === "[secret]") return keyName === "apiKey" ? "a-generated-api-key" : "postgresql://app:pw@10.10.10.20/app";
        if (value === "[unknown]") return keyName === "dockerHost" ? "ssh://ai@10.10.10.10" : "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyReadOnFirstContact";
        if (Array.isArray(value)) return value.map((v) => deployed(v));
        if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deployed(v, k)]));
        return value;
    };

    test.each(["private", "public"])("the %s stack's outputs parse as verify's targets", async (stack) => {
        const { evaluate } = await import("./helpers");
        const { graph } = await evaluate(stack);
        const targets = parseVerifyTargets(stack, deployed(graph.outputs) as Record<string, unknown>);
        expect(targets.ollama.url).toMatch(/^http:\/\/10\.\d+\.\d+\.10:11434$/);
        expect(targets.vectorStore.kind).toBe(stack === "private" ? "qdrant" : "chroma");
        expect(Object.keys(targets.sshHostKeys)).toContain(`${stack}-ai`);
        expect(targets.workloads.length).toBeGreaterThan(3);
    });
});
