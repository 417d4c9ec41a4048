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

/**
 * A fake Proxmox that keeps the rules the drill depends on: a restore into an existing VMID
 * is refused ("already exists", qemu-server/pve-container create), a restored guest keeps
 * the archive's `protection: 1` (pve-container Create.pm sanitize_and_merge_config,
 * qemu-server's restore of the config lines), and destroy refuses a protected guest
 * (check_protection: "can't remove CT/VM - protection mode enabled").
 */
function fakeApi(options: { archives?: BackupArchive[]; used?: number[]; files?: string[]; failRestore?: boolean; takenAfterPick?: number[]; volumes?: Record<string, string> } = {}): Fake {
    const calls: string[] = [];
    const rec = (name: string, ...args: unknown[]) => calls.push(`${name} ${args.join(" ")}`);
    const exists = new Set([...(options.used ?? []), ...(options.takenAfterPick ?? [])]);
    const guests = new Map<number, { protection: boolean; onboot: boolean }>();
    return {
        calls,
        api: {
            backups: async (node, storage, vmid) => { rec("backups", node, storage, vmid); return options.archives ?? []; },
            usedVmids: async () => new Set(options.used ?? []),
            restore: async (node, kind, vmid, archive, storage) => {
                rec("restore", node, kind, vmid, archive, storage);
                if (exists.has(vmid)) throw new Error(`unable to restore ${kind === "lxc" ? "CT" : "VM"} ${vmid} - ${kind === "lxc" ? "CT" : "VM"} ${vmid} already exists on node '${node}'`);
                if (options.failRestore) throw new Error("restore task ended with unable to restore");
                exists.add(vmid);
                guests.set(vmid, { protection: true, onboot: true });
            },
            unprotect: async (node, kind, vmid) => {
                rec("unprotect", node, kind, vmid);
                const g = guests.get(vmid);
                if (g === undefined) throw new Error(`no such guest ${vmid}`);
                guests.set(vmid, { protection: false, onboot: false });
            },
            isolate: async (node, kind, vmid) => { rec("isolate", node, kind, vmid); },
            volumes: async (_node, kind: GuestKind, vmid): Promise<Record<string, string>> => options.volumes ?? (kind === "lxc" ? { rootfs: `tank-public:subvol-${vmid}-disk-0`, mp0: `tank-public:subvol-${vmid}-disk-1` } : { efidisk0: `tank-public:vm-${vmid}-disk-0`, scsi1: `tank-public:vm-${vmid}-disk-1` }),
            start: async (node, kind, vmid) => { rec("start", node, kind, vmid); },
            agentPing: async () => true,
            listDirectory: async (node, kind, vmid, dir) => { rec("list", node, kind, vmid, dir); return options.files ?? []; },
            destroy: async (node, kind, vmid) => {
                rec("destroy", node, kind, vmid);
                if (guests.get(vmid)?.protection) throw new Error(`can't remove ${kind === "lxc" ? "CT" : "VM"} ${vmid} - protection mode enabled`);
                guests.delete(vmid);
                exists.delete(vmid);
            },
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
const mutating = (calls: string[]) => calls.filter((c) => /^(restore|unprotect|isolate|start|destroy)/.test(c));

describe("npm run restore-drill", () => {
    test("restores the newest archive of a container into the highest free VMID, checks it with its network cut, times it, removes it", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000), lxcArchive(3000), lxcArchive(2000)], used: [201, 210, 211, 212, 250, 299], files: ["15", "PG_VERSION"] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(0);
        expect(fake.calls).toEqual([
            "backups pve local 210",
            "restore pve lxc 298 local:backup/vzdump-lxc-210-3000.tar.zst tank-public",
            "unprotect pve lxc 298",
            "isolate pve lxc 298",
            "start pve lxc 298",
            "list pve lxc 298 /var/lib/postgresql",
            "destroy pve lxc 298",
        ]);
        mutating(fake.calls).forEach((c) => expect(c).toMatch(/ 298( |$)/));
        const out = h.out.join("");
        expect(out).toContain("PASS data mount /var/lib/postgresql holds files: 2 entries: 15, PG_VERSION");
        expect(out).not.toContain("could not remove");
        expect(out).toMatch(/restore drill passed in [\d.]+ s \(archive local:backup\/vzdump-lxc-210-3000.tar.zst, scratch VMID 298, removed\)/);
    });

    test("an empty data mount fails the drill (exit 2), and the copy is still removed", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000)], files: [] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(2);
        expect(h.out.join("")).toContain("FAIL data mount /var/lib/postgresql holds files: empty or unreadable");
        expect(fake.calls[fake.calls.length - 1]).toBe("destroy pve lxc 299");
    });

    test("a failed restore exits 1 and destroys nothing: the VMID is not known to be the drill's", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000)], failRestore: true });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(1);
        expect(fake.calls.filter((c) => c.startsWith("destroy"))).toEqual([]);
        expect(h.err.join("")).toContain("restore task ended with unable to restore");
        expect(h.err.join("")).toContain("check with pct config 299 whether it is a leftover of this drill");
    });

    test("a VMID taken between the pick and the restore is never destroyed by the drill", async () => {
        // 299 was free when the drill listed the cluster's VMIDs; someone created it since.
        const fake = fakeApi({ archives: [lxcArchive(1000)], takenAfterPick: [299] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(1);
        expect(h.err.join("")).toContain("already exists");
        expect(mutating(fake.calls)).toEqual(["restore pve lxc 299 local:backup/vzdump-lxc-210-1000.tar.zst tank-public"]);
    });

    test("the restored copy is unprotected (the archive's protection: 1 comes back) before anything else, so it can be removed", async () => {
        const fake = fakeApi({ archives: [lxcArchive(1000)], files: ["x"] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "210"])).toBe(0);
        expect(mutating(fake.calls).slice(0, 2)).toEqual(["restore pve lxc 299 local:backup/vzdump-lxc-210-1000.tar.zst tank-public", "unprotect pve lxc 299"]);
        expect(h.out.join("")).not.toContain("could not remove");

        // Without the unprotect, the fake refuses the destroy as Proxmox does, and the drill says how to finish by hand.
        const noUnprotect = fakeApi({ archives: [lxcArchive(1000)], files: ["x"] });
        noUnprotect.api.unprotect = async () => undefined;
        const h2 = harness(noUnprotect);
        await h2.run(["--stack", "public", "--vmid", "210"]);
        expect(h2.out.join("")).toContain("could not remove scratch guest 299 (can't remove CT 299 - protection mode enabled): remove it by hand with pct set 299 --delete protection && pct destroy 299 --purge");
    });

    test("the AI VM (its archive: the data disk, no OS disk) is restored and its data disk scsi1 checked on the pool, never started", async () => {
        const fake = fakeApi({ archives: [{ volid: "local:backup/vzdump-qemu-201-1.vma.zst", kind: "qemu", ctime: 1, size: 1 }] });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "201", "--scratch-vmid", "280"])).toBe(0);
        expect(fake.calls.filter((c) => c.startsWith("start"))).toEqual([]);
        expect(h.out.join("")).toContain("PASS data volume scsi1 restored on the environment's pool: scsi1=tank-public:vm-280-disk-1");
        expect(fake.calls[fake.calls.length - 1]).toBe("destroy pve qemu 280");
    });

    test("the AI VM's check fails when the data disk is not among the restored volumes, even if another volume is on the pool", async () => {
        const fake = fakeApi({ archives: [{ volid: "local:backup/vzdump-qemu-201-1.vma.zst", kind: "qemu", ctime: 1, size: 1 }], volumes: { efidisk0: "tank-public:vm-280-disk-0" } });
        const h = harness(fake);
        expect(await h.run(["--stack", "public", "--vmid", "201", "--scratch-vmid", "280"])).toBe(2);
        expect(h.out.join("")).toContain("FAIL data volume scsi1 restored on the environment's pool: scsi1=missing; all: efidisk0=tank-public:vm-280-disk-0");
        expect(fake.calls[fake.calls.length - 1]).toBe("destroy pve qemu 280");
    });

    test("the backup container (no service of ours writes to it) passes with an empty data mount, saying there is nothing to check", async () => {
        const fake = fakeApi({ archives: [{ volid: "local:backup/vzdump-lxc-115-1.tar.zst", kind: "lxc", ctime: 1, size: 1 }], files: [], volumes: { rootfs: "tank-private:subvol-199-disk-0", mp0: "tank-private:subvol-199-disk-1" } });
        const h = harness(fake);
        expect(await h.run(["--stack", "private", "--vmid", "115"])).toBe(0);
        expect(h.out.join("")).toContain("PASS data mount /srv/backup readable: 0 entries; nothing to check: the backup container runs no service of ai-dualstack");
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
