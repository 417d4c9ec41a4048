/**
 * The command-line tools as a user runs them: `npm run plan` and `npm run policy`.
 * Most run in-process through the same entry (`runTool`, which `runMain` wraps), so their
 * lines count in coverage; two run as real processes through the real launcher, for the
 * contract only a process shows (stdout holds nothing but the JSON, exit codes).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runTool } from "../tools/lib/cli";
import { runPlan } from "../tools/plan";
import { runPolicy } from "../tools/policy";
import { evaluate } from "./helpers";

const ROOT = path.join(__dirname, "..");

interface Run { code: number | null; stdout: string; stderr: string }

/** A tool as a process, launched as package.json's scripts launch it. */
function spawnTool(script: string, args: string[]): Run {
    const r = spawnSync(process.execPath, ["-r", path.join(ROOT, "tools", "register.js"), path.join(ROOT, "tools", script), ...args], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, PULUMI_CONFIG: "", PULUMI_CONFIG_SECRET_KEYS: "" },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A tool in this process, with its output captured. */
async function inProcess(run: typeof runPlan, args: string[]): Promise<Run> {
    let stdout = "";
    let stderr = "";
    const io = { out: (t: string) => { stdout += t; }, err: (t: string) => { stderr += t; } };
    const code = await runTool(() => run(args, io), io);
    return { code, stdout, stderr };
}
const tool = (script: "plan.ts" | "policy.ts", args: string[]) => inProcess(script === "plan.ts" ? runPlan : runPolicy, args);

function brokenCopy(stack: string, from: string, to: string): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-")), `Pulumi.${stack}.yaml`);
    const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
    expect(text).toContain(from);
    fs.writeFileSync(file, text.replace(from, to));
    return file;
}

