/**
 * The restore drill's logic, over an API layer the tests fake (tools/lib/proxmoxApi.ts is
 * the real one): restore the newest backup of one guest into a scratch VMID of the same
 * environment, start it cut off from the network, check it, report the time, remove it.
 *
 * Safety: the VMID must be one of this environment's backed-up guests; the scratch VMID is
 * inside the environment's range, free, and never the original; every call that changes
 * something names the scratch VMID, never the original; the scratch guest is removed even
 * when a check fails.
 */
import type { StackConfig } from "../../config/schema";
import { DATA_DISK_INTERFACE } from "../../components/compute/aiVm";

export type GuestKind = "qemu" | "lxc";

export interface BackupArchive {
    /** e.g. local:backup/vzdump-lxc-110-2026_01_01-02_00_00.tar.zst */
    readonly volid: string;
    readonly kind: GuestKind;
    /** unix seconds */
    readonly ctime: number;
    readonly size: number;
}

/** What the drill asks of Proxmox. Mutating calls take the scratch VMID only. */
export interface DrillApi {
    /** backups of a guest on a storage, any order */
    backups(node: string, storage: string, vmid: number): Promise<BackupArchive[]>;
    /** every VMID in the cluster */
    usedVmids(): Promise<Set<number>>;
    /**
     * restores the archive to a new guest (unique MACs) on the storage; waits for the task.
     * Proxmox refuses a VMID that exists (qemu-server/pve-container: "already exists"), so a
     * failed restore never means the VMID is ours.
     */
    restore(node: string, kind: GuestKind, scratchVmid: number, archive: string, storage: string): Promise<void>;
    /**
     * clears `protection` and `onboot` on the restored copy: both come back from the archive
     * (pve-container Create.pm sanitize_and_merge_config copies every key but a few;
     * qemu-server's restore copies the config lines) and a protected guest cannot be
     * destroyed (check_protection in both destroy paths)
     */
    unprotect(node: string, kind: GuestKind, scratchVmid: number): Promise<void>;
    /** sets link_down on every network device, so the copy never shows up on the LAN */
    isolate(node: string, kind: GuestKind, scratchVmid: number): Promise<void>;
    /** the guest's disks and mount points: config key -> volume */
    volumes(node: string, kind: GuestKind, scratchVmid: number): Promise<Record<string, string>>;
    start(node: string, kind: GuestKind, scratchVmid: number): Promise<void>;
    /** whether the QEMU guest agent answers */
    agentPing(node: string, scratchVmid: number): Promise<boolean>;
    /** entries of a directory inside the running guest (pct exec / guest agent) */
    listDirectory(node: string, kind: GuestKind, scratchVmid: number, dir: string): Promise<string[]>;
    /** stops and destroys the guest with its volumes */
    destroy(node: string, kind: GuestKind, scratchVmid: number): Promise<void>;
}

/** A guest the backup job covers, as the drill treats it. */
export interface DrillGuest {
    readonly vmid: number;
    readonly name: string;
    readonly node: string;
    readonly kind: GuestKind;
    /**
     * false for the AI VM: its archive holds the data disk and EFI vars but not the OS disk
     * (backup off), and its config names the GPU mapping; it is restored and its volumes
     * checked, never started
     */
    readonly startable: boolean;
    /** a directory that must hold files after the restore (the data mount) */
    readonly dataPath?: string;
    /** the config key of the volume that holds the guest's data: it must be restored on the pool */
    readonly dataVolume: string;
    /** why an empty data mount is fine for this guest (nothing writes to it yet) */
    readonly emptyDataReason?: string;
}

