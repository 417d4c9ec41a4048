/**
 * The wiring between the AI layer's workload model and the service LXCs: which apps get a
 * PostgreSQL database and a Redis slot, the connection strings each app is handed (read
 * from the inputs the engine would receive, secrets unwrapped), the reverse proxy's routes,
 * the monitoring targets of the AI VM's exporters, and the outputs `npm run verify` reads.
 */
import { parse } from "yaml";
import { workloadDeclarations } from "../components/workloads/catalog";
import { serviceAppName, serviceUsers, type Workload } from "../components/workloads/model";
import { environmentTargets } from "../components/services/monitoringTargets";
import { PROMETHEUS_CONF, prometheusConfig, scrapeJobs } from "../components/services/monitoring";
import { MONITORING_RULE } from "../components/ops/firewallProfiles";
import * as path from "path";
import { CADDYFILE } from "../components/services/caddy";
import { evaluateStack, MOCK_GENERATED_SECRET } from "../tools/lib/evaluate";
import type { StackConfig } from "../config/schema";
import type { PlanGraph } from "../graph";
import { parseVerifyTargets } from "../tools/lib/verifyTargets";
import { byName, type ConfigSection, input, key, stackFile, writeStackFile } from "./helpers";
import { PROJECT_DIR } from "../tools/lib/paths";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const DOCKER_CONTAINER = "docker:index/container:Container";

/** A value as the engine receives it, with secrets unwrapped. */
function reveal(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(reveal);
    if (v !== null && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (SECRET_SIG in o) return reveal(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, reveal(x)]));
    }
    return v;
}

interface Seen {
    readonly evaluation: { readonly graph: PlanGraph; readonly config: StackConfig; readonly revealedOutputs?: Record<string, unknown> };
    /** per Docker container name: its environment, KEY -> value, secrets revealed */
    readonly envOf: Map<string, Record<string, string>>;
    /** per remote command name: its stdin, revealed */
    readonly stdinOf: Map<string, string>;
}

async function evaluateSeeing(stack: string, change?: (c: ConfigSection) => void): Promise<Seen> {
    const envOf = new Map<string, Record<string, string>>();
    const stdinOf = new Map<string, string>();
    const { graph, validated, revealedOutputs } = await evaluateStack({
        stack,
        file: stackFile(stack, change),
        revealSecretOutputs: true,
        onMockResource: (a) => {
            if (a.type === DOCKER_CONTAINER) {
                const envs = (reveal(a.inputs.envs) ?? []) as string[];
                envOf.set(String(a.inputs.name), Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])));
            }
            if (a.type === "command:remote:Command" && a.inputs.stdin !== undefined) {
                stdinOf.set(a.name, String(reveal(a.inputs.stdin)));
            }
            // What a first-contact step prints on a real guest: its ed25519 host key.
            return a.type === "command:remote:Command" && String(a.inputs.create).includes("ssh_host_ed25519_key.pub")
                ? { stdout: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstContactKeyOfTheNewGuest root@guest\n" }
                : undefined;
        },
    });
    if (validated.kind !== "environment") {
        throw new Error(`${stack} is not an environment stack`);
    }
    return { evaluation: { graph, config: validated.stack, revealedOutputs }, envOf, stdinOf };
}

/** The offline stand-in of a random password (tools/lib/evaluate.ts), by resource name. */
const offlinePassword = (resource: string) => `${MOCK_GENERATED_SECRET}-${resource.replace(/[^A-Za-z0-9]/g, "")}`;

let privateSeen: Seen;
let publicSeen: Seen;
let ownAppSeen: Seen;
beforeAll(async () => {
    privateSeen = await evaluateSeeing("private");
    publicSeen = await evaluateSeeing("public");
    // Your own app asking for both services, next to Open WebUI.
    ownAppSeen = await evaluateSeeing("public", (c) => {
        const chatbot = key<Record<string, unknown>[]>(c, "apps").find((a) => a.preset === "agentic-chatbot");
        Object.assign(chatbot ?? {}, { postgresEnv: "CHATBOT_DATABASE_URL", redisEnv: "CHATBOT_REDIS_URL" });
    });
});

const cases: [string, () => Seen, () => Seen][] = [
    ["private", () => privateSeen, () => publicSeen],
    ["public", () => publicSeen, () => privateSeen],
    ["public with your own app using both", () => ownAppSeen, () => privateSeen],
];