describe("npm run plan", () => {
    test("--json prints only the graph, as docs/plan-json.md says (a real process)", () => {
        const { code, stdout } = spawnTool("plan.ts", ["--stack", "private", "--json"]);
        expect(code).toBe(0);
        const graph = JSON.parse(stdout);
        expect(Object.keys(graph).sort()).toEqual(["outputs", "policy", "project", "resources", "stack", "summary"]);
        expect(Object.keys(graph.summary).sort()).toEqual(["advisories", "criticalPath", "mandatoryViolations", "protected", "providerResources", "resources", "serialSeconds", "unknownCreateTimes", "widestLevel"]);
        expect(graph).toMatchObject({ stack: "private", project: "ai-dualstack", policy: [] });
        for (const r of graph.resources) {
            expect(Object.keys(r).sort()).toEqual(["custom", "dependencies", "inputs", "name", "options", "parent", "provider", "type", "urn"]);
            expect(Object.keys(r.options).sort()).toEqual(["deleteBeforeReplace", "ignoreChanges", "protect", "retainOnDelete"]);
        }
        const urns = graph.resources.map((r: { urn: string }) => r.urn);
        expect(urns).toEqual([...urns].sort((a: string, b: string) => a.localeCompare(b)));
        // Secrets stay masked: no placeholder value leaks into the JSON.
        expect(stdout).not.toContain("plan-placeholder");
        expect(stdout).toContain('"[secret]"');
    });

    test("the same config gives the same JSON", async () => {
        const a = JSON.stringify((await evaluate("public")).graph);
        const b = JSON.stringify((await evaluate("public")).graph);
        expect(a).toBe(b);
    });

    test("the text view shows the tree, counts by type, policy and summary", async () => {
        const { code, stdout, stderr } = await tool("plan.ts", ["--stack", "public"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/^stack public \(ai-dualstack\)\n└─ public {2}\(ai-dualstack:env:Environment\)/);
        expect(stdout).toContain("public-db-ct  (proxmoxve:index/containerLegacy:ContainerLegacy)  [protected, retained]");
        expect(stdout).toMatch(/proxmoxve:index\/containerLegacy:ContainerLegacy +3/);
        expect(stdout).toContain("policy:\n  all policies pass");
        expect(stdout).toMatch(/summary: \d+ resources/);
        expect(stderr).toContain("evaluating stack public");
    });

    test("bad config: exit 1, one line per problem naming the key, no stack trace (a real process)", () => {
        const file = brokenCopy("private", `pciAddress: "0000:01:00.0"`, `pciAddress: "1:0"`);
        const { code, stdout, stderr } = spawnTool("plan.ts", ["--stack", "private", "--config", file]);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(stderr).toBe(`ai-dualstack:gpu.pciAddress: expected 0000:01:00.0 form, got "1:0"\n`);
    });

    test("--pci-inventory checks the GPU config against the node's own PCI list (pvesh JSON)", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-"));
        const device = (id: string, device: string, cls: string, group: number) => ({
            id, class: cls, vendor: "0x10de", device, device_name: "GPU", vendor_name: "NVIDIA Corporation",
            subsystem_vendor: "0x10de", subsystem_device: "0x2198", iommugroup: group, mdev: false,
        });
        const good = path.join(dir, "good.json");
        const rtx3060 = [
            { ...device("0000:02:00.0", "0x2504", "0x030000", 15), subsystem_vendor: "0x1462", subsystem_device: "0x397d" },
            { ...device("0000:02:00.1", "0x228e", "0x040300", 15), subsystem_vendor: "0x1462", subsystem_device: "0x397d" },
        ];
        fs.writeFileSync(good, JSON.stringify([device("0000:01:00.0", "0x2b85", "0x030000", 14), device("0000:01:00.1", "0x22e8", "0x040300", 14), ...rtx3060]));
        expect((await tool("plan.ts", ["--stack", "host", "--pci-inventory", good])).code).toBe(0);

        const moved = path.join(dir, "moved.json");
        fs.writeFileSync(moved, JSON.stringify({ pve: [device("0000:03:00.0", "0x2b85", "0x030000", 22), device("0000:03:00.1", "0x22e8", "0x040300", 22), ...rtx3060] }));
        // A real process: the failed program leaves registrations pending that would settle
        // (and be reported as unhandled) after this test.
        const r = spawnTool("plan.ts", ["--stack", "host", "--pci-inventory", moved]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("GPU preflight failed:\nPulumi.private.yaml ai-dualstack:gpu.pciAddress: no PCI device 0000:01:00.0 on node pve; a RTX 5090 (10de:2b85) is at 0000:03:00.0");
        expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    test("an unknown stack names the stacks there are", async () => {
        const { code, stderr } = await tool("plan.ts", ["--stack", "staging"]);
        expect(code).toBe(1);
        expect(stderr).toMatch(/no stack config .*Pulumi\.staging\.yaml \(stacks here: host, private, public\)/);
    });
});

describe("npm run plan: formats", () => {
    test("--format mermaid prints a flowchart of the stack; --stack all draws every stack file there is", async () => {
        const one = await tool("plan.ts", ["--stack", "public", "--format", "mermaid"]);
        expect(one.code).toBe(0);
        expect(one.stdout).toMatch(/^flowchart LR\n {2}subgraph public\["stack public"\]/);
        expect(one.stdout).not.toContain("subgraph private[");
        const all = await tool("plan.ts", ["--stack", "all", "--format", "mermaid"]);
        expect(all.code).toBe(0);
        const stacks = fs.readdirSync(ROOT).map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1]).filter(Boolean);
        expect(stacks.length).toBeGreaterThanOrEqual(2);
        for (const stack of stacks) {
            expect(all.stdout).toContain(`subgraph ${stack}["stack ${stack}"]`);
        }
    });

    test("--stack all is only for the diagram; an unknown format names the formats", async () => {
        const all = await tool("plan.ts", ["--stack", "all"]);
        expect(all.code).toBe(1);
        expect(all.stderr).toMatch(/^--stack all draws every stack's diagram: use it with --format mermaid/);
        const bad = await tool("plan.ts", ["--stack", "private", "--format", "dot"]);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/^--format must be one of text, json, mermaid/);
    });

    test("the text summary names the critical path and the rebuild estimate", async () => {
        const { stdout } = await tool("plan.ts", ["--stack", "private"]);
        expect(stdout).toMatch(/\n {2}critical path: \d+ resources, ~[\d a-z]+: private-\S+ -> /);
        expect(stdout).toMatch(/\n {2}rebuild estimate: ~[\d a-z]+ with Pulumi's parallelism \(up to \d+ at once\), ~[\d a-z]+ one at a time/);
    });
});

describe("npm run policy", () => {
    test("passes on the three committed stacks", async () => {
        const { code, stdout } = await tool("policy.ts", []);
        expect(code).toBe(0);
        expect(stdout).toContain("stack host: all policies pass\nstack private: all policies pass\nstack public: all policies pass\n0 mandatory violation(s)");
    });

    test("a pair that oversubscribes the node or shares a disk fails, each line naming both files", async () => {
        const file = brokenCopy("public", "memoryGiB: 24", "memoryGiB: 40");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("PUBLIC_A", "PRIVATE_A"));
        const policy = await tool("policy.ts", ["--stack", "public", "--config", file]);
        expect(policy.code).toBe(1);
        expect(policy.stdout).toContain("FAIL [mandatory] cross-environment (stack): Pulumi.host.yaml ai-dualstack:hosts[0].memoryGiB (128): node pve is oversubscribed: Pulumi.public.yaml ai-dualstack:aiVm.memoryGiB");
        expect(policy.stdout).toContain("FAIL [mandatory] cross-environment (stack): Pulumi.public.yaml ai-dualstack:storage.devices[0] (/dev/disk/by-id/nvme-CT1000P3PSSD8_PRIVATE_A) is the same disk as Pulumi.private.yaml ai-dualstack:storage.devices[0]");
        const plan = await tool("plan.ts", ["--stack", "public", "--config", file]);
        expect(plan.code).toBe(1);
        expect(plan.stdout).toBe("");
        expect(plan.stderr.trim().split("\n").filter((l: string) => !l.startsWith("evaluat"))).toHaveLength(2);
    });

    test("exits 1 naming the policy when the public VM is given the private mapping", async () => {
        const file = brokenCopy("public", "mappingName: public-gpu", "mappingName: private-gpu");
        const { code, stdout } = await tool("policy.ts", ["--stack", "public", "--config", file]);
        expect(code).toBe(1);
        expect(stdout).toContain("FAIL [mandatory] environment-isolation public-ai-vm: public stack: public-ai-vm names private-gpu (the private GPU mapping)");
    });

    test("npm run plan prints the plan, then exits 2 on a mandatory violation", async () => {
        // Valid config on both sides, but a public app pointed at the private AI VM: only the policy sees it.
        const file = brokenCopy("public", "      healthPath: /api/v1/ping\n", "      healthPath: /api/v1/ping\n      env: { NOTES_URL: \"http://10.10.10.10:8001\" }\n");
        const { code, stdout, stderr } = await tool("plan.ts", ["--stack", "public", "--config", file]);
        expect(code).toBe(2);
        expect(stdout).toMatch(/summary: \d+ resources/);
        expect(stderr).toContain("1 mandatory policy violation: pulumi preview/up would be refused (exit 2)");
        expect(stdout).toContain("FAIL environment-isolation public-chatbot-container: public stack: public-chatbot-container names 10.10.10.10 (an address in the private subnet 10.10.10.0/24)");
    });

    test("the public VM given the private mapping is refused as config, naming both files", async () => {
        const file = brokenCopy("public", "mappingName: public-gpu", "mappingName: private-gpu");
        const { code, stderr } = await tool("plan.ts", ["--stack", "public", "--config", file]);
        expect(code).toBe(1);
        expect(stderr).toContain("is the same PCI mapping name as");
    });
});
