/**
 * Plan insight: the critical path and rebuild estimate, the Mermaid diagram (accepted by
 * Mermaid's own parser), the README's generated copy, and the benchmark's replay floor.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CREATE_TIMES, createSeconds, UNKNOWN_TYPE_SECONDS } from "../tools/lib/createTimes";
import type { PlanDocument, PlanResource } from "../graph";
import { criticalPath, customDependencies, graphShape } from "../tools/lib/graphMetrics";
import { GROUP_RULES, groupOf, renderMermaid } from "../tools/lib/mermaid";
import { diagramNames, fillDiagrams } from "../tools/lib/readmeDiagrams";
import { duration } from "../tools/lib/summary";
import { planStack } from "../tools/plan";

const ROOT = path.join(__dirname, "..");
const plans = new Map<string, PlanDocument>();
const plan = (stack: string) => plans.get(stack) as PlanDocument;

beforeAll(async () => {
    for (const stack of ["host", "private", "public"]) {
        plans.set(stack, (await planStack(stack)).plan);
    }
});

/** Mermaid's parser, run by node on the diagrams (tests/mermaid-parse.mjs). */
function mermaidParse(diagrams: string[]): { ok: boolean; type?: string; error?: string }[] {
    const r = spawnSync(process.execPath, [path.join(__dirname, "mermaid-parse.mjs")], { input: JSON.stringify(diagrams), encoding: "utf8" });
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout);
}

describe("critical path and rebuild estimate", () => {
    // Pinned: a change that makes guests wait on each other (or on more) shows here.
    test.each([
        ["host", ["host-tune-pve", "host-tune-keys"], 180],
        ["private", ["private-proxmox", "private-ai-data", "private-ai-vm", "private-ai-tune", "private-ai-provision-host-key", "private-ai-provision-data-disk",
            "private-ai-provision-docker-gpu", "private-ai-provision-verify", "private-ai-services-host-docker", "private-workbench-image", "private-workbench-container"], 1002],
        ["public", ["public-proxmox", "public-ai-data", "public-ai-vm", "public-ai-tune", "public-ai-provision-host-key", "public-ai-provision-data-disk",
            "public-ai-provision-docker-gpu", "public-ai-provision-verify", "public-ai-services-host-docker", "public-ollama-image", "public-ollama-container",
            "public-ai-services-model-mistral-7b"], 732],
    ])("%s: the critical path is %j, ~%d s", (stack, names, seconds) => {
        const { criticalPath: path } = plan(stack).summary;
        expect(path.urns.map((u) => u.split("::").pop())).toEqual(names);
        expect(path.estimatedSeconds).toBe(seconds);
    });

    test.each(["private", "public"])("%s: the chain is a real chain of waits, and nothing takes longer", (stack) => {
        const p = plan(stack);
        const deps = customDependencies(p);
        const chain = p.summary.criticalPath.urns;
        chain.slice(1).forEach((urn, i) => expect(deps.get(urn)?.has(chain[i])).toBe(true));
        const byUrn = new Map(p.resources.map((r) => [r.urn, r]));
        expect(p.summary.criticalPath.estimatedSeconds).toBe(chain.reduce((s, u) => s + createSeconds(byUrn.get(u) as PlanResource), 0));
        // The one-at-a-time sum is every provider resource's time, and at least the chain.
        const custom = p.resources.filter((r) => r.custom);
        expect(p.summary.serialSeconds).toBe(custom.reduce((s, r) => s + createSeconds(r), 0));
        expect(p.summary.serialSeconds).toBeGreaterThan(p.summary.criticalPath.estimatedSeconds * 2);
        expect(p.summary.widestLevel).toBe(graphShape(p).widestLevel);
    });

    test("every type the stacks create has a create time with its basis", () => {
        for (const p of plans.values()) {
            expect(p.summary.unknownCreateTimes).toEqual([]);
        }
        for (const row of Object.values(CREATE_TIMES)) {
            expect(row.basis.length).toBeGreaterThan(10);
        }
    });

    test("the estimate follows the slowest chain, not the one with most resources", () => {
        const r = (name: string, type: string, dependencies: string[] = []): PlanResource => ({
            urn: name, type, name, parent: null, custom: true, provider: null, inputs: {}, dependencies,
            options: { protect: false, retainOnDelete: false, ignoreChanges: [], deleteBeforeReplace: false },
        });
        const graph = {
            stack: "t", project: "p", outputs: {}, policy: [],
            resources: [r("a", "fast"), r("b", "fast", ["a"]), r("c", "fast", ["b"]), r("slow", "slow"), r("d", "fast", ["slow"]), r("new", "brand:new:Type")],
        };
        const seconds = (res: PlanResource) => ({ fast: 1, slow: 10 }[res.type] ?? UNKNOWN_TYPE_SECONDS);
        const path = criticalPath(graph, seconds, (t) => t !== "brand:new:Type");
        // a -> b -> c has more resources (3 s); slow -> d takes longer (11 s); new alone, 10 s.
        expect(path).toEqual({ urns: ["slow", "d"], estimatedSeconds: 11, serialSeconds: 14 + UNKNOWN_TYPE_SECONDS, unknownTypes: ["brand:new:Type"] });
        expect(duration(272)).toBe("4 min 32 s");
        expect(duration(45)).toBe("45 s");
        expect(duration(600)).toBe("10 min");
    });
});

