/**
 * The restore drill against a fake Proxmox: it picks the newest archive, restores into a
 * free scratch VMID of the environment, cuts the network, starts and checks the copy,
 * reports the time and always removes the copy; it refuses VMIDs outside the environment
 * and never calls anything that changes the original.
 */
import * as fs from "fs";
import * as path from "path";
import { byName, evaluate, evaluateHost, input } from "./helpers";
import type { BackupArchive, DrillApi, GuestKind } from "../tools/lib/restoreDrill";
import { backedUpGuests } from "../tools/lib/restoreDrill";
import { runRestoreDrill, stackConfigOf } from "../tools/restoreDrill";

interface Fake {
    api: DrillApi;
    calls: string[];
}

function fakeApi(options: { archives?: BackupArchive[]; used?: number[]; files?: string[]; failRestore?: boolean } = {}): Fake {
    const calls: string[] = [];
    const rec = (name: string, ...args: unknown[]) => calls.push(`${name} ${args.join(" ")}`);
    return {
        calls,
        api: {
            backups: async (node, storage, vmid) => { rec("backups", node, storage, vmid); return options.archives ?? []; },
            usedVmids: async () => new Set(options.used ?? []),
            restore: async (node, kind, vmid, archive, storage) => {
                rec("restore", node, kind, vmid, archive, storage);
                if (options.failRestore) throw new Error("restore task ended with unable to restore");
            },
            isolate: async (node, kind, vmid) => { rec("isolate", node, kind, vmid); },
            volumes: async (_node, kind: GuestKind, vmid): Promise<Record<string, string>> => (kind === "lxc" ? { rootfs: `tank-public:subvol-${vmid}-disk-0`, mp0: `tank-public:subvol-${vmid}-disk-1` } : { scsi0: `tank-public:vm-${vmid}-disk-0` }),
            start: async (node, kind, vmid) => { rec("start", node, kind, vmid); },
            agentPing: async () => true,
            listDirectory: async (node, kind, vmid, dir) => { rec("list", node, kind, vmid, dir); return options.files ?? []; },
            destroy: async (node, kind, vmid) => { rec("destroy", node, kind, vmid); },
        },
    };
}

const lxcArchive = (ctime: number): BackupArchive => ({ volid: `local:backup/vzdump-lxc-210-${ctime}.tar.zst`, kind: "lxc", ctime, size: 1 });

function harness(fake: Fake) {
    const out: string[] = [];
    const err: string[] = [];
    let clock = 0;
    return {
        out, err,
        run: (argv: string[]) => runRestoreDrill(argv, {
            io: { out: (t) => out.push(t), err: (t) => err.push(t) },
            configOf: stackConfigOf,
            api: () => fake.api,
            now: () => (clock += 1500),
            sleep: async () => undefined,
        }),
    };
}

/** Every call that changes something names the scratch VMID, never the original. */
const mutating = (calls: string[]) => calls.filter((c) => /^(restore|isolate|start|destroy)/.test(c));

