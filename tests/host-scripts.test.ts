/**
 * host-prep.sh, run for real against scratch roots (AI_DUALSTACK_ROOT) for each way a PVE
 * node boots, with the boot tools stubbed to record their calls:
 *   systemd-boot  ZFS root on UEFI: /etc/kernel/proxmox-boot-uuids, `proxmox-boot-tool status` lists uefi ESPs
 *   GRUB on ESP   ZFS root on legacy BIOS or Secure Boot: ESP list present, status lists grub ESPs,
 *                 and /etc/kernel/cmdline exists (the installer always writes it) but is not read
 *   plain GRUB    ext4/LVM root: no ESP list
 * Idempotent, exact revert (the files come back byte for byte), retry-safe when a boot tool
 * fails, hugepages only through the command line (never reserved twice after a reboot), an
 * admin's own tokens left alone, and many concurrent apply/revert runs end with exactly the
 * right command line.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostPreparation, hugepageReservation, pciSlot, scriptCommand } from "../components/host/hostPrep";
import { evaluateHost, key, scriptEnv } from "./helpers";

const SCRIPTS = path.join(__dirname, "..", "components", "host", "scripts");
const ZFS_CMDLINE = "root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet";
const OURS = "intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=88";
const APPLY = ["apply", "iommu=intel", "vfio=0000:01:00", "vfio=0000:02:00", "hugepages-1G=88"];
const HUGE_1G = "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";

test("every host script passes shellcheck with no warnings", () => {
    const scripts = [
        ...fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")).map((f) => path.join(SCRIPTS, f)),
        path.join(__dirname, "..", ".ci", "run"),
    ];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    expect(execFileSync("shellcheck", ["--severity=style", ...scripts], { encoding: "utf8" })).toBe("");
});

type Layout = "systemd-boot" | "grub-esp" | "grub";

interface Scratch {
    readonly root: string;
    readonly calls: () => string[];
    readonly run: (args: readonly string[]) => string;
    readonly runAsync: (args: readonly string[]) => Promise<number>;
    readonly file: (rel: string) => string | undefined;
    /** makes a stubbed tool exit 1 (as a failed update-initramfs or refresh would) until called again with false */
    readonly failing: (tool: string, fail: boolean) => void;
    /** every file under the root except the lock, with its content */
    readonly snapshot: () => Record<string, string>;
}

function scratch(layout: Layout): Scratch {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-prep-"));
    const root = path.join(dir, "root");
    const bin = path.join(dir, "bin");
    const callLog = path.join(dir, "calls");
    fs.mkdirSync(path.join(root, "etc", "kernel"), { recursive: true });
    fs.mkdirSync(path.join(root, "etc", "default", "grub.d"), { recursive: true });
    fs.mkdirSync(path.dirname(path.join(root, HUGE_1G)), { recursive: true });
    fs.writeFileSync(path.join(root, HUGE_1G), "0\n");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(root, "etc", "default", "grub"), 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n');
    if (layout !== "grub") {
        fs.writeFileSync(path.join(root, "etc", "kernel", "cmdline"), `${ZFS_CMDLINE}\n`);
        fs.writeFileSync(path.join(root, "etc", "kernel", "proxmox-boot-uuids"), "7B1C-3A2D\n");
    }
    // What proxmox-boot-tool status prints (proxmox-kernel-helper bin/proxmox-boot-tool, _status_detail).
    const status = layout === "systemd-boot"
        ? "System currently booted with uefi\n7B1C-3A2D is configured with: uefi (versions: 6.8.12-4-pve)"
        : "System currently booted with legacy bios\n7B1C-3A2D is configured with: grub (versions: 6.8.12-4-pve)";
    // Each stub logs its call; it exits 1 while a fail-<tool> file exists next to it.
    const fails = (tool: string) => `if [ -e "${dir}/fail-${tool}" ]; then exit 1; fi\n`;
    fs.writeFileSync(path.join(bin, "proxmox-boot-tool"), `#!/bin/sh\nif [ "$1" = status ]; then printf '%s\\n' '${status.replace(/\n/g, "' '")}'; exit 0; fi\necho "proxmox-boot-tool $*" >> "${callLog}"\n${fails("proxmox-boot-tool")}`, { mode: 0o755 });
    for (const tool of ["update-initramfs", "update-grub"]) {
        fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${callLog}"\n${fails(tool)}`, { mode: 0o755 });
    }
    const env = scriptEnv({ PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: root });
    const read = (rel: string) => (fs.existsSync(path.join(root, rel)) ? fs.readFileSync(path.join(root, rel), "utf8") : undefined);
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    return {
        root,
        calls: () => (fs.existsSync(callLog) ? fs.readFileSync(callLog, "utf8").trim().split("\n").map((l) => l.trim()) : []),
        run: (args) => execFileSync("bash", ["-c", scriptCommand("host-prep.sh", args, false)], { encoding: "utf8", env }),
        runAsync: (args) => new Promise((resolve) => {
            const child = spawn("bash", ["-c", scriptCommand("host-prep.sh", args, false)], { env, stdio: "ignore" });
            child.on("exit", (code) => resolve(code ?? -1));
        }),
        file: read,
        failing: (tool, fail) => (fail ? fs.writeFileSync(path.join(dir, `fail-${tool}`), "") : fs.rmSync(path.join(dir, `fail-${tool}`), { force: true })),
        snapshot: () => Object.fromEntries(walk(root).filter((f) => !f.endsWith(".lock")).map((f) => [path.relative(root, f), fs.readFileSync(f, "utf8")])),
    };
}

