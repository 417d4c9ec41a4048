/**
 * Teardown and rebuild, with the Automation API behind a fake: the safety gates, that
 * only the named stack is opened, what is destroyed and what is kept.
 */
import type { Backend, StateResource, StackOps } from "../tools/lib/automation";
import { CliMissingError, parseDeployment } from "../tools/lib/automation";
import type { PlanGraph } from "../graph";
import { planRebuild } from "../tools/lib/rebuildPlan";
import { environmentFromStackFile, runRebuild } from "../tools/rebuild";
import { evaluate } from "./helpers";

/** The stack's state as `pulumi stack export` would hold it after `pulumi up` of this graph. */
function stateOf(graph: PlanGraph): StateResource[] {
    return graph.resources.map((r) => ({
        urn: r.urn,
        type: r.type,
        custom: r.custom,
        protect: r.options.protect,
        dependencies: r.dependencies,
        parent: r.parent ?? undefined,
        provider: r.provider ? `${r.provider}::provider-id` : undefined,
        inputs: r.inputs,
    }));
}

interface Recorder {
    opened: string[];
    calls: string[];
    excluded: string[];
}

function fakeBackend(state: StateResource[], rec: Recorder): Backend {
    return {
        async open(name) {
            rec.opened.push(name);
            const ops: StackOps = {
                name,
                resources: async () => state,
                previewRefresh: async () => undefined,
                destroy: async (exclude, onOutput) => {
                    rec.calls.push("destroy");
                    rec.excluded.push(...exclude);
                    onOutput("Destroying (public):");
                    return { delete: 20 };
                },
                up: async (onOutput) => {
                    rec.calls.push("up");
                    onOutput("Updating (public):");
                    return { create: 20, same: 18 };
                },
            };
            return ops;
        },
    };
}

let publicState: StateResource[];
let privateState: StateResource[];

beforeAll(async () => {
    publicState = stateOf((await evaluate("public")).graph);
    privateState = stateOf((await evaluate("private")).graph);
});

function harness(state: StateResource[]) {
    const rec: Recorder = { opened: [], calls: [], excluded: [] };
    const out: string[] = [];
    const err: string[] = [];
    let clock = 0;
    const deps = {
        backend: fakeBackend(state, rec),
        io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) },
        environmentOf: environmentFromStackFile,
        now: () => (clock += 1500),
    };
    return { rec, out, err, deps };
}

describe("what a rebuild keeps", () => {
    test("protected data, what it needs and the kept guests' firewalls stay; the AI VM and the rest go", () => {
        const plan = planRebuild(publicState);
        const names = (list: StateResource[]) => list.filter((r) => r.custom).map((r) => r.urn.split("::").pop()).sort();
        expect(names(plan.keep)).toEqual([
            "public-ai-data", "public-cache-ct", "public-cache-firewall-options", "public-cache-firewall-rules",
            "public-db-ct", "public-db-firewall-options", "public-db-firewall-rules", "public-proxmox",
            "public-proxy-ct", "public-proxy-firewall-options", "public-proxy-firewall-rules",
        ]);
        expect(names(plan.destroy)).toEqual(expect.arrayContaining(["public-ai-vm", "public-ai-firewall-rules", "public-ai-firewall-ipfilter"]));
        expect(plan.unprotectedStateful).toEqual([]);
        // The kept but unprotected resources are excluded from the destroy explicitly.
        expect(plan.exclude.map((u) => u.split("::").pop())).toContain("public-db-firewall-rules");
        expect(plan.exclude.every((u) => !publicState.find((r) => r.urn === u)?.protect)).toBe(true);
    });

    test("a resource holding data without protect blocks the rebuild", () => {
        const unsafe = publicState.map((r) => (r.urn.endsWith("::public-db-ct") ? { ...r, protect: false } : r));
        expect(planRebuild(unsafe).unprotectedStateful).toEqual([
            { urn: expect.stringMatching(/::public-db-ct$/), what: "container with a data mount point" },
        ]);
    });

    test("reads an exported deployment", () => {
        expect(parseDeployment({ resources: [{ urn: "u", type: "t", custom: true, protect: true, dependencies: ["d"], provider: "p::id", inputs: { a: 1 } }, { urn: "gone", type: "t", delete: true }] }))
            .toEqual([{ urn: "u", type: "t", custom: true, protect: true, dependencies: ["d"], parent: undefined, provider: "p::id", inputs: { a: 1 } }]);
    });
});