describe("npm run restore-drill", () => {
    test("restores the newest archive of a container into the highest free VMID, checks it with its network cut, times it, removes it", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000), lxcArchive(3000), lxcArchive(2000)], used: [201, 210, 211, 212, 250, 299], files: ["15", "PG_VERSION"] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(0);
        expect(fake.calls).toEqual([
            "backups pve local 210",
            "restore pve lxc 298 local:backup/vzdump-lxc-210-3000.tar.zst tank-public",
            "isolate pve lxc 298",
            "start pve lxc 298",
            "list pve lxc 298 /var/lib/postgresql",
            "destroy pve lxc 298",
        ]);
        mutating(fake.calls).forEach((c) => expect(c).toMatch(/ 298( |$)/));
        const out = h.out.join("");
        expect(out).toContain("PASS data mount /var/lib/postgresql holds files: 2 entries: 15, PG_VERSION");
        expect(out).toMatch(/restore drill passed in [\d.]+ s \(archive local:backup\/vzdump-lxc-210-3000.tar.zst, scratch VMID 298, removed\)/);
    });

    test("an empty data mount fails the drill (exit 2), and the copy is still removed", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000)], files: [] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(2);
        expect(h.out.join("")).toContain("FAIL data mount /var/lib/postgresql holds files: empty or unreadable");
        expect(fake.calls[fake.calls.length - 1]).toBe("destroy pve lxc 299");
    });

    test("a failed restore removes what it left and exits 1", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000)], failRestore: true });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(1);
        expect(fake.calls).toContain("destroy pve lxc 299");
        expect(h.err.join("")).toContain("restore task ended with unable to restore");
    });

    test("the AI VM (its archive: the data disk, no OS disk) is restored and its disk checked on the pool, never started", async () => {
        const fake = fakeApi({ archives: [{ volid: "local:backup/vzdump-qemu-201-1.vma.zst", kind: "qemu", ctime: 1, size: 1 }] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "201", "--scratch-vmid", "280"])).toBe(0);
        expect(fake.calls.filter((c) => c.startsWith("start"))).toEqual([]);
        expect(h.out.join("")).toContain("PASS volumes restored on the environment's pool: scsi0=tank-public:vm-280-disk-0");
        expect(fake.calls[fake.calls.length - 1]).toBe("destroy pve qemu 280");
    });

    test.each([
        [["--stack", "public", "--vmid", "110"], "refusing: VMID 110 is outside the public environment (200-299): the drill only restores this environment's guests"],
        [["--stack", "public", "--vmid", "250"], "refusing: VMID 250 is not backed up by the public backup job (backed up: 201 public-ai, 210 public-db, 211 public-cache, 212 public-proxy)"],
        [["--stack", "public", "--vmid", "210", "--scratch-vmid", "210"], "refusing: scratch VMID 210 is the guest itself: the drill never touches the original"],
        [["--stack", "public", "--vmid", "210", "--scratch-vmid", "199"], "refusing: scratch VMID 199 is outside the public environment (200-299)"],
        [["--stack", "private", "--vmid", "abc"], "--vmid must be a VMID (a whole number), got \"abc\""],
    ])("%j is refused before Proxmox is asked anything", async (argv, message) => {
        const fake = fakeApi({ archives: [lxcArchive(1)] });
        const h = harness(fake);
        expect(await h.run(argv)).toBe(1);
        expect(h.err.join("")).toContain(message);
        expect(fake.calls).toEqual([]);
    });

    test("a scratch VMID in use, or no backup yet, is refused without restoring anything", async () => {
        const inUse = fakeApi({ archives: [lxcArchive(1)], used: [280] });
        const h1 = harness(inUse);
        expect(await h1.run(["--stack", "public", "--vmid", "210", "--scratch-vmid", "280"])).toBe(1);
        expect(h1.err.join("")).toContain("scratch VMID 280 is in use");
        expect(mutating(inUse.calls)).toEqual([]);

        const none = fakeApi({ archives: [] });
        const h2 = harness(none);
        expect(await h2.run(["--stack", "private", "--vmid", "110"])).toBe(1);
        expect(h2.err.join("")).toContain("no lxc backup of 110 (private-db) on storage local: has the backup job run yet?");
        expect(mutating(none.calls)).toEqual([]);
    });

    test("the drill's guests are exactly what the backup job covers", async () => {
        // The job is the host stack's; the drill reads the environment's own file.
        const { config } = await evaluate("private");
        const job = byName((await evaluateHost()).graph.resources, "private-backup-job");
        expect(backedUpGuests(config).map((g) => String(g.vmid)).sort()).toEqual([...(input(job, "vmids") as string[])].sort());
    });
});

describe("docs/restore-drill.md matches the tool", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "restore-drill.md"), "utf8");
    const tool = fs.readFileSync(path.join(__dirname, "..", "tools", "restoreDrill.ts"), "utf8");

    test("it shows the command with every flag the tool takes, and the credentials it reads", () => {
        const usage = /const USAGE = "usage: (.*)";/.exec(tool)?.[1];
        expect(usage).toBeDefined();
        expect(doc).toContain(usage as string);
        for (const flag of ["--stack", "--vmid", "--scratch-vmid", "--json"]) {
            expect(doc).toContain(flag);
        }
        expect(doc).toContain("PROXMOX_VE_API_TOKEN");
        expect(doc).toContain("PROXMOX_VE_PASSWORD");
        expect(JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")).scripts["restore-drill"]).toBe("node -r ./tools/register.js tools/restoreDrill.ts");
    });

    test("it states the refusals, the exit codes and the checks", () => {
        for (const phrase of ["outside the environment", "not backed up", "never touches the original", "link_down", "exit code 2", "highest free VMID"]) {
            expect(doc).toContain(phrase);
        }
    });
});
