/**
 * The AI layer on each environment's VM, as the program builds it: provisioning over SSH
 * (no snippet), the Docker host, Ollama and its models, the vector store, the app presets,
 * the workbench, the exporters, and the firewall and outputs that read the same declarations.
 */
import { parse as parseYaml } from "yaml";
import { execFileSync } from "child_process";
import { hostKeyLine } from "../components/provision/remoteStep";
import { dockerSshOpts } from "../components/workloads/dockerHost";
import { MOCK_GENERATED_SECRET } from "../tools/lib/evaluate";
import type { PlanResource } from "../graph";
import { byName, EnvEvaluation, evaluate, input, ofType, transitiveDependencies, TYPES } from "./helpers";

const DOCKER = {
    provider: "pulumi:providers:docker",
    container: "docker:index/container:Container",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    build: "docker:index/image:Image",
    network: "docker:index/network:Network",
};

let graphs: Record<"private" | "public", EnvEvaluation>;
beforeAll(async () => {
    graphs = { private: await evaluate("private"), public: await evaluate("public") };
});

const containers = (e: EnvEvaluation) => ofType(e.graph.resources, DOCKER.container);
const envs = (c: PlanResource) => (input(c, "envs") as string[]);
const envOf = (c: PlanResource) => Object.fromEntries(envs(c).filter((e) => e.includes("=")).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

describe.each(["private", "public"] as const)("the %s AI layer", (env) => {
    const other = env === "private" ? "public" : "private";
    const g = () => graphs[env].graph;

    test("has no cloud-init snippet: the VM gets native cloud-init, the rest is provisioned over SSH", () => {
        expect(ofType(g().resources, TYPES.snippet)).toEqual([]);
        const steps = ofType(g().resources, TYPES.command).filter((c) => c.name.startsWith(`${env}-ai-provision-`)).map((c) => c.name).sort();
        expect(steps).toEqual([`${env}-ai-provision-data-disk`, `${env}-ai-provision-docker-gpu`, `${env}-ai-provision-host-key`, `${env}-ai-provision-verify`]);
        const vm = byName(g().resources, `${env}-ai-vm`);
        const dataDisk = byName(g().resources, `${env}-ai-provision-data-disk`);
        // The one step command (components/provision/steps.ts): lib.sh + the script, as root via sudo.
        expect(String(input(dataDisk, "create"))).toMatch(/^sudo bash -c "\$\(cat <<'AI_DUALSTACK_PROVISION_END'\n/);
        expect(String(input(dataDisk, "create"))).toMatch(/\nAI_DUALSTACK_PROVISION_END\n\)" data-disk \/dev\/disk\/by-id\/scsi-0QEMU_QEMU_HARDDISK_drive-scsi1 \/srv\/ai aidata /);
        // ...and again when dataDiskGiB changes (a disk grown with qm resize gets its filesystem grown).
        expect(input(dataDisk, "triggers")).toEqual([`${vm.name}-id`, graphs[env].config.aiVm.dataDiskGiB]);
        // Every step runs again when the VM is replaced, and waits on the previous one.
        expect(dataDisk.dependencies).toContain(byName(g().resources, `${env}-ai-provision-host-key`).urn);
        expect(transitiveDependencies(g().resources, dataDisk.urn).has(vm.urn)).toBe(true);
        expect(String(input(byName(g().resources, `${env}-ai-provision-docker-gpu`), "create"))).toContain("nvidia-driver-570-open");
    });

    test("the Docker provider's host is an Output of the verify step, so a fresh preview never dials the VM", () => {
        const [provider] = ofType(g().resources, DOCKER.provider);
        expect(input(provider, "host")).toBe("[unknown]");
        expect(provider.dependencies).toContain(byName(g().resources, `${env}-ai-provision-verify`).urn);
        // Every Docker resource goes through it, none through a default provider.
        for (const r of g().resources.filter((res) => res.type.startsWith("docker:"))) {
            expect({ name: r.name, provider: r.provider }).toEqual({ name: r.name, provider: provider.urn });
        }
        expect(ofType(g().resources, DOCKER.network).map((n) => input(n, "name"))).toEqual([`${env}-ai`]);
    });

    test("Ollama gets the GPU through deviceRequests, its data on the data disk, and one pull per model", () => {
        const ollama = byName(g().resources, `${env}-ollama-container`);
        expect(input(ollama, "deviceRequests")).toEqual([{ capabilities: ["gpu"], count: -1, driver: "nvidia" }]);
        expect(input(ollama, "volumes")).toEqual([{ containerPath: "/root/.ollama", hostPath: "/srv/ai/ollama", readOnly: false }]);
        expect(envOf(ollama)).toMatchObject({ OLLAMA_FLASH_ATTENTION: "1", OLLAMA_KV_CACHE_TYPE: "q8_0", OLLAMA_KEEP_ALIVE: "30m" });
        const models = graphs[env].config.models.map((m) => m.name);
        const pulls = ofType(g().resources, TYPES.command).filter((c) => c.name.startsWith(`${env}-ai-services-model-`));
        expect(pulls).toHaveLength(models.length);
        for (const model of models) {
            const pull = pulls.find((p) => String(input(p, "create")).includes(`)" pull-model ${model} `));
            expect({ model, found: pull !== undefined }).toEqual({ model, found: true });
            expect(pull?.dependencies).toContain(ollama.urn);
            // A rebuild destroys the pulls while Ollama runs: destroying must not delete the
            // model from the protected data disk.
            expect(input(pull as PlanResource, "delete")).toBeUndefined();
        }
        expect(g().outputs.ollama).toEqual({ url: `http://${graphs[env].config.aiVm.ip}:11434`, models: graphs[env].config.models.map((m) => ({ name: m.name, sizeGiB: m.sizeGiB })) });
    });

    test(`runs only its own vector store (${env === "private" ? "Qdrant with an API key" : "Chroma, unpublished"})`, () => {
        const names = containers(graphs[env]).map((c) => input(c, "name"));
        expect(names).toContain(env === "private" ? "private-qdrant" : "public-chroma");
        expect(names).not.toContain(env === "private" ? "private-chroma" : "public-qdrant");
        if (env === "private") {
            const qdrant = byName(g().resources, "private-qdrant-container");
            expect(envs(qdrant)).toEqual(["[secret]"]);
            expect(g().outputs.vectorStore).toEqual({ kind: "qdrant", url: "http://10.10.10.10:6333", apiKey: "[secret]" });
        } else {
            const chroma = byName(g().resources, "public-chroma-container");
            // Not on the subnet: only on the VM's loopback, for `npm run verify` through SSH.
            expect(input(chroma, "ports")).toEqual([{ external: 8000, internal: 8000, ip: "127.0.0.1", protocol: "tcp" }]);
            expect(g().outputs.vectorStore).toEqual({ kind: "chroma", url: "http://127.0.0.1:8000" });
        }
    });

    test("every container names only its own environment's services, never the other's", () => {
        for (const c of containers(graphs[env])) {
            const text = JSON.stringify(c.inputs);
            expect({ container: c.name, leaks: text.includes(`${other}-`) }).toEqual({ container: c.name, leaks: false });
            for (const [key, value] of Object.entries(envOf(c))) {
                if (/^(OLLAMA_BASE_URL|PGPT_OLLAMA_API_BASE|PGPT_OLLAMA_EMBEDDING_API_BASE)$/.test(key)) expect(value).toBe(`http://${env}-ollama:11434`);
                if (/^(QDRANT_URI|VECTOR_STORE_URL)$/.test(key)) expect(value).toBe(env === "private" ? "http://private-qdrant:6333" : "http://public-chroma:8000");
            }
        }
    });

    test("every container: pinned image, restart policy, health check, log rotation, labels", () => {
        for (const image of ofType(g().resources, DOCKER.remoteImage)) {
            expect(String(input(image, "name"))).toMatch(/^[a-z0-9][a-z0-9./_-]*:(?!latest$)[A-Za-z0-9._-]+$/);
        }
        for (const c of containers(graphs[env])) {
            expect(c.inputs).toMatchObject({ restart: "unless-stopped", logDriver: "json-file", logOpts: { "max-size": "10m", "max-file": "3" }, wait: true });
            expect((input(c, "healthcheck.tests") as string[]).length).toBeGreaterThan(1);
            expect(input(c, "labels")).toEqual(expect.arrayContaining([{ label: "ai-dualstack.environment", value: env }]));
        }
    });

    test("the firewall opens exactly SSH and the ports the workloads publish", () => {
        const all = input(byName(g().resources, `${env}-ai-firewall-rules`), "rules") as { dport?: string; source?: string; securityGroup?: string }[];
        // SSH (and the public egress limits) come from the host stack's groups; the ports are this stack's rules.
        expect(all.filter((r) => r.securityGroup !== undefined).map((r) => r.securityGroup)).toEqual(env === "public" ? ["public-base", "public-egress"] : ["private-base"]);
        const rules = [{ dport: "22", source: "+dc/admin-sources" }, ...all.filter((r) => r.securityGroup === undefined)];
        const published = containers(graphs[env]).flatMap((c) => {
            const label = (input(c, "labels") as { label: string; value: string }[]).find((l) => l.label === "ai-dualstack.ports")?.value ?? "";
            // `/vm`: published on the VM's loopback only, never opened in the firewall
            return label.split(",").filter((p) => p !== "" && !p.endsWith("/vm")).map((p) => p.split(":")[0]);
        });
        const opened = rules.flatMap((r) => (r.dport ?? "").split(","));
        expect(opened.sort()).toEqual(["22", ...published].sort());
        // The exporters the firewall opens for are really there, in one rule, from the
        // (private) monitoring container's address only; every other port from the environment's
        // own subnet: the host stack's cluster IP set of it.
        expect(published).toEqual(expect.arrayContaining(["9100", "9835", "8080"]));
        const monitoring = rules.filter((r) => r.source === "10.10.10.24");
        expect(monitoring.map((r) => r.dport)).toEqual(["8080,9100,9835"]);
        expect(rules.filter((r) => r.dport !== "22" && r.source !== "10.10.10.24").every((r) => r.source === `+dc/${env}-subnet`)).toBe(true);
    });

    test("no generated secret appears in plain text in the plan or the outputs", () => {
        const randoms = ofType(g().resources, "random:index/randomPassword:RandomPassword");
        expect(randoms.length).toBeGreaterThan(0);
        expect(JSON.stringify(g())).not.toContain(MOCK_GENERATED_SECRET);
    });
});

describe("the app presets' wiring", () => {
    const settings = (env: "private" | "public", name: string) => envOf(byName(graphs[env].graph.resources, `${name}-container`));

    test("private: the assistant, PrivateGPT on Ollama + Qdrant, Tika, the workbench", () => {
        expect(settings("private", "private-assistant")).toEqual({
            DEFAULT_MODELS: "qwen2.5:32b", ENABLE_SIGNUP: "False", OLLAMA_BASE_URL: "http://private-ollama:11434",
            QDRANT_URI: "http://private-qdrant:6333", VECTOR_DB: "qdrant", WEBUI_AUTH: "True",
            // with the environment's Redis (REDIS_URL, a secret): open-webui backend/open_webui/env.py
            WEBSOCKET_MANAGER: "redis",
        });
        // WEBUI_SECRET_KEY, QDRANT_API_KEY, DATABASE_URL, REDIS_URL (tests/service-wiring.test.ts reads them)
        expect(envs(byName(graphs.private.graph.resources, "private-assistant-container")).filter((e) => e === "[secret]")).toHaveLength(4);
        expect(settings("private", "private-privategpt")).toEqual({
            PGPT_EMBED_MODE: "ollama", PGPT_MODE: "ollama", PGPT_OLLAMA_API_BASE: "http://private-ollama:11434",
            PGPT_OLLAMA_AUTOPULL_MODELS: "false", PGPT_OLLAMA_EMBEDDING_API_BASE: "http://private-ollama:11434",
            PGPT_OLLAMA_EMBEDDING_MODEL: "nomic-embed-text:v1.5", PGPT_OLLAMA_LLM_MODEL: "qwen2.5:32b", PGPT_PROFILES: "docker,ai-dualstack",
        });
        expect(input(byName(graphs.private.graph.resources, "private-privategpt-container"), "uploads")).toEqual([{
            content: expect.stringContaining("url: http://private-qdrant:6333"), file: "/home/worker/app/settings-ai-dualstack.yaml",
        }]);
        // PrivateGPT merges this profile over its settings.yaml (which sets qdrant.path) with
        // pydantic's deep_update, then builds QdrantClient(**model_dump(exclude_none=True)):
        // exactly one of location/url/host/path may remain (private-gpt settings_loader.py,
        // vector_store_component.py; qdrant-client refuses more than one).
        const upload = (input(byName(graphs.private.graph.resources, "private-privategpt-container"), "uploads") as { content: string }[])[0];
        const deepUpdate = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(
            [...new Set([...Object.keys(base), ...Object.keys(over)])].map((k) => {
                const b = base[k]; const o = over[k];
                const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
                return [k, k in over ? (isMap(b) && isMap(o) ? deepUpdate(b, o) : o) : b];
            }));
        const merged = deepUpdate({ qdrant: { path: "local_data/private_gpt/qdrant" } }, parseYaml(upload.content) as Record<string, unknown>);
        const qdrantKwargs = Object.entries(merged.qdrant as Record<string, unknown>).filter(([, v]) => v !== null).map(([k]) => k);
        expect(qdrantKwargs.filter((k) => ["location", "url", "host", "path"].includes(k))).toEqual(["url"]);
        expect(input(byName(graphs.private.graph.resources, "private-tika-container"), "ports")).toEqual([{ external: 9998, internal: 9998, protocol: "tcp" }]);
        const workbench = byName(graphs.private.graph.resources, "private-workbench-image");
        expect(workbench.inputs).toMatchObject({ skipPush: true, buildOnPreview: false, build: { platform: "linux/amd64" } });
        expect(String(input(workbench, "build.dockerfile"))).toMatch(/components\/workloads\/workbench\/Dockerfile$/);
        expect(settings("private", "private-workbench")).toEqual({
            OLLAMA_BASE_URL: "http://private-ollama:11434", OLLAMA_MODEL: "qwen2.5:32b", VECTOR_STORE: "qdrant", VECTOR_STORE_URL: "http://private-qdrant:6333",
        });
        expect(graphs.private.graph.outputs.workbench).toEqual({ url: "http://10.10.10.10:8888", token: "[secret]" });
    });

    test("public: the multi-tenant platform (sign-up closed), the agentic chatbot and a POC, on Chroma; no workbench", () => {
        expect(settings("public", "public-platform")).toEqual({
            CHROMA_HTTP_HOST: "public-chroma", CHROMA_HTTP_PORT: "8000", DEFAULT_MODELS: "mistral:7b", ENABLE_SIGNUP: "False",
            OLLAMA_BASE_URL: "http://public-ollama:11434", VECTOR_DB: "chroma", WEBUI_ADMIN_EMAIL: "admin@example.org", WEBUI_AUTH: "True",
            WEBSOCKET_MANAGER: "redis",
        });
        // WEBUI_SECRET_KEY, WEBUI_ADMIN_PASSWORD, DATABASE_URL, REDIS_URL
        expect(envs(byName(graphs.public.graph.resources, "public-platform-container")).filter((e) => e === "[secret]")).toHaveLength(4);
        expect(settings("public", "public-chatbot")).toEqual({ OLLAMA_BASE_URL: "http://public-ollama:11434", OLLAMA_MODEL: "mistral:7b", VECTOR_STORE_URL: "http://public-chroma:8000" });
        expect(input(byName(graphs.public.graph.resources, "public-chatbot-container"), "ports")).toEqual([{ external: 3100, internal: 3000, protocol: "tcp" }]);
        expect(byName(graphs.public.graph.resources, "public-poc-hello-container").inputs).toMatchObject({ name: "public-poc-hello", ports: [{ external: 8090, internal: 80, protocol: "tcp" }] });
        expect(ofType(graphs.public.graph.resources, DOCKER.build)).toEqual([]);
        expect(graphs.public.graph.outputs.workbench).toBeUndefined();
    });

    test("the outputs list every workload with its URL and health path", () => {
        const workloads = graphs.public.graph.outputs.workloads as { name: string; url: string; healthPath: string }[];
        expect(workloads.map((w) => w.name)).toEqual(["public-ollama", "public-chroma", "public-platform", "public-chatbot", "public-poc-hello", "public-node-exporter", "public-cadvisor", "public-gpu-exporter"]);
        expect(workloads.find((w) => w.name === "public-chatbot")).toEqual({ name: "public-chatbot", kind: "agentic-chatbot", url: "http://10.20.20.10:3100", healthPath: "/api/v1/ping" });
    });
});

describe("host-key pinning", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkQyS0yHJ3dM0hXgQzZb2u0lI3Yl6yqgkqz1PZbq1Zs";

    test("the first step's output becomes the key later steps and Docker are pinned to", () => {
        expect(hostKeyLine(`${key} root@private-ai\n`)).toBe(key);
        expect(() => hostKeyLine("status: error\n")).toThrow("the guest did not report an SSH host key");
    });

    test("OpenSSH accepts the Docker provider's ssh options: strict checking, only the pinned key", () => {
        const opts = dockerSshOpts(key, "~/.ssh/id_ed25519");
        const config = execFileSync("ssh", ["-G", ...opts, "-p", "22", "-l", "ai", "10.10.10.10"], { encoding: "utf8" });
        expect(config).toContain("stricthostkeychecking true");
        expect(config).toContain("userknownhostsfile /dev/null");
        expect(config).toContain(`knownhostscommand /bin/echo %H ${key}`);
        expect(config).toContain("identitiesonly yes");
        expect(() => dockerSshOpts("not a key; rm -rf /")).toThrow("not an SSH host key line");
    });
});

describe("health checks that work in images we do not control", () => {
    test("the portable check runs under a POSIX sh: passes on a serving port, fails on a closed one", async () => {
        const http = await import("http");
        const { execFile } = await import("child_process");
        const { portableCheck } = await import("../components/workloads/catalog");
        const server = http.createServer((req, res) => { res.statusCode = req.url === "/health" ? 200 : 404; res.end("ok"); });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as import("net").AddressInfo).port;
        // Docker runs CMD-SHELL with /bin/sh -c; dash is the strictest sh on this machine.
        // Asynchronous, so this process's server can answer while the check runs.
        const run = (p: number, path: string) => new Promise<number>((resolve) => {
            execFile("dash", ["-c", portableCheck(p, path)[1]], { timeout: 10000 }, (err) => resolve(err === null ? 0 : 1));
        });
        try {
            expect(portableCheck(port, "/health")[0]).toBe("CMD-SHELL");
            expect(await run(port, "/health")).toBe(0);
            expect(await run(port, "/missing")).toBe(1);
        } finally {
            await new Promise<void>((resolve) => server.close(() => resolve()));
        }
        expect(await run(port, "/health")).toBe(1);
    });
});
