/**
 * The host-preparation scripts: shellcheck-clean, and run for real against a scratch root
 * (AI_DUALSTACK_ROOT) with the boot tools stubbed, to show that the two stacks' steps
 * add up and that reverting one leaves the other's in place.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostPrepSteps, hugepageToken, iommuTokens, pciSlot, scriptCommand } from "../components/host/hostPrep";
import { evaluate } from "./helpers";

const SCRIPTS = path.join(__dirname, "..", "components", "host", "scripts");

test("every host script passes shellcheck with no warnings", () => {
    const scripts = [
        ...fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")).map((f) => path.join(SCRIPTS, f)),
        path.join(__dirname, "..", ".ci", "run"),
    ];
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    expect(execFileSync("shellcheck", ["--severity=style", ...scripts], { encoding: "utf8" })).toBe("");
});

describe("against a scratch root", () => {
    let root: string;
    let bin: string;
    let calls: string;

    beforeEach(() => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-prep-"));
        root = path.join(dir, "root");
        bin = path.join(dir, "bin");
        calls = path.join(dir, "calls");
        fs.mkdirSync(path.join(root, "etc", "kernel"), { recursive: true });
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(root, "etc", "kernel", "cmdline"), "root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet\n");
        for (const tool of ["proxmox-boot-tool", "update-initramfs", "update-grub"]) {
            fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\n`, { mode: 0o755 });
        }
    });

    /** Runs a step's command exactly as the remote.Command would, with bash reading the script from stdin. */
    const run = (commandLine: string) => execFileSync("bash", ["-c", commandLine], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: root },
    });
    const cmdline = () => fs.readFileSync(path.join(root, "etc", "kernel", "cmdline"), "utf8").trim();

    test("IOMMU and hugepages of both stacks add up, and each reverts only its own", () => {
        run(scriptCommand("kernel-cmdline.sh", ["apply", "private-iommu", ...iommuTokens("intel")], false));
        run(scriptCommand("kernel-cmdline.sh", ["apply", "private-hugepages", "hugepages-1G=64"], false));
        run(scriptCommand("kernel-cmdline.sh", ["apply", "public-iommu", ...iommuTokens("intel")], false));
        run(scriptCommand("kernel-cmdline.sh", ["apply", "public-hugepages", "hugepages-1G=24"], false));
        expect(cmdline()).toBe("root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=88");

        run(scriptCommand("kernel-cmdline.sh", ["revert", "private-hugepages"], false));
        run(scriptCommand("kernel-cmdline.sh", ["revert", "private-iommu"], false));
        expect(cmdline()).toBe("root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=24");

        run(scriptCommand("kernel-cmdline.sh", ["revert", "public-hugepages"], false));
        run(scriptCommand("kernel-cmdline.sh", ["revert", "public-iommu"], false));
        expect(cmdline()).toBe("root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet");
        expect(fs.readFileSync(calls, "utf8")).toContain("proxmox-boot-tool refresh");
    });

    test("applying the same step twice changes nothing the second time", () => {
        run(scriptCommand("kernel-cmdline.sh", ["apply", "private-iommu", "intel_iommu=on", "iommu=pt"], false));
        const again = run(scriptCommand("kernel-cmdline.sh", ["apply", "private-iommu", "intel_iommu=on", "iommu=pt"], false));
        expect(again).toContain("private-iommu unchanged");
        expect(fs.readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(1);
    });

    test("GRUB hosts get a drop-in built from all fragments", () => {
        fs.rmSync(path.join(root, "etc", "kernel", "cmdline"));
        run(scriptCommand("kernel-cmdline.sh", ["apply", "public-iommu", ...iommuTokens("amd")], false));
        expect(fs.readFileSync(path.join(root, "etc", "default", "grub.d", "ai-dualstack.cfg"), "utf8"))
            .toBe('GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} amd_iommu=on iommu=pt"\n');
        run(scriptCommand("kernel-cmdline.sh", ["revert", "public-iommu"], false));
        expect(fs.existsSync(path.join(root, "etc", "default", "grub.d", "ai-dualstack.cfg"))).toBe(false);
    });

    test("each card is bound to vfio-pci by its own files, and revert removes exactly those", () => {
        run(scriptCommand("vfio-bind.sh", ["apply", "0000:01:00"], false));
        run(scriptCommand("vfio-bind.sh", ["apply", "0000:02:00"], false));
        const initTop = path.join(root, "etc", "initramfs-tools", "scripts", "init-top");
        expect(fs.readdirSync(initTop).sort()).toEqual(["ai-dualstack-vfio-0000-01-00", "ai-dualstack-vfio-0000-02-00"]);
        expect(fs.readFileSync(path.join(initTop, "ai-dualstack-vfio-0000-01-00"), "utf8")).toContain("/sys/bus/pci/devices/0000:01:00.*");

        run(scriptCommand("vfio-bind.sh", ["revert", "0000:01:00"], false));
        const left = execFileSync("find", [root, "-type", "f", "-path", "*vfio*"], { encoding: "utf8" }).trim().split("\n").map((f) => path.basename(f)).sort();
        expect(left).toEqual(["ai-dualstack-vfio-0000-02-00", "ai-dualstack-vfio-0000-02-00", "ai-dualstack-vfio-0000-02-00.conf", "ai-dualstack-vfio-0000-02-00.conf"]);
    });

    test("bad arguments are refused before anything is written", () => {
        const refuse = (commandLine: string) => {
            const r = spawnSync("bash", ["-c", commandLine], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: root } });
            return { status: r.status, stderr: r.stderr };
        };
        expect(refuse(scriptCommand("vfio-bind.sh", ["apply", "0000:01:00.0; rm -rf /"], false)))
            .toEqual({ status: 1, stderr: "vfio-bind: bad PCI slot '0000:01:00.0; rm -rf /' (expected 0000:01:00)\n" });
        expect(refuse(scriptCommand("kernel-cmdline.sh", ["apply", "x", "a b"], false)))
            .toEqual({ status: 1, stderr: "kernel-cmdline: bad kernel token 'a b'\n" });
        expect(fs.existsSync(path.join(root, "etc", "ai-dualstack"))).toBe(false);
    });
});