/** The guests of an environment the host stack's backup job covers (config/backups.ts backupVmids). */
export function backedUpGuests(config: StackConfig): DrillGuest[] {
    return [
        // The AI VM, not the stopped holder: the data disk is backed up through the VM that writes it.
        { vmid: config.aiVm.vmid, name: config.aiVm.name, node: config.aiVm.node, kind: "qemu", startable: false, dataVolume: DATA_DISK_INTERFACE },
        // A container's one mount point (components/compute/serviceContainer.ts) is mp0.
        ...config.containers.map((ct): DrillGuest => ({
            vmid: ct.vmid, name: ct.name, node: ct.node, kind: "lxc", startable: true, dataPath: ct.dataMountPath, dataVolume: "mp0",
            // No provisioning step runs in the backup container (components/provision/serviceProvisioning.ts):
            // its volume holds only what you put there.
            ...(ct.role === "backup" ? { emptyDataReason: "the backup container runs no service of ai-dualstack, so its data mount holds only what you put there" } : {}),
        })),
    ];
}

export interface DrillPlan {
    readonly guest: DrillGuest;
    readonly storage: string;
    readonly backupStorage: string;
    readonly range: { readonly start: number; readonly end: number };
    readonly scratchVmid?: number;
}

export class DrillRefusal extends Error {}

/** Checks the asked VMID against the environment before anything is read from Proxmox. */
export function planDrill(config: StackConfig, backupStorage: string, vmid: number, scratchVmid?: number): DrillPlan {
    const { start, end } = config.vmidRange;
    if (vmid < start || vmid > end) {
        throw new DrillRefusal(`VMID ${vmid} is outside the ${config.environment} environment (${start}-${end}): the drill only restores this environment's guests`);
    }
    const guest = backedUpGuests(config).find((g) => g.vmid === vmid);
    if (guest === undefined) {
        throw new DrillRefusal(`VMID ${vmid} is not backed up by the ${config.environment} backup job (backed up: ${backedUpGuests(config).map((g) => `${g.vmid} ${g.name}`).join(", ")})`);
    }
    if (scratchVmid !== undefined) {
        if (scratchVmid < start || scratchVmid > end) {
            throw new DrillRefusal(`scratch VMID ${scratchVmid} is outside the ${config.environment} environment (${start}-${end})`);
        }
        if (scratchVmid === vmid) {
            throw new DrillRefusal(`scratch VMID ${scratchVmid} is the guest itself: the drill never touches the original`);
        }
    }
    return { guest, storage: config.storage.pool, backupStorage, range: { start, end }, scratchVmid };
}

/** The highest free VMID of the range (away from the guests, which sit at the bottom). */
function pickScratchVmid(plan: DrillPlan, used: ReadonlySet<number>): number {
    if (plan.scratchVmid !== undefined) {
        if (used.has(plan.scratchVmid)) {
            throw new DrillRefusal(`scratch VMID ${plan.scratchVmid} is in use: pick a free one in ${plan.range.start}-${plan.range.end} or leave --scratch-vmid out`);
        }
        return plan.scratchVmid;
    }
    for (let id = plan.range.end; id >= plan.range.start; id -= 1) {
        if (!used.has(id)) {
            return id;
        }
    }
    throw new DrillRefusal(`no free VMID in ${plan.range.start}-${plan.range.end} for the scratch copy`);
}

export interface DrillReport {
    readonly ok: boolean;
    readonly archive?: string;
    readonly scratchVmid?: number;
    readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
    readonly seconds: number;
}

export interface DrillOptions {
    readonly api: DrillApi;
    readonly progress: (line: string) => void;
    readonly now: () => number;
    /** how long to wait for the guest agent or the container after start */
    readonly waitAttempts?: number;
    readonly sleep?: (ms: number) => Promise<void>;
}

