/** Data safety: what holds data is protected, and every stateful guest is backed up. */
import { Finding, guestId, ofType, PolicyResource, records, Rule, statefulGuests, StackView, TYPES } from "./model";

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

export const backupCoverage: Rule = {
    name: "backup-coverage",
    description: "Every stateful guest is in an enabled backup job.",
    level: "mandatory",
    config: {},
    check(stack) {
        const jobs = ofType(stack, TYPES.backupJob).filter((j) => j.props.enabled !== false);
        const listed = (value: unknown, id: number) => Array.isArray(value) && value.map(String).includes(String(id));
        const covered = (id: number) => jobs.some((j) =>
            (j.props.all === true && !listed(j.props.excludes, id)) || listed(j.props.vmids, id));
        // A data holder's disk may be backed up through the VM it is attached to: vzdump takes
        // every drive of that VM with backup on, whoever owns the volume (qemu-server
        // PVE/QemuConfig.pm get_backup_volumes).
        const coveredThroughAttachment = (holder: PolicyResource, id: number) => {
            const owned = records(holder.props.disks).filter((d) => d.importFrom === undefined && d.fileId === undefined && d.pathInDatastore === undefined);
            if (owned.length === 0 || owned.some((d) => d.backup !== false)) {
                return false;
            }
            return ofType(stack, TYPES.vm).some((vm) => {
                const vmId = guestId(vm);
                return vm !== holder && vmId !== undefined && covered(vmId) && records(vm.props.disks)
                    .some((d) => typeof d.pathInDatastore === "string" && d.pathInDatastore.includes(`vm-${id}-`) && d.backup !== false);
            });
        };
        const findings: Finding[] = [];
        for (const guest of statefulGuests(stack)) {
            const id = guestId(guest);
            if (id === undefined) {
                findings.push({ urn: guest.urn, message: `stateful guest ${guest.name} has no fixed VMID, so no backup job can name it` });
            } else if (!covered(id) && !coveredThroughAttachment(guest, id)) {
                findings.push({ urn: guest.urn, message: `stateful guest ${guest.name} (VMID ${id}) is in no enabled backup job` });
            }
        }
        return findings;
    },
};