describe("apps that need PostgreSQL or Redis", () => {
    test("the app lists come from the workload model: Open WebUI, and your own app when it names the variables", () => {
        expect(serviceUsers(workloadDeclarations(privateSeen.evaluation.config))).toEqual({ postgres: ["assistant"], redis: ["assistant"] });
        expect(serviceUsers(workloadDeclarations(publicSeen.evaluation.config))).toEqual({ postgres: ["platform"], redis: ["platform"] });
        expect(serviceUsers(workloadDeclarations(ownAppSeen.evaluation.config))).toEqual({ postgres: ["platform", "chatbot"], redis: ["platform", "chatbot"] });
    });

    test.each(cases)("%s: every app that needs them gets its own environment's connection strings, never the other's", (_name, get, other) => {
        const { evaluation, envOf } = get();
        const { config } = evaluation;
        const env = config.environment;
        const db = config.containers.find((c) => c.role === "database");
        const cache = config.containers.find((c) => c.role === "cache");
        const otherIps = other().evaluation.config.containers.map((c) => c.ip);
        const workloads = workloadDeclarations(config);
        const redisApps = serviceUsers(workloads).redis;
        let wired = 0;
        for (const w of workloads) {
            const seenEnv = envOf.get(w.name) ?? {};
            const app = serviceAppName(w);
            const pg = w.uses?.postgres;
            const redis = w.uses?.redis;
            if (pg !== undefined) {
                expect({ app, url: seenEnv[pg.env] }).toEqual({
                    app,
                    url: `postgresql://${app}:${offlinePassword(`${env}-services-postgres-${app}`)}@${db?.ip}:5432/${app}?sslmode=require`,
                });
                wired++;
            }
            if (redis !== undefined) {
                expect({ app, url: seenEnv[redis.env] }).toEqual({
                    app,
                    url: `redis://:${offlinePassword(`${env}-services-redis`)}@${cache?.ip}:6379/${redisApps.indexOf(app)}`,
                });
                expect(seenEnv).toMatchObject(redis.alsoEnv ?? {});
                wired++;
            }
            // Nothing of the other environment, and no database URL for an app that did not ask.
            for (const value of Object.values(seenEnv)) {
                expect(otherIps.some((ip) => value.includes(`@${ip}:`))).toBe(false);
                expect(value.includes(`-${other().evaluation.config.environment}services`)).toBe(false);
            }
            if (pg === undefined) expect(Object.keys(seenEnv).filter((k) => /DATABASE_URL$/.test(k))).toEqual([]);
            if (redis === undefined) expect(Object.keys(seenEnv).filter((k) => /REDIS_URL$/.test(k))).toEqual([]);
        }
        expect(wired).toBeGreaterThanOrEqual(2);
    });

    test.each(cases)("%s: an app is created only once its database and cache are provisioned", (_name, get) => {
        const { graph, config } = get().evaluation;
        const dbName = config.containers.find((c) => c.role === "database")?.name;
        const cacheName = config.containers.find((c) => c.role === "cache")?.name;
        for (const w of workloadDeclarations(config).filter((x) => x.uses !== undefined)) {
            const deps = byName(graph.resources, `${w.name}-container`).dependencies;
            expect(deps).toContain(byName(graph.resources, `${dbName}-provision-postgres`).urn);
            expect(deps).toContain(byName(graph.resources, `${cacheName}-provision-redis`).urn);
        }
    });

    test.each(cases)("%s: the postgres and redis outputs are secret lists in the shape npm run verify reads", (_name, get) => {
        const { graph, config, revealedOutputs } = get().evaluation;
        expect({ postgres: graph.outputs.postgres, redis: graph.outputs.redis }).toEqual({ postgres: "[secret]", redis: "[secret]" });
        const targets = parseVerifyTargets(config.environment, revealedOutputs ?? {});
        const users = serviceUsers(workloadDeclarations(config));
        expect(targets.postgres.map((p) => p.app)).toEqual(users.postgres);
        expect(targets.redis.map((r) => r.app)).toEqual(users.redis);
        const db = config.containers.find((c) => c.role === "database");
        targets.postgres.forEach((p) => expect(p.connectionString).toContain(`@${db?.ip}:5432/${p.app}?`));
    });
});

describe("the reverse proxy", () => {
    test("routes exactly the published apps (apps[].publicHost) to their ports on this environment's AI VM", () => {
        const { evaluation, stdinOf } = publicSeen;
        const bundle = stdinOf.get("public-proxy-provision-caddy") ?? "";
        const line = bundle.split("\n").find((l) => l.startsWith(`file ${CADDYFILE} `)) ?? "";
        const caddyfile = Buffer.from(line.split(" ").pop() ?? "", "base64").toString("utf8");
        const vm = evaluation.config.aiVm.ip;
        const published = workloadDeclarations(evaluation.config).filter((w) => w.publicHost !== undefined);
        expect(published.map((w) => [w.publicHost, w.ports[0].host])).toEqual([["chat.example.org", 3000], ["hello.example.org", 8090]]);
        for (const w of published) {
            expect(caddyfile).toContain(`${w.publicHost} {`);
            expect(caddyfile).toContain(`reverse_proxy ${vm}:${w.ports[0].host}`);
        }
        expect((caddyfile.match(/reverse_proxy /g) ?? []).length).toBe(published.length);
    });

    test("a public host on a private app is refused, and a duplicate one is named", async () => {
        await expect(evaluateSeeing("private", (c) => { key<Record<string, unknown>[]>(c, "apps")[0].publicHost = "x.example.org"; }))
            .rejects.toMatchObject({ problems: ["ai-dualstack:apps[0].publicHost: unknown key"] });
        await expect(evaluateSeeing("public", (c) => { key<Record<string, unknown>[]>(c, "apps")[2].publicHost = "chat.example.org"; }))
            .rejects.toMatchObject({ problems: [`ai-dualstack:apps[2].publicHost: duplicate host "chat.example.org", already used at apps[0].publicHost`] });
    });
});