/** Runs the drill. Never throws after the scratch guest exists without removing it first. */
export async function runDrill(plan: DrillPlan, o: DrillOptions): Promise<DrillReport> {
    const { api, progress } = o;
    const { guest } = plan;
    const started = o.now();
    const seconds = () => Math.round((o.now() - started) / 100) / 10;
    const checks: { name: string; ok: boolean; detail: string }[] = [];
    const sleep = o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

    const archives = (await api.backups(guest.node, plan.backupStorage, guest.vmid)).filter((a) => a.kind === guest.kind);
    if (archives.length === 0) {
        throw new DrillRefusal(`no ${guest.kind} backup of ${guest.vmid} (${guest.name}) on storage ${plan.backupStorage}: has the backup job run yet?`);
    }
    const latest = [...archives].sort((a, b) => b.ctime - a.ctime)[0];
    progress(`newest backup of ${guest.vmid} (${guest.name}): ${latest.volid} from ${new Date(latest.ctime * 1000).toISOString()}`);
    const scratch = pickScratchVmid(plan, await api.usedVmids());

    const tool = guest.kind === "lxc" ? "pct" : "qm";
    progress(`restoring into scratch VMID ${scratch} on ${plan.storage}...`);
    try {
        await api.restore(guest.node, guest.kind, scratch, latest.volid, plan.storage);
    } catch (err) {
        // Not ours to remove: the VMID may have been taken since it was picked (Proxmox then
        // refuses the restore), and a restore that fails cleans up after itself.
        throw new Error(`restore into ${scratch} failed (${err instanceof Error ? err.message : String(err)}); the drill removes nothing it did not restore: if ${scratch} exists now, check with ${tool} config ${scratch} whether it is a leftover of this drill before removing it`);
    }
    // From here the scratch guest is the drill's own, and it is always removed.
    try {
        progress(`restored in ${seconds()} s`);
        await api.unprotect(guest.node, guest.kind, scratch);
        await api.isolate(guest.node, guest.kind, scratch);

        const volumes = await api.volumes(guest.node, guest.kind, scratch);
        const data = volumes[guest.dataVolume];
        const onPool = data !== undefined && data.startsWith(`${plan.storage}:`);
        checks.push({
            name: `data volume ${guest.dataVolume} restored on the environment's pool`,
            ok: onPool,
            detail: `${guest.dataVolume}=${data ?? "missing"}; all: ${Object.entries(volumes).map(([k, v]) => `${k}=${v}`).join(", ") || "none"}`,
        });

        if (guest.startable) {
            await api.start(guest.node, guest.kind, scratch);
            progress(`started ${scratch} with its network cut`);
            if (guest.kind === "qemu") {
                let answered = false;
                for (let i = 0; i < (o.waitAttempts ?? 30) && !answered; i += 1) {
                    answered = await api.agentPing(guest.node, scratch);
                    if (!answered) await sleep(5000);
                }
                checks.push({ name: "guest agent answers", ok: answered, detail: answered ? "ping ok" : "no answer" });
            }
            if (guest.dataPath !== undefined && guest.emptyDataReason !== undefined) {
                const entries = await api.listDirectory(guest.node, guest.kind, scratch, guest.dataPath).catch(() => undefined);
                checks.push({
                    name: `data mount ${guest.dataPath} readable`,
                    ok: entries !== undefined,
                    detail: entries === undefined ? "unreadable" : `${entries.length} entries; nothing to check: ${guest.emptyDataReason}`,
                });
            } else if (guest.dataPath !== undefined) {
                let entries: string[] = [];
                for (let i = 0; i < (o.waitAttempts ?? 30) && entries.length === 0; i += 1) {
                    entries = await api.listDirectory(guest.node, guest.kind, scratch, guest.dataPath).catch(() => []);
                    if (entries.length === 0) await sleep(2000);
                }
                checks.push({ name: `data mount ${guest.dataPath} holds files`, ok: entries.length > 0, detail: entries.length > 0 ? `${entries.length} entries: ${entries.slice(0, 5).join(", ")}` : "empty or unreadable" });
            }
        } else {
            progress(`${guest.name} is not started (its archive holds the data disk, not the OS disk, and it names the GPU): checked as restored volumes`);
        }
    } finally {
        progress(`removing scratch guest ${scratch}...`);
        await api.destroy(guest.node, guest.kind, scratch).catch((err: unknown) => {
            progress(`could not remove scratch guest ${scratch} (${err instanceof Error ? err.message : String(err)}): remove it by hand with ${tool} set ${scratch} --delete protection && ${tool} destroy ${scratch} --purge`);
        });
    }
    const ok = checks.length > 0 && checks.every((c) => c.ok);
    return { ok, archive: latest.volid, scratchVmid: scratch, checks, seconds: seconds() };
}