describe("npm run rebuild", () => {
    test("refuses without --yes and shows what it would destroy and keep", async () => {
        const h = harness(publicState);
        expect(await runRebuild(["--stack", "public"], h.deps)).toBe(1);
        expect(h.rec.calls).toEqual([]);
        expect(h.out.join("")).toMatch(/will destroy \d+ resources:\n(.|\n)*public-ai-vm/);
        expect(h.out.join("")).toContain("= public-db-ct (proxmoxve:index/containerLegacy:ContainerLegacy) [protected]");
        expect(h.out.join("")).toContain("= public-db-firewall-rules (proxmoxve:firewall/rulesLegacy:RulesLegacy)");
        expect(h.err.join("")).toContain("Re-run with --yes to tear down and rebuild stack public.");
    });

    test("refuses the private environment unless --include-private, before opening anything", async () => {
        const h = harness(privateState);
        expect(await runRebuild(["--stack", "private", "--yes"], h.deps)).toBe(1);
        expect(h.rec.opened).toEqual([]);
        expect(h.err.join("")).toContain("refusing to touch the private environment (stack private) without --include-private");
        const ok = harness(privateState);
        expect(await runRebuild(["--stack", "private", "--yes", "--include-private"], ok.deps)).toBe(0);
        expect(ok.rec.opened).toEqual(["private"]);
    });

    test("with --yes: destroy (protected and their needs excluded), then up; only this stack; phases timed", async () => {
        const h = harness(publicState);
        expect(await runRebuild(["--stack", "public", "--yes"], h.deps)).toBe(0);
        expect(h.rec.opened).toEqual(["public"]);
        expect(h.rec.calls).toEqual(["destroy", "up"]);
        expect(h.rec.excluded).toEqual(planRebuild(publicState).exclude);
        const out = h.out.join("");
        expect(out).toMatch(/phase preflight: [\d.]+ s\n/);
        expect(out).toMatch(/phase destroy: [\d.]+ s\n/);
        expect(out).toMatch(/phase up: [\d.]+ s\n/);
        expect(out).toMatch(/rebuild of public done in [\d.]+ s \(total\)/);
    });

    test("--teardown-only stops after the destroy, still keeping protected data", async () => {
        const h = harness(publicState);
        expect(await runRebuild(["--stack", "public", "--yes", "--teardown-only"], h.deps)).toBe(0);
        expect(h.rec.calls).toEqual(["destroy"]);
        expect(h.out.join("")).toContain("teardown of public done");
    });

    test("refuses when data is unprotected, and says why", async () => {
        const h = harness(publicState.map((r) => (r.urn.endsWith("::public-ai-data") ? { ...r, protect: false } : r)));
        expect(await runRebuild(["--stack", "public", "--yes"], h.deps)).toBe(1);
        expect(h.rec.calls).toEqual([]);
        expect(h.err.join("")).toMatch(/refusing: these hold data but are not protected(.|\n)*public-ai-data \(VM owning a data disk\)/);
    });

    test("refuses the host stack before opening anything: it is never torn down", async () => {
        const h = harness(publicState);
        expect(await runRebuild(["--stack", "host", "--yes"], h.deps)).toBe(1);
        expect(h.rec.opened).toEqual([]);
        expect(h.err.join("")).toMatch(/^rebuild: stack host is the host stack/);
    });

    test("a missing Pulumi CLI is one clear line", async () => {
        const h = harness(publicState);
        h.deps.backend = { open: async () => { throw new CliMissingError(); } };
        expect(await runRebuild(["--stack", "public", "--yes"], h.deps)).toBe(1);
        expect(h.err.join("")).toMatch(/^rebuild: Pulumi CLI not found/);
    });
});