describe("monitoring the AI VM's exporters", () => {
    test.each([["private", () => privateSeen], ["public", () => publicSeen]] as const)("%s: the scrape targets are the ports the exporter workloads publish and the VM's firewall opens", (_env, get) => {
        const { graph, config } = get().evaluation;
        const exporters = workloadDeclarations(config).filter((w): w is Workload & { scrape: NonNullable<Workload["scrape"]> } => w.scrape !== undefined);
        expect(exporters.map((w) => [w.scrape, w.ports[0].host])).toEqual([["node", 9100], ["containers", 8080], ["gpu", 9835]]);
        const prometheus = parse(prometheusConfig({ jobs: scrapeJobs(environmentTargets(config)), ruleFiles: [] })) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
        const vmTargets = prometheus.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets))
            .filter((t) => t.startsWith(`${config.aiVm.ip}:`)).map((t) => Number(t.split(":")[1])).sort();
        const firewall = (input(byName(graph.resources, `${config.aiVm.name}-firewall-rules`), "rules") as { dport?: string }[])
            .flatMap((r) => (r.dport ?? "").split(",").filter(Boolean).map(Number));
        expect(vmTargets).toEqual(exporters.map((w) => w.ports[0].host).sort());
        vmTargets.forEach((port) => expect(firewall).toContain(port));
    });
});

/** A file of a step's bundle (stdin), decoded. */
function bundleFile(bundle: string, file: string): string {
    const line = bundle.split("\n").find((l) => l.startsWith(`file ${file} `)) ?? "";
    return Buffer.from(line.split(" ").pop() ?? "", "base64").toString("utf8");
}

interface ScrapeConfig { job_name: string; static_configs: { targets: string[]; labels?: { environment: string; name: string } }[] }

/**
 * target -> environment label, per job, from the private monitoring step's prometheus.yml
 * ("none" for the pve jobs, whose series carry their own labels and cover every environment).
 */
function scraped(seen: Seen): Map<string, Map<string, string>> {
    const yml = bundleFile(seen.stdinOf.get("private-monitoring-provision-monitoring") ?? "", PROMETHEUS_CONF);
    const jobs = (parse(yml) as { scrape_configs: ScrapeConfig[] }).scrape_configs;
    return new Map(jobs.map((j) => [j.job_name, new Map(j.static_configs.flatMap((s) => s.targets.map((t) => [t, s.labels?.environment ?? "none"] as const)))]));
}

/** Every rule of the stack's guest firewalls that names an address of `subnet` (10.10.10.0/24 -> "10.10.10."). */
function rulesNaming(graph: PlanGraph, prefix: string): { guest: string; rule: Record<string, unknown> }[] {
    return graph.resources.filter((r) => r.name.endsWith("-firewall-rules"))
        .flatMap((r) => (input(r, "rules") as Record<string, unknown>[]).filter((rule) => JSON.stringify(rule).includes(prefix)).map((rule) => ({ guest: r.name, rule })));
}