describe("host-prep steps", () => {
    test("per GPU node an IOMMU and a vfio step, and hugepages on the VM's node, with sudo for non-root", async () => {
        const { config } = await evaluate("public");
        const steps = hostPrepSteps({ environment: "public", hosts: config.hosts, gpu: config.gpu, aiVm: config.aiVm, sudo: true });
        expect(steps.map((s) => [s.id, s.node])).toEqual([["iommu-pve", "pve"], ["vfio-pve", "pve"], ["hugepages-pve", "pve"]]);
        steps.forEach((s) => {
            expect(s.create.startsWith("sudo bash -s -- apply ")).toBe(true);
            expect(s.delete.startsWith("sudo bash -s -- revert ")).toBe(true);
        });
    });

    test("a mapping that spans nodes prepares every node with that node's own slot", async () => {
        const { config } = await evaluate("private", (c) => {
            (c["ai-dualstack:hosts"] as unknown[]).push({ name: "pve2", address: "192.168.1.11", cpuVendor: "amd", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPve2" });
            (c["ai-dualstack:gpu"] as Record<string, unknown>).otherNodes = [{ node: "pve2", pciAddress: "0000:41:00.0", iommuGroup: 30, subsystemId: "10de:2198" }];
        });
        const steps = hostPrepSteps({ environment: "private", hosts: config.hosts, gpu: config.gpu, aiVm: config.aiVm, sudo: false });
        expect(steps.map((s) => s.id)).toEqual(["iommu-pve", "vfio-pve", "iommu-pve2", "vfio-pve2", "hugepages-pve"]);
        expect(steps[2].create).toContain("apply private-iommu amd_iommu=on iommu=pt");
        expect(steps[3].create).toContain("apply 0000:41:00");
    });

    test("helpers", () => {
        expect(pciSlot("0000:01:00.0")).toBe("0000:01:00");
        expect(hugepageToken({ hugepages: "2M", memoryGiB: 8 })).toBe("hugepages-2M=4096");
        expect(hugepageToken({ hugepages: "none", memoryGiB: 8 })).toBeUndefined();
    });
});