const cmdlineOf = (s: Scratch) => s.file("etc/kernel/cmdline")?.trim();
const dropIn = (s: Scratch) => s.file("etc/default/grub.d/ai-dualstack.cfg");

describe.each<[Layout, string]>([
    ["systemd-boot", "proxmox-boot-tool refresh"],
    ["grub-esp", "proxmox-boot-tool refresh"],
    ["grub", "update-grub"],
])("on a %s node", (layout, refresh) => {
    test("apply writes the tokens where that boot loader reads them, and nowhere else", () => {
        const s = scratch(layout);
        const out = s.run(APPLY);
        expect(out).toContain(`boot loader: ${layout}; running ${refresh}`);
        if (layout === "systemd-boot") {
            expect(cmdlineOf(s)).toBe(`${ZFS_CMDLINE} ${OURS}`);
            expect(dropIn(s)).toBeUndefined();
        } else {
            expect(dropIn(s)).toBe(`GRUB_CMDLINE_LINUX_DEFAULT="\${GRUB_CMDLINE_LINUX_DEFAULT} ${OURS}"\n`);
            // GRUB never reads /etc/kernel/cmdline: it stays as the installer wrote it.
            expect(cmdlineOf(s)).toBe(layout === "grub" ? undefined : ZFS_CMDLINE);
        }
        expect(s.calls()).toEqual(["update-initramfs -u -k all", refresh]);
        expect(s.file("etc/initramfs-tools/scripts/init-top/ai-dualstack-vfio-0000-01-00")).toContain("/sys/bus/pci/devices/0000:01:00.*");
        expect(s.file("etc/modprobe.d/ai-dualstack-vfio-0000-02-00.conf")).toContain("softdep nvidia pre: vfio-pci");
        // Hugepages come with the reboot (qemu-server reserves a VM's pages at start until then).
        expect(s.file(HUGE_1G)?.trim()).toBe("0");
        expect(out).toContain("1G hugepages: the running kernel holds 0, the boot command line asks for 88; reboot to apply");
        expect(s.file("etc/ai-dualstack/boot-commands.pending")).toBeUndefined();
    });

    test("a second apply changes nothing and calls no boot tool", () => {
        const s = scratch(layout);
        s.run(APPLY);
        const before = s.snapshot();
        const out = s.run(APPLY);
        expect(out).toContain("unchanged");
        expect(s.snapshot()).toEqual(before);
        expect(s.calls()).toHaveLength(2);
    });

    test("revert restores every file exactly", () => {
        const s = scratch(layout);
        const pristine = s.snapshot();
        s.run(APPLY);
        s.run(["revert"]);
        expect(s.snapshot()).toEqual(pristine);
        expect(s.calls()).toEqual(["update-initramfs -u -k all", refresh, "update-initramfs -u -k all", refresh]);
    });

    test("a smaller state converges: a card and pages that are no longer wanted go", () => {
        const s = scratch(layout);
        s.run(APPLY);
        const out = s.run(["apply", "iommu=intel", "vfio=0000:01:00", "hugepages-1G=64"]);
        expect(fs.readdirSync(path.join(s.root, "etc", "initramfs-tools", "scripts", "init-top"))).toEqual(["ai-dualstack-vfio-0000-01-00"]);
        expect(out).not.toContain("unchanged");
        const where = layout === "systemd-boot" ? cmdlineOf(s) : dropIn(s);
        expect(where).toContain("hugepages=64");
        expect(where).not.toContain("hugepages=88");
    });
});

test("on AMD only iommu=pt is written: amd_iommu=on is no value the kernel knows", () => {
    const s = scratch("systemd-boot");
    s.run(["apply", "iommu=amd", "vfio=0000:41:00"]);
    expect(cmdlineOf(s)).toBe(`${ZFS_CMDLINE} iommu=pt`);
});