describe("across the environments: the private monitoring container and the public exporters", () => {
    test("the private monitoring container scrapes the public stack's exporters, read from its file, labelled public", () => {
        const jobs = scraped(privateSeen);
        const pub = publicSeen.evaluation.config;
        const exporters = workloadDeclarations(pub).filter((w) => w.scrape !== undefined);
        const expectPublic = (job: string, target: string) => expect({ job, target, env: jobs.get(job)?.get(target) }).toEqual({ job, target, env: "public" });
        for (const w of exporters) {
            expectPublic(w.scrape === "node" ? "node" : w.scrape === "containers" ? "cadvisor" : "nvidia-gpu", `${pub.aiVm.ip}:${w.ports[0].host}`);
        }
        pub.containers.forEach((ct) => expectPublic("node", `${ct.ip}:9100`));
        expectPublic("postgres", `${pub.containers.find((c) => c.role === "database")?.ip}:9187`);
        expectPublic("redis", `${pub.containers.find((c) => c.role === "cache")?.ip}:9121`);
        expectPublic("certificates", "https://chat.example.org");
        // The nodes are the box's: scraped once, as the monitoring container's own environment's.
        expect([...(jobs.get("proxmox-node")?.values() ?? [])]).toEqual(["private"]);
        expect([...(jobs.get("pve-node")?.keys() ?? [])]).toEqual(privateSeen.evaluation.config.hosts.map((h) => h.address));
        // The public stack runs no monitoring of its own.
        expect([...publicSeen.stdinOf.keys()].some((k) => k.endsWith("-provision-monitoring"))).toBe(false);
    });

    test("a change in the public file reaches the private scrape config", async () => {
        const publicFile = writeStackFile("public", (c) => { key(c, "aiVm").ip = "10.20.20.50"; });
        const hostFile = writeStackFile("host", (c) => { c["ai-dualstack:environments"] = { private: path.join(PROJECT_DIR, "Pulumi.private.yaml"), public: publicFile }; });
        const moved = await evaluateSeeing("private", (c) => { c["ai-dualstack:hostStack"] = hostFile; });
        const jobs = scraped(moved);
        expect(jobs.get("node")?.get("10.20.20.50:9100")).toBe("public");
        expect(jobs.get("node")?.has("10.20.20.10:9100")).toBe(false);
    });

    test("public guests admit their exporter ports from the private monitoring address only, in the one named rule", () => {
        const { graph, config } = publicSeen.evaluation;
        const monitoring = privateSeen.evaluation.config.containers.find((c) => c.role === "monitoring");
        const named = rulesNaming(graph, "10.10.10.");
        // one rule per public guest, and no other rule anywhere names a private address
        expect(named.map((n) => n.guest).sort()).toEqual([config.aiVm.name, ...config.containers.map((c) => c.name)].map((g) => `${g}-firewall-rules`).sort());
        for (const { guest, rule } of named) {
            const ct = config.containers.find((c) => `${c.name}-firewall-rules` === guest);
            const ports = (ct === undefined ? ["8080", "9100", "9835"] : ["9100", ...(ct.role === "database" ? ["9187"] : ct.role === "cache" ? ["9121"] : [])]).sort((a, b) => Number(a) - Number(b));
            expect(rule).toEqual({ type: "in", action: "ACCEPT", proto: "tcp", dport: ports.join(","), source: monitoring?.ip, comment: `${MONITORING_RULE}: exporters, from the monitoring container only`, enabled: true });
        }
        // the exporter ports are in no other rule: not even the public subnet reaches them
        const others = graph.resources.filter((r) => r.name.endsWith("-firewall-rules"))
            .flatMap((r) => (input(r, "rules") as Record<string, unknown>[]).filter((rule) => !String(rule.comment).startsWith(MONITORING_RULE)));
        expect(others.filter((rule) => /\b(9100|9187|9121|9835)\b/.test(String(rule.dport)))).toEqual([]);
    });

    test("the public rules follow the private file: a moved monitoring container, or none", async () => {
        const evaluateWithPrivate = async (change: (c: ConfigSection) => void) => {
            const privateFile = writeStackFile("private", change);
            const hostFile = writeStackFile("host", (c) => { c["ai-dualstack:environments"] = { private: privateFile, public: path.join(PROJECT_DIR, "Pulumi.public.yaml") }; });
            return (await evaluateSeeing("public", (c) => { c["ai-dualstack:hostStack"] = hostFile; })).evaluation.graph;
        };
        const moved = await evaluateWithPrivate((c) => {
            key<Record<string, unknown>[]>(c, "containers").forEach((ct) => { if (ct.role === "monitoring") ct.ip = "10.10.10.30"; });
        });
        expect([...new Set(rulesNaming(moved, "10.10.10.").map((n) => n.rule.source))]).toEqual(["10.10.10.30"]);
        const none = await evaluateWithPrivate((c) => { c["ai-dualstack:containers"] = key<Record<string, unknown>[]>(c, "containers").filter((ct) => ct.role !== "monitoring"); });
        expect(rulesNaming(none, "10.10.10.")).toEqual([]);
    });

    test("the private guests admit their own monitoring container the same way", () => {
        const { graph, config } = privateSeen.evaluation;
        const monitoring = config.containers.find((c) => c.role === "monitoring");
        const named = graph.resources.filter((r) => r.name.endsWith("-firewall-rules"))
            .flatMap((r) => (input(r, "rules") as Record<string, unknown>[]).filter((rule) => String(rule.comment).startsWith(MONITORING_RULE)));
        expect(named.length).toBe(1 + config.containers.length);
        expect(named.every((rule) => rule.source === monitoring?.ip)).toBe(true);
    });
});
