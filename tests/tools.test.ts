/**
 * The command-line tools as a user runs them: `npm run plan` and `npm run policy`.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { evaluate } from "./helpers";

const ROOT = path.join(__dirname, "..");

function tool(script: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "tools", script), ...args], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, PULUMI_CONFIG: "", PULUMI_CONFIG_SECRET_KEYS: "" },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function brokenCopy(stack: string, from: string, to: string): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-")), `Pulumi.${stack}.yaml`);
    const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
    expect(text).toContain(from);
    fs.writeFileSync(file, text.replace(from, to));
    return file;
}

describe("npm run plan", () => {
    test("--json prints only the graph, as the DESIGN contract says", () => {
        const { code, stdout } = tool("plan.ts", ["--stack", "private", "--json"]);
        expect(code).toBe(0);
        const graph = JSON.parse(stdout);
        expect(Object.keys(graph).sort()).toEqual(["outputs", "policy", "project", "resources", "stack"]);
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

    test("the text view shows the tree, counts by type, policy and summary", () => {
        const { code, stdout, stderr } = tool("plan.ts", ["--stack", "public"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/^stack public \(ai-dualstack\)\n└─ public {2}\(ai-dualstack:env:Environment\)/);
        expect(stdout).toContain("public-db-ct  (proxmoxve:index/containerLegacy:ContainerLegacy)  [protected, retained]");
        expect(stdout).toMatch(/proxmoxve:index\/containerLegacy:ContainerLegacy +3/);
        expect(stdout).toContain("policy:\n  all policies pass");
        expect(stdout).toMatch(/summary: \d+ resources/);
        expect(stderr).toContain("evaluating stack public");
    });

    test("bad config: exit 1, one line per problem naming the key, no stack trace", () => {
        const file = brokenCopy("private", `pciAddress: "0000:01:00.0"`, `pciAddress: "1:0"`);
        const { code, stdout, stderr } = tool("plan.ts", ["--stack", "private", "--config", file]);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(stderr).toBe(`ai-dualstack:gpu.pciAddress: expected 0000:01:00.0 form, got "1:0"\n`);
    });

    test("--pci-inventory checks the GPU config against the node's own PCI list (pvesh JSON)", () => {
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
        expect(tool("plan.ts", ["--stack", "host", "--pci-inventory", good]).code).toBe(0);

        const moved = path.join(dir, "moved.json");
        fs.writeFileSync(moved, JSON.stringify({ pve: [device("0000:03:00.0", "0x2b85", "0x030000", 22), device("0000:03:00.1", "0x22e8", "0x040300", 22), ...rtx3060] }));
        const r = tool("plan.ts", ["--stack", "host", "--pci-inventory", moved]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("GPU preflight failed:\nPulumi.private.yaml ai-dualstack:gpu.pciAddress: no PCI device 0000:01:00.0 on node pve; a RTX 5090 (10de:2b85) is at 0000:03:00.0");
        expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    test("an unknown stack names the stacks there are", () => {
        const { code, stderr } = tool("plan.ts", ["--stack", "staging"]);
        expect(code).toBe(1);
        expect(stderr).toMatch(/no stack config .*Pulumi\.staging\.yaml \(stacks here: host, private, public\)/);
    });
});

describe("npm run policy", () => {
    test("passes on the three committed stacks", () => {
        const { code, stdout } = tool("policy.ts", []);
        expect(code).toBe(0);
        expect(stdout).toContain("stack host: all policies pass\nstack private: all policies pass\nstack public: all policies pass\n0 mandatory violation(s)");
    });

    test("a pair that oversubscribes the node or shares a disk fails, each line naming both files", () => {
        const file = brokenCopy("public", "memoryGiB: 24", "memoryGiB: 40");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("PUBLIC_A", "PRIVATE_A"));
        const policy = tool("policy.ts", ["--stack", "public", "--config", file]);
        expect(policy.code).toBe(1);
        expect(policy.stdout).toContain("FAIL [mandatory] cross-environment (stack): Pulumi.host.yaml ai-dualstack:hosts[0].memoryGiB (128): node pve is oversubscribed: Pulumi.public.yaml ai-dualstack:aiVm.memoryGiB");
        expect(policy.stdout).toContain("FAIL [mandatory] cross-environment (stack): Pulumi.public.yaml ai-dualstack:storage.devices[0] (/dev/disk/by-id/nvme-CT1000P3PSSD8_PRIVATE_A) is the same disk as Pulumi.private.yaml ai-dualstack:storage.devices[0]");
        const plan = tool("plan.ts", ["--stack", "public", "--config", file]);
        expect(plan.code).toBe(1);
        expect(plan.stdout).toBe("");
        expect(plan.stderr.trim().split("\n").filter((l) => !l.startsWith("evaluating"))).toHaveLength(2);
    });

    test("exits 1 naming the policy when the public VM is given the private mapping", () => {
        const file = brokenCopy("public", "mappingName: public-gpu", "mappingName: private-gpu");
        const { code, stdout } = tool("policy.ts", ["--stack", "public", "--config", file]);
        expect(code).toBe(1);
        expect(stdout).toContain("FAIL [mandatory] environment-isolation public-ai-vm: public stack: public-ai-vm names private-gpu (the private GPU mapping)");
    });

    test("npm run plan prints the plan, then exits 2 on a mandatory violation", () => {
        // Valid config on both sides, but a public app pointed at the private AI VM: only the policy sees it.
        const file = brokenCopy("public", "      healthPath: /api/v1/ping\n", "      healthPath: /api/v1/ping\n      env: { NOTES_URL: \"http://10.10.10.10:8001\" }\n");
        const { code, stdout, stderr } = tool("plan.ts", ["--stack", "public", "--config", file]);
        expect(code).toBe(2);
        expect(stdout).toMatch(/summary: \d+ resources/);
        expect(stderr).toContain("1 mandatory policy violation: pulumi preview/up would be refused (exit 2)");
        expect(stdout).toContain("FAIL environment-isolation public-chatbot-container: public stack: public-chatbot-container names 10.10.10.10 (an address in the private subnet 10.10.10.0/24)");
    });

    test("the public VM given the private mapping is refused as config, naming both files", () => {
        const file = brokenCopy("public", "mappingName: public-gpu", "mappingName: private-gpu");
        const { code, stderr } = tool("plan.ts", ["--stack", "public", "--config", file]);
        expect(code).toBe(1);
        expect(stderr).toContain("is the same PCI mapping name as");
    });
});
