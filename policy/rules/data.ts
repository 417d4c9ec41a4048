/** Data safety: what holds data is protected, and every stateful guest is backed up. */
import { Finding, get, guestId, ofType, PolicyResource, records, Rule, statefulGuests, StackView, TYPES } from "./model";

export function statefulResources(stack: StackView): { resource: PolicyResource; what: string }[] {
    return [
        ...ofType(stack, TYPES.zfs).map((r) => ({ resource: r, what: "ZFS pool" })),
        ...statefulGuests(stack).map((r) => ({ resource: r, what: r.type === TYPES.vm ? "VM owning a data disk" : "container with a data mount point" })),
        ...ofType(stack, TYPES.dockerVolume).map((r) => ({ resource: r, what: "Docker volume" })),
    ];
}

export const statefulProtected: Rule = {
    name: "stateful-protected",
    description: "ZFS pools, data disks, data mount points and database or vector-store volumes are protected.",
    level: "mandatory",
    config: {},
    check(stack) {
        return statefulResources(stack)
            .filter(({ resource }) => !resource.protect)
            .map(({ resource, what }) => ({
                urn: resource.urn,
                message: `${what} ${resource.name} is not protected: a destroy or replacement would delete its data (set protect)`,
            }));
    },
};

/** A backup job as the host stack creates it for an environment. */
export interface BackupJobSpec {
    readonly environment: string;
    readonly vmids: readonly number[];
}

const listed = (value: unknown, id: number) => Array.isArray(value) && value.map(String).includes(String(id));

/**
 * vzdump backs up every disk of a listed guest unless the disk says `backup=0`
 * (qemu-server PVE/QemuConfig.pm get_backup_volumes). A data holder VM is never listed
 * (vzdump would start it on a disk the running AI VM writes); its disk is covered through
 * the VM that attaches it, with that disk's backup flag on.
 */
export const backupCoverage: Rule<{ jobs: BackupJobSpec[] }> = {
    name: "backup-coverage",
    description: "Every stateful volume is in an enabled backup job: containers with their mount points, a data disk through the running VM that attaches it, never the data holder VM itself.",
    level: "mandatory",
    config: {
        jobs: {
            type: "array",
            default: [],
            items: { type: "object" },
            description: "the host stack's backup jobs: {environment, vmids} (by default from the stack files)",
        },
    },
    check(stack, config) {
        const graphJobs = ofType(stack, TYPES.backupJob).filter((j) => j.props.enabled !== false);
        const configured = config.jobs.filter((j) => j.environment === stack.environment);
        const covered = (id: number) => configured.some((j) => j.vmids.includes(id))
            || graphJobs.some((j) => (j.props.all === true && !listed(j.props.excludes, id)) || listed(j.props.vmids, id));
        const findings: Finding[] = [];
        const vms = ofType(stack, TYPES.vm);
        for (const guest of statefulGuests(stack)) {
            const id = guestId(guest);
            if (id === undefined) {
                findings.push({ urn: guest.urn, message: `stateful guest ${guest.name} has no fixed VMID, so no backup job can name it` });
                continue;
            }
            if (guest.type === TYPES.container) {
                if (!covered(id)) {
                    findings.push({ urn: guest.urn, message: `stateful guest ${guest.name} (VMID ${id}) is in no enabled backup job` });
                }
                records(guest.props.mountPoints).filter((mp) => mp.backup !== true).forEach((mp) =>
                    findings.push({ urn: guest.urn, message: `container ${guest.name}: mount point ${String(mp.path)} has backup off, so vzdump skips its data` }));
                continue;
            }
            // A VM owning a data disk: a holder, backed up through the VM that attaches its disk.
            if (covered(id)) {
                findings.push({ urn: guest.urn, message: `data holder ${guest.name} (VMID ${id}) is in a backup job: vzdump would start it on the disk the running VM writes; back the disk up through that VM instead` });
            }
            const users = vms.filter((vm) => vm !== guest && records(vm.props.disks).some((d) => attaches(d, id) && d.backup === true));
            const user = users.find((vm) => { const vid = guestId(vm); return vid !== undefined && covered(vid); });
            if (user === undefined) {
                findings.push({ urn: guest.urn, message: `the data disk of ${guest.name} (VMID ${id}) is backed up by no job: the VM attaching it needs backup on for that disk and must be in an enabled job` });
            } else if (get(user.props, "agent.enabled") !== true) {
                findings.push({ urn: user.urn, message: `${user.name} backs up a data disk in snapshot mode without the guest agent: no fs-freeze, so the copy is only crash-consistent` });
            }
        }
        return findings;
    },
};

/** Whether a disk attaches the holder's volume (`vm-<holder>-disk-N`); an unknown path counts (first preview). */
function attaches(disk: Record<string, unknown>, holderId: number): boolean {
    const path = disk.pathInDatastore;
    if (path === undefined || path === null) {
        return false;
    }
    return typeof path !== "string" || path.startsWith("[") || path.includes(`vm-${holderId}-`);
}
