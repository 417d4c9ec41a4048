/**
 * tools/lib/automation.ts, the one module that calls `@pulumi/pulumi/automation`, against a
 * fake `pulumi` executable on PATH that records every command line it is given. What the
 * fake must answer was read in @pulumi/pulumi 3.248 (automation/cmd.js, localWorkspace.js,
 * stack.js):
 * - `PulumiCommand.get` runs `<root>/bin/pulumi version` and parses it with semver (it must
 *   be at least automation/minimumVersion.js's 3.2.0-alpha and of the same major);
 * - a CLI newer than 3.205.0 streams engine events to a gRPC server; up to 3.205.0 the SDK
 *   passes `--event-log FILE` and tails that file (stack.js `setupEventLog`), so the fake
 *   says it is 3.205.0 and writes its events to the file as JSON lines;
 * - `selectStack` runs `stack select --stack S`; `exportStack` runs `stack export
 *   --show-secrets`; `destroy` and `up` read their summary from `stack history --json`,
 *   and `up` its outputs from `stack output --json`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { pulumiBackend } from "../tools/lib/automation";
import { runDrift } from "../tools/drift";
import { runRebuild } from "../tools/rebuild";

const STACK = "public";
const E = `urn:pulumi:${STACK}::ai-dualstack::ai-dualstack:env:Environment`;
const POOL = `${E}$ai-dualstack:host:ZfsMirror$proxmoxve:node/disk/zfs:Zfs::public-storage-pool`;
const VM = `${E}$ai-dualstack:compute:AiVm$proxmoxve:index/vmLegacy:VmLegacy::public-ai-vm`;
const PROVIDER = `${E}$pulumi:providers:proxmoxve::public-proxmox`;

const FAKE = `#!${process.execPath}
// A stand-in for the Pulumi CLI: records its arguments, answers what the Automation API asks.
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify(args) + "\\n");
const has = (...words) => words.every((w, i) => args[i] === w);
const flag = (name) => args[args.indexOf(name) + 1];
if (has("version")) {
    process.stdout.write("v3.205.0\\n");
} else if (has("stack", "select")) {
    // selected
} else if (has("stack", "export")) {
    process.stdout.write(fs.readFileSync(process.env.FAKE_PULUMI_STATE, "utf8"));
} else if (has("stack", "output")) {
    process.stdout.write("{}\\n");
} else if (has("stack", "history")) {
    process.stdout.write(JSON.stringify([{ version: 2, kind: "update", startTime: "2026-01-01T00:00:00.000Z", message: "", environment: {}, config: {}, result: "succeeded", resourceChanges: { delete: 1 } }]));
} else if (has("refresh")) {
    const events = fs.readFileSync(process.env.FAKE_PULUMI_EVENTS, "utf8");
    fs.writeFileSync(flag("--event-log"), events);
    // The SDK tails the file every 200 ms: stay until it has read it.
    setTimeout(() => undefined, 700);
} else if (has("destroy") || has("up")) {
    process.stdout.write(args[0] + " done\\n");
} else {
    process.stderr.write("fake pulumi: unexpected " + args.join(" ") + "\\n");
    process.exitCode = 1;
}
`;

const saved = { PATH: process.env.PATH };
let dir: string;
let log: string;

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-pulumi-"));
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "pulumi"), FAKE, { mode: 0o755 });
    log = path.join(dir, "calls.log");
    const state = { version: 3, deployment: { manifest: {}, resources: [
        { urn: PROVIDER, type: "pulumi:providers:proxmoxve", custom: true, id: "p", inputs: {} },
        { urn: POOL, type: "proxmoxve:node/disk/zfs:Zfs", custom: true, protect: true, id: "z", parent: E, provider: `${PROVIDER}::p`, inputs: { name: "tank-public" } },
        { urn: VM, type: "proxmoxve:index/vmLegacy:VmLegacy", custom: true, id: "201", parent: E, provider: `${PROVIDER}::p`, dependencies: [POOL], inputs: { vmId: 201 } },
    ] } };
    fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
    const meta = (op: string, next: Record<string, unknown>) => ({
        op, urn: VM, type: "proxmoxve:index/vmLegacy:VmLegacy", provider: `${PROVIDER}::p`, diffs: ["memory"],
        detailedDiff: { "memory.dedicated": { diffKind: "update", inputDiff: false } },
        old: { type: "proxmoxve:index/vmLegacy:VmLegacy", urn: VM, custom: true, id: "201", parent: E, provider: `${PROVIDER}::p`, inputs: {}, outputs: { memory: { dedicated: 16384 } } },
        new: { type: "proxmoxve:index/vmLegacy:VmLegacy", urn: VM, custom: true, id: "201", parent: E, provider: `${PROVIDER}::p`, inputs: {}, outputs: next },
    });
    const events: EngineEvent[] = [
        { sequence: 0, timestamp: 1, preludeEvent: { config: {} } },
        { sequence: 1, timestamp: 1, resourcePreEvent: { metadata: meta("update", { memory: { dedicated: 8192 } }) as EngineEvent["resourcePreEvent"] extends infer T ? T extends { metadata: infer M } ? M : never : never } },
        { sequence: 2, timestamp: 1, summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: { update: 1 }, policyPacks: {} } },
    ];
    fs.writeFileSync(path.join(dir, "events.jsonl"), events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    process.env.PATH = `${path.join(dir, "bin")}${path.delimiter}${saved.PATH}`;
    process.env.FAKE_PULUMI_LOG = log;
    process.env.FAKE_PULUMI_STATE = path.join(dir, "state.json");
    process.env.FAKE_PULUMI_EVENTS = path.join(dir, "events.jsonl");
});

afterAll(() => {
    process.env.PATH = saved.PATH;
    fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => fs.writeFileSync(log, ""));

/** The command lines the fake was given, without the version probe. */
function calls(): string[][] {
    return fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]).filter((a) => a[0] !== "version");
}