describe("hugepages come only from the kernel command line", () => {
    test("after a reboot the command line's pages are not reserved a second time", () => {
        // Reproduces the review's 88 -> 146 GiB: an earlier version reserved 30 pages at
        // runtime (all that free memory allowed) and recorded them; the reboot then reserved
        // all 88 from the command line, and the next apply added 88 - 30 more.
        const s = scratch("systemd-boot");
        s.run(APPLY);
        fs.writeFileSync(path.join(s.root, HUGE_1G), "88\n");
        fs.writeFileSync(path.join(s.root, "etc", "ai-dualstack", "hugepages.reserved"), "1048576kB=30\n");
        const out = s.run(APPLY);
        expect(s.file(HUGE_1G)?.trim()).toBe("88");
        expect(out).toContain("unchanged");
        expect(out).not.toContain("hugepages:");
        expect(s.file("etc/ai-dualstack/hugepages.reserved")).toBeUndefined();
    });

    test("a changed count is a change of the command line, reported as one, and the running pool is left alone", () => {
        const s = scratch("grub");
        fs.writeFileSync(path.join(s.root, HUGE_1G), "4\n");
        s.run(["apply", "hugepages-1G=24"]);
        const out = s.run(["apply", "hugepages-1G=16"]);
        expect(out).toContain("running update-grub");
        expect(out).toContain("the boot command line now carries: default_hugepagesz=1G hugepagesz=1G hugepages=16 (grub); reboot the node to apply");
        expect(out).toContain("1G hugepages: the running kernel holds 4, the boot command line asks for 16");
        expect(out).not.toContain("unchanged");
        s.run(["revert"]);
        expect(s.file(HUGE_1G)?.trim()).toBe("4");
    });
});

describe("a failed boot command is run again by the next run (retry-safe)", () => {
    test.each<[Layout, string, string]>([
        ["systemd-boot", "proxmox-boot-tool", "proxmox-boot-tool refresh"],
        ["grub", "update-grub", "update-grub"],
        ["grub", "update-initramfs", "update-grub"],
    ])("on %s when %s fails", (layout, tool, refresh) => {
        const s = scratch(layout);
        s.failing(tool, true);
        expect(() => s.run(APPLY)).toThrow();
        expect(s.file("etc/ai-dualstack/boot-commands.pending")?.split("\n").filter(Boolean).sort()).toEqual(["update-initramfs -u -k all", refresh].sort());
        const callsBefore = s.calls().length;
        s.failing(tool, false);
        // The files are already right; the retry still runs what the failed run left pending.
        const out = s.run(APPLY);
        expect(out).toContain("an earlier run stopped before its boot commands finished");
        expect(out).not.toContain("unchanged");
        expect(s.calls().slice(callsBefore)).toEqual(["update-initramfs -u -k all", refresh]);
        expect(s.file("etc/ai-dualstack/boot-commands.pending")).toBeUndefined();
        // Once they succeeded, the next run is unchanged and calls nothing.
        expect(s.run(APPLY)).toContain("unchanged");
        expect(s.calls().slice(callsBefore)).toHaveLength(2);
    });

    test("a failed revert is finished by the next revert, and the state directory goes", () => {
        const s = scratch("systemd-boot");
        const pristine = s.snapshot();
        s.run(APPLY);
        s.failing("proxmox-boot-tool", true);
        expect(() => s.run(["revert"])).toThrow();
        s.failing("proxmox-boot-tool", false);
        expect(s.run(["revert"])).toContain("running proxmox-boot-tool refresh");
        expect(s.snapshot()).toEqual(pristine);
    });
});

describe("an admin's own command-line tokens", () => {
    const ADMIN = `${ZFS_CMDLINE} iommu=pt`;
    const setup = () => {
        const s = scratch("systemd-boot");
        fs.writeFileSync(path.join(s.root, "etc", "kernel", "cmdline"), `${ADMIN}\n`);
        return s;
    };

    test("are not added twice, and only the tokens this script added are recorded", () => {
        const s = setup();
        s.run(APPLY);
        expect(cmdlineOf(s)).toBe(`${ADMIN} intel_iommu=on default_hugepagesz=1G hugepagesz=1G hugepages=88`);
        expect(s.file("etc/ai-dualstack/cmdline.managed")?.trim()).toBe("intel_iommu=on default_hugepagesz=1G hugepagesz=1G hugepages=88");
    });

    test("a second apply changes nothing", () => {
        const s = setup();
        s.run(APPLY);
        const before = s.snapshot();
        expect(s.run(APPLY)).toContain("unchanged");
        expect(s.snapshot()).toEqual(before);
    });

    test("revert leaves them where the admin put them", () => {
        const s = setup();
        const pristine = s.snapshot();
        s.run(APPLY);
        s.run(["apply", "iommu=amd", "vfio=0000:01:00"]);
        expect(cmdlineOf(s)).toBe(ADMIN);
        s.run(["revert"]);
        expect(s.snapshot()).toEqual(pristine);
        expect(cmdlineOf(s)).toBe(ADMIN);
    });
});

