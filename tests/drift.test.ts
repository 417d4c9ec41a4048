/**
 * The drift report, built from engine events shaped exactly like the Automation API's
 * EngineEvent type, and the drift command's exit codes and errors.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DiffKind, EngineEvent, StepEventMetadata, StepEventStateMetadata } from "@pulumi/pulumi/automation";
import { Backend, CliMissingError, findPulumiCli, StackOps } from "../tools/lib/automation";
import { buildDriftReport, driftExitCode } from "../tools/lib/driftReport";
import { runDrift } from "../tools/drift";

const P = "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment";
const VM = `${P}$ai-dualstack:compute:AiVm$proxmoxve:index/vmLegacy:VmLegacy::private-ai-vm`;
const DB = `${P}$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-db-ct`;
const POOL = `${P}$ai-dualstack:host:ZfsMirror$proxmoxve:node/disk/zfs:Zfs::private-storage-pool`;
const BRIDGE = `${P}$ai-dualstack:host:ProxmoxHost$proxmoxve:network/linux/bridge:Bridge::private-host-bridge-pve`;
const PROVIDER = `${P}$pulumi:providers:proxmoxve::private-proxmox`;
const COMPONENT = `${P}$ai-dualstack:compute:AiVm::private-ai`;
const VM_TYPE = "proxmoxve:index/vmLegacy:VmLegacy";

let sequence = 0;
const state = (urn: string, type: string, outputs: Record<string, unknown>, custom = true): StepEventStateMetadata => ({
    type, urn, custom, id: `${urn.split("::").pop()}-id`, parent: P, provider: `${PROVIDER}::id`, inputs: {}, outputs,
});
const pre = (metadata: StepEventMetadata): EngineEvent => ({ sequence: sequence++, timestamp: 1764170000, resourcePreEvent: { metadata } });
const outputsEvent = (metadata: StepEventMetadata): EngineEvent => ({ sequence: sequence++, timestamp: 1764170000, resOutputsEvent: { metadata } });
const meta = (op: StepEventMetadata["op"], urn: string, type: string, old?: Record<string, unknown>, next?: Record<string, unknown>, extra: Partial<StepEventMetadata> = {}): StepEventMetadata => ({
    op, urn, type, provider: `${PROVIDER}::id`,
    old: old === undefined ? undefined : state(urn, type, old),
    new: next === undefined ? undefined : state(urn, type, next),
    ...extra,
});

const vmOld = { memory: { dedicated: 65536, floating: 0 }, disks: [{ interface: "scsi0", speed: { read: 0 } }, { interface: "scsi1" }], cpu: { cores: 8 } };

describe("buildDriftReport", () => {
    test("an update with a detailed diff lists each changed path, old and new; quirk paths are left out", () => {
        const report = buildDriftReport("private", [
            pre(meta("update", VM, VM_TYPE, vmOld, { ...vmOld, memory: { dedicated: 32768, floating: 0 }, disks: [{ interface: "scsi0", speed: { read: 100 } }, { interface: "scsi1" }] }, {
                diffs: ["memory", "disks"],
                detailedDiff: {
                    "memory.dedicated": { diffKind: DiffKind.update, inputDiff: false },
                    "disks[0].speed.read": { diffKind: DiffKind.update, inputDiff: false },
                },
            })),
        ]);
        expect(report.drifted).toEqual([{
            urn: VM, type: VM_TYPE, name: "private-ai-vm", status: "changed",
            changes: [{ path: "memory.dedicated", old: 65536, new: 32768 }],
        }]);
        expect(driftExitCode(report)).toBe(2);
    });

    test("a resource deleted out of band is drift, whether the engine says delete or refresh without new state", () => {
        const report = buildDriftReport("private", [
            pre(meta("delete", DB, "proxmoxve:index/containerLegacy:ContainerLegacy", { vmId: 110 })),
            pre(meta("refresh", BRIDGE, "proxmoxve:network/linux/bridge:Bridge", { name: "vmbr10" }, undefined)),
        ]);
        expect(report.drifted.map((d) => [d.name, d.status])).toEqual([["private-db-ct", "deleted"], ["private-host-bridge-pve", "deleted"]]);
        expect(report.summary).toEqual({ drifted: 0, deleted: 2, knownNoise: 0, unchanged: 0 });
        expect(driftExitCode(report)).toBe(2);
    });

    test("unchanged resources, providers, components and the stack are not drift", () => {
        const report = buildDriftReport("private", [
            pre(meta("same", POOL, "proxmoxve:node/disk/zfs:Zfs", { name: "tank-private" }, { name: "tank-private" })),
            pre(meta("refresh", BRIDGE, "proxmoxve:network/linux/bridge:Bridge", { name: "vmbr10" }, { name: "vmbr10" })),
            pre(meta("update", PROVIDER, "pulumi:providers:proxmoxve", { endpoint: "a" }, { endpoint: "b" }, { diffs: ["endpoint"] })),
            pre({ ...meta("same", COMPONENT, "ai-dualstack:compute:AiVm"), old: state(COMPONENT, "ai-dualstack:compute:AiVm", {}, false) }),
            pre(meta("same", "urn:pulumi:private::ai-dualstack::pulumi:pulumi:Stack::ai-dualstack-private", "pulumi:pulumi:Stack")),
        ]);
        expect(report).toMatchObject({ checked: 2, drifted: [], knownNoise: [], summary: { unchanged: 2 } });
        expect(driftExitCode(report)).toBe(0);
    });

    test("hugepages and CPU affinity changed outside the tune key are drift, though pulumi up ignores them", () => {
        const tuned = { ...vmOld, memory: { dedicated: 65536, floating: 0, hugepages: "1024" }, cpu: { cores: 8, affinity: "0-7" } };
        const report = buildDriftReport("private", [
            pre(meta("update", VM, VM_TYPE, tuned, { ...tuned, memory: { dedicated: 65536, floating: 0 }, cpu: { cores: 8, affinity: "0-23" } }, {
                diffs: ["memory", "cpu"],
                detailedDiff: {
                    "memory.hugepages": { diffKind: DiffKind.delete, inputDiff: false },
                    "cpu.affinity": { diffKind: DiffKind.update, inputDiff: false },
                },
            })),
        ]);
        expect(report.drifted.map((d) => d.changes)).toEqual([[
            { path: "cpu.affinity", old: "0-7", new: "0-23" },
            { path: "memory.hugepages", old: "1024", new: undefined },
        ]]);
        expect(driftExitCode(report)).toBe(2);
    });

    test("differences only on catalogued quirk paths are known noise and exit 0", () => {
        const report = buildDriftReport("private", [
            pre(meta("update", VM, VM_TYPE, vmOld, { ...vmOld, disks: [{ interface: "scsi0", speed: { read: 100 } }, { interface: "scsi1" }], vga: { type: "std" } }, {
                detailedDiff: {
                    "disks[0].speed.read": { diffKind: DiffKind.update, inputDiff: false },
                    vga: { diffKind: DiffKind.add, inputDiff: false },
                },
            })),
        ]);
        expect(report.drifted).toEqual([]);
        expect(report.knownNoise).toEqual([{ urn: VM, type: VM_TYPE, name: "private-ai-vm", changes: [
            { path: "disks[0].speed.read", old: 0, new: 100 },
            { path: "vga", old: undefined, new: { type: "std" } },
        ] }]);
        expect(driftExitCode(report)).toBe(0);
    });

    test("secret values never appear: engine-masked, secret-signature and secret-named values are masked", () => {
        const sig = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "hunter2" };
        const report = buildDriftReport("private", [
            pre(meta("update", DB, "proxmoxve:index/containerLegacy:ContainerLegacy",
                // (initialization.userAccount itself is a quirk path since containerUserAccount: use another secret-named one)
                { auth: { password: "old-pass", keys: ["ssh-ed25519 A"] }, description: "[secret]", tags: ["a"], environmentVariables: sig },
                { auth: { password: "new-pass", keys: ["ssh-ed25519 A"] }, description: "[secret]", tags: ["a", "b"], environmentVariables: { ...sig, value: "other" } },
                { diffs: ["auth", "tags", "environmentVariables"] })),
        ]);
        const text = JSON.stringify(report);
        expect(text).not.toContain("old-pass");
        expect(text).not.toContain("new-pass");
        expect(text).not.toContain("hunter2");
        expect(report.drifted[0].changes).toEqual([
            { path: "auth.password", old: "[secret]", new: "[secret]" },
            { path: "environmentVariables", old: "[secret]", new: "[secret]" },
            { path: "tags[1]", old: undefined, new: "b" },
        ]);
    });

    test("output events stand in when there is no pre-event", () => {
        const report = buildDriftReport("private", [
            outputsEvent(meta("refresh", POOL, "proxmoxve:node/disk/zfs:Zfs", { compression: "lz4" }, { compression: "off" }, { diffs: ["compression"] })),
        ]);
        expect(report.drifted[0].changes).toEqual([{ path: "compression", old: "lz4", new: "off" }]);
    });
});

describe("npm run drift", () => {
    const io = () => {
        const out: string[] = [];
        const err: string[] = [];
        return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
    };
    const fakeBackend = (events: EngineEvent[], opened: string[]): Backend => ({
        async open(name) {
            opened.push(name);
            const ops: StackOps = {
                name,
                resources: async () => [],
                previewRefresh: async (onEvent) => events.forEach(onEvent),
                destroy: async () => ({}),
                up: async () => ({}),
            };
            return ops;
        },
    });

    test("exit 2 with a report on drift, 0 without; progress goes to stderr, the JSON to stdout", async () => {
        const opened: string[] = [];
        const drift = [pre(meta("delete", DB, "proxmoxve:index/containerLegacy:ContainerLegacy", { vmId: 110 }))];
        const a = io();
        expect(await runDrift(["--stack", "private", "--json"], fakeBackend(drift, opened), a.io)).toBe(2);
        expect(JSON.parse(a.out.join("")).summary).toEqual({ drifted: 0, deleted: 1, knownNoise: 0, unchanged: 0 });
        expect(a.err.join("")).toContain("[1] private-db-ct");
        const b = io();
        expect(await runDrift(["--stack", "private"], fakeBackend([pre(meta("same", POOL, "proxmoxve:node/disk/zfs:Zfs", {}, {}))], opened), b.io)).toBe(0);
        expect(b.out.join("")).toContain("no drift (1 unchanged, 0 with known noise only)");
        expect(opened).toEqual(["private", "private"]);
    });

    test("exit 1 with one clear line for a missing CLI, a missing stack, or no login", async () => {
        const failing = (err: Error): Backend => ({ open: async () => { throw err; } });
        const cases: [Error, RegExp][] = [
            [new CliMissingError(), /^drift: Pulumi CLI not found/],
            [new Error("error: no stack named 'private' found"), /^drift: stack private does not exist in the current backend: create it with `pulumi stack init private`/],
            [new Error("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"), /^drift: not logged in to a Pulumi state backend/],
        ];
        for (const [error, expected] of cases) {
            const t = io();
            expect(await runDrift(["--stack", "private"], failing(error), t.io)).toBe(1);
            expect(t.err[t.err.length - 1]).toMatch(expected);
        }
        const usage = io();
        expect(await runDrift([], failing(new Error("unused")), usage.io)).toBe(1);
        expect(usage.err.join("")).toContain("--stack is required");
    });

    test("finds the CLI on PATH or in ~/.pulumi/bin, and nowhere else", () => {
        const has = (p: string) => p === "/opt/pulumi/bin/pulumi" || p === "/home/u/.pulumi/bin/pulumi";
        expect(findPulumiCli({ PATH: "/usr/bin:/opt/pulumi/bin", HOME: "/nope" }, has)).toBe("/opt/pulumi/bin/pulumi");
        expect(findPulumiCli({ PATH: "/usr/bin", HOME: "/home/u" }, has)).toBe("/home/u/.pulumi/bin/pulumi");
        expect(findPulumiCli({ PATH: "/usr/bin", HOME: "/elsewhere" }, has)).toBeUndefined();
    });

    test("on a machine without the Pulumi CLI, the real command exits 1 with a clear message and no stack trace", () => {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "home-"));
        const r = spawnSync(process.execPath, ["-r", path.join(__dirname, "..", "tools", "register.js"), path.join(__dirname, "..", "tools", "drift.ts"), "--stack", "private"], {
            encoding: "utf8",
            env: { PATH: path.dirname(process.execPath), HOME: home },
        });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("drift: Pulumi CLI not found");
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(r.stdout).toBe("");
    });
});