function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

test("drift runs a refresh preview of the named stack (no state change) and reports the drift from its events", async () => {
    const h = io();
    const code = await runDrift(["--stack", STACK], pulumiBackend(), h.io);
    expect(h.err.join("")).not.toMatch(/^drift: /m);
    const refresh = calls().find((a) => a[0] === "refresh") as string[];
    expect(refresh.slice(0, 2)).toEqual(["refresh", "--preview-only"]);
    expect(refresh).not.toContain("--yes");
    expect(refresh[refresh.indexOf("--stack") + 1]).toBe(STACK);
    expect(calls().map((a) => a.slice(0, 2).join(" "))).toEqual(["stack select", "refresh --preview-only"]);
    expect(h.out.join("")).toContain("~ public-ai-vm (proxmoxve:index/vmLegacy:VmLegacy):\n      memory.dedicated: 16384 → 8192");
    expect(code).toBe(2);
});

test("rebuild destroys with --exclude-protected, keeps what protected data needs, then runs up", async () => {
    const h = io();
    const code = await runRebuild(["--stack", STACK, "--yes"], { backend: pulumiBackend(), io: h.io, environmentOf: () => STACK });
    expect(h.err.join("")).toBe("");
    expect(code).toBe(0);
    const all = calls();
    // Besides reads of the result (stack history / stack output), exactly these, in this order.
    const reads = /^stack (history|output)$/;
    expect(all.map((a) => a.slice(0, 2).join(" ")).filter((c) => !reads.test(c))).toEqual(["stack select", "stack export", "destroy --yes", "up --yes"]);
    const destroy = all.find((a) => a[0] === "destroy") as string[];
    expect(destroy).toContain("--exclude-protected");
    expect(destroy).toContain("--skip-preview");
    // The pool is protected; its provider is kept because the pool needs it.
    const excluded = destroy.flatMap((a, i) => (a === "--exclude" ? [destroy[i + 1]] : []));
    expect(excluded).toContain(PROVIDER);
    expect(excluded).not.toContain(VM);
    expect(destroy[destroy.indexOf("--stack") + 1]).toBe(STACK);
    expect(h.out.join("")).toContain("destroy| destroy done");
});