describe("the Mermaid diagram", () => {
    test("Mermaid's own parser accepts each stack's diagram and all of them together, and rejects a broken one", () => {
        const diagrams = [renderMermaid([plan("host")]), renderMermaid([plan("private")]), renderMermaid([plan("public")]), renderMermaid([plan("host"), plan("private"), plan("public")])];
        const results = mermaidParse([...diagrams, diagrams[1].replace("\"]\n", "\"\n")]);
        expect(results.slice(0, 4)).toEqual(diagrams.map(() => ({ ok: true, type: "flowchart-v2" })));
        expect(results[4].ok).toBe(false);
    });

    test("resources fall in the seed's groups by type, and new types find their group", () => {
        const group = (name: string) => {
            const p = [plan("host"), plan("private")].find((g) => g.resources.some((x) => x.name === name && x.custom)) as PlanDocument;
            const r = p.resources.find((x) => x.name === name && x.custom) as PlanResource;
            const byUrn = new Map(p.resources.map((x) => [x.urn, x]));
            return groupOf(r, (res) => {
                for (let q = res.parent ? byUrn.get(res.parent) : undefined; q; q = q.parent ? byUrn.get(q.parent) : undefined) {
                    const [pkg, area] = q.type.split(":");
                    if (pkg === "ai-dualstack" && area !== "env") return area;
                }
                return undefined;
            });
        };
        expect(group("private-storage-pool")).toBe("storage");
        expect(group("private-gpu-mapping")).toBe("gpu");
        expect(group("private-ai-vm")).toBe("vms");
        expect(group("private-ai-data")).toBe("data");
        expect(group("private-db-ct")).toBe("lxcs");
        expect(group("host-prep-pve")).toBe("host");
        expect(group("private-backup-job")).toBe("data");
        const fake = (type: string, protect = false): PlanResource => ({
            urn: type, type, name: type, parent: null, custom: true, provider: null, inputs: {}, dependencies: [],
            options: { protect, retainOnDelete: false, ignoreChanges: [], deleteBeforeReplace: false },
        });
        expect(groupOf(fake("docker:index/container:Container"))).toBe("workloads");
        expect(groupOf(fake("random:index/randomPassword:RandomPassword"))).toBe("workloads");
        expect(groupOf(fake("command:remote:Command"), () => "provision")).toBe("workloads");
        expect(groupOf(fake("command:remote:Command"), () => "host")).toBe("host");
        expect(groupOf(fake("proxmoxve:storage/zfspool:Zfspool"))).toBe("storage");
        expect(groupOf(fake("proxmoxve:user/token:Token"))).toBe("host");
        expect(GROUP_RULES.every((rule) => rule.type.includes(":"))).toBe(true);
    });

    test("protected resources are cylinders, each environment has its colour, waits are arrows", () => {
        const text = renderMermaid([plan("host"), plan("private"), plan("public")]);
        expect(text).toContain(`host_private_storage_pool[("private-storage-pool<br/><small>Zfs</small>")]`);
        expect(text).toContain(`private_private_ai_vm["private-ai-vm<br/><small>VmLegacy</small>"]`);
        expect(text).toContain("private_private_ai_data --> private_private_ai_vm");
        expect(text).toMatch(/classDef env_private fill:#fde8e8/);
        expect(text).toMatch(/class [^\n]*public_public_ai_vm[^\n]* env_public/);
        // Implied waits are left out: the VM waits on the pool through its data holder too.
        expect(text).not.toContain("private_private_storage_pool --> private_private_ai_vm\n");
    });

    test("the README's diagrams are the generated ones (npm run diagrams)", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        expect(diagramNames(readme)).toEqual(["all"]);
        const fresh = fillDiagrams(readme, new Map([["all", renderMermaid([plan("host"), plan("private"), plan("public")])]]));
        expect(readme).toBe(fresh);
        expect(fillDiagrams("<!-- diagram:x -->\nold\n<!-- /diagram:x -->", new Map([["x", "flowchart LR\n  a"]])))
            .toBe("<!-- diagram:x -->\n```mermaid\nflowchart LR\n  a\n```\n<!-- /diagram:x -->");
    });
});

describe("the benchmark's replay floor", () => {
    test("registers exactly the plan's resources, each provider type through its SDK class", async () => {
        const { replayFloor, sdkClassFor } = await import("../tools/lib/floor");
        const p = plan("public");
        for (const r of p.resources.filter((x) => x.custom)) {
            expect([r.type, sdkClassFor(r.type) !== undefined]).toEqual([r.type, true]);
        }
        expect(await replayFloor(p)).toBe(p.resources.length);
    });

    test("the bench reads the evaluation time each process reports", async () => {
        const { reportedEvalMs } = await import("../tools/bench");
        expect(reportedEvalMs("evaluating stack x...\nevaluated stack private: 53 resources in 412 ms\n")).toBe(412);
        expect(reportedEvalMs("evaluated replay floor of stack private: 53 resources in 97 ms\n")).toBe(97);
        expect(reportedEvalMs("nothing\n")).toBeUndefined();
    });
});

describe("the plan JSON contract", () => {
    test("is documented in the repo, with every summary field, and nothing points outside the repo", () => {
        const doc = fs.readFileSync(path.join(ROOT, "docs", "plan-json.md"), "utf8");
        for (const key of Object.keys(plan("private").summary)) {
            expect(doc).toContain(`"${key}"`);
        }
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        expect(readme).toContain("(docs/plan-json.md)");
        for (const text of [doc, readme]) {
            expect(text).not.toMatch(/\.\.\/shared|\/work\/shared/);
        }
    });
});