test("tokens from the two-stack layout's scripts are taken out on the first apply", () => {
    const s = scratch("systemd-boot");
    fs.writeFileSync(path.join(s.root, "etc", "kernel", "cmdline"), `${ZFS_CMDLINE} intel_iommu=on iommu=pt amd_iommu=on hugepages=24\n`);
    fs.mkdirSync(path.join(s.root, "etc", "ai-dualstack", "cmdline.d"), { recursive: true });
    fs.writeFileSync(path.join(s.root, "etc", "ai-dualstack", "cmdline.managed"), "intel_iommu=on iommu=pt amd_iommu=on hugepages=24\n");
    s.run(APPLY);
    expect(cmdlineOf(s)).toBe(`${ZFS_CMDLINE} ${OURS}`);
    expect(fs.existsSync(path.join(s.root, "etc", "ai-dualstack", "cmdline.d"))).toBe(false);
});

test.each<Layout>(["systemd-boot", "grub"])("40 concurrent apply/revert runs on %s serialise on the lock and end exactly right", async (layout) => {
    const s = scratch(layout);
    const pristine = s.snapshot();
    // 40 runs at once, applies and reverts interleaved; then one final apply and one final revert.
    const codes = await Promise.all(Array.from({ length: 40 }, (_, i) => s.runAsync(i % 2 === 0 ? APPLY : ["revert"])));
    expect(codes.every((c) => c === 0)).toBe(true);
    const line = layout === "systemd-boot" ? cmdlineOf(s) ?? "" : dropIn(s) ?? "";
    // Whatever ran last, the line holds our tokens once or not at all: never lost, never doubled.
    for (const token of ["intel_iommu=on", "hugepages=88"]) {
        expect(line.split(/[\s"]/).filter((t) => t === token).length).toBeLessThanOrEqual(1);
    }
    await s.runAsync(APPLY);
    expect(layout === "systemd-boot" ? cmdlineOf(s) : dropIn(s)).toBe(layout === "systemd-boot" ? `${ZFS_CMDLINE} ${OURS}` : `GRUB_CMDLINE_LINUX_DEFAULT="\${GRUB_CMDLINE_LINUX_DEFAULT} ${OURS}"\n`);
    await s.runAsync(["revert"]);
    expect(s.snapshot()).toEqual(pristine);
}, 120_000);

test("bad arguments are refused before anything is written", () => {
    const s = scratch("grub");
    const refuse = (args: string[]) => {
        const r = spawnSync("bash", ["-c", scriptCommand("host-prep.sh", args, false)], { encoding: "utf8", env: scriptEnv({ AI_DUALSTACK_ROOT: s.root }) });
        return { status: r.status, stderr: r.stderr };
    };
    expect(refuse(["apply", "vfio=0000:01:00.0; rm -rf /"])).toEqual({ status: 1, stderr: "host-prep: bad PCI slot '0000:01:00.0; rm -rf /' (expected 0000:01:00)\n" });
    expect(refuse(["apply", "hugepages-1G=lots"])).toEqual({ status: 1, stderr: "host-prep: bad hugepage count 'hugepages-1G=lots'\n" });
    expect(refuse(["apply", "iommu=arm"])).toEqual({ status: 1, stderr: "host-prep: unknown argument 'iommu=arm'\n" });
    expect(refuse(["revert", "x"])).toEqual({ status: 1, stderr: "host-prep: revert takes no arguments\n" });
    expect(fs.existsSync(path.join(s.root, "etc", "ai-dualstack"))).toBe(false);
});

describe("the plan of host preparation", () => {
    test("per node one run with sudo for a non-root SSH user; nodes that need nothing get none", async () => {
        const { host } = await evaluateHost((c) => {
            key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve2", address: "192.168.1.11", cpuVendor: "amd", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPve2" });
        });
        const plans = hostPreparation(host.box.hosts, host.environments.map((e) => e.config), true);
        expect(plans.map((p) => [p.node, p.args])).toEqual([["pve", ["iommu=intel", "vfio=0000:01:00", "vfio=0000:02:00", "hugepages-1G=88"]]]);
        expect(plans[0].create.startsWith("sudo bash -s -- apply ")).toBe(true);
        expect(plans[0].delete.startsWith("sudo bash -s -- revert ")).toBe(true);
    });

    test("helpers", () => {
        expect(pciSlot("0000:01:00.0")).toBe("0000:01:00");
        expect(hugepageReservation({ hugepages: "2M", memoryGiB: 8 })).toEqual({ size: "2M", count: 4096 });
        expect(hugepageReservation({ hugepages: "none", memoryGiB: 8 })).toBeUndefined();
    });
});
