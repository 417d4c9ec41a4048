/**
 * The host stack's settings file (`Pulumi.host.yaml`): the box-level facts, written once.
 *
 * The box's admin runs this stack with root. It holds only what belongs to the box (the
 * nodes, where admins come from, the firewall, the backup target, the shared images, the
 * memory the host keeps for itself); what each environment needs is read from that
 * environment's own stack file (see `environments`), validated with the same schema the
 * environment stack uses.
 */
import { z } from "zod";
import { cidr, int, pattern } from "./fields";
import { got, MISSING } from "./messages";
import { proxmoxRules, unique } from "./rules";
import { ENVIRONMENTS, EnvironmentName, hostSchema, imageSchema, proxmoxSchema } from "./schema";

const storageId = pattern(/^[a-zA-Z][a-zA-Z0-9_-]*$/, "a Proxmox storage id");

const environmentFilesSchema = z.strictObject({
    /** the private environment's stack file, relative to the project (or absolute) */
    private: z.string().min(1).default("Pulumi.private.yaml"),
    /** the public environment's stack file */
    public: z.string().min(1).default("Pulumi.public.yaml"),
});

const hostFirewallSchema = z.strictObject({
    /** where the Proxmox API (8006), SSH and the guests' admin ports may be reached from */
    adminSources: z.array(cidr).min(1, { error: "needs at least one admin source (your LAN, e.g. 192.168.1.0/24)" }),
    /** log level of dropped inbound packets on the nodes */
    logLevelIn: z.enum(["nolog", "info", "notice", "warning", "err"]).default("nolog"),
});

const hostBackupSchema = z.strictObject({
    /** Proxmox storage that receives vzdump archives (a PBS or directory storage) */
    storage: storageId.default("local"),
    /** systemd calendar event, e.g. *-*-* 02:00 */
    schedule: pattern(/^[A-Za-z0-9*,./:~ -]+$/, "a systemd calendar event like *-*-* 02:00").default("*-*-* 02:00"),
    keepDaily: int(0, 365).default(7),
    keepWeekly: int(0, 52).default(4),
    keepMonthly: int(0, 120).default(6),
});

const memorySchema = z.strictObject({
    /**
     * RAM the ZFS ARC may take (the node's `zfs_arc_max`). The PVE installer sets 10% of RAM,
     * at most 16 GiB (pve-installer Proxmox/Install/RunEnv.pm default_zfs_arc_max).
     */
    zfsArcReserveGiB: int(0, 1024).default(16),
    /** RAM kept for Proxmox itself (pveproxy, pmxcfs, corosync, the page cache) */
    hostReserveGiB: int(0, 1024).default(4),
});

const hostImagesSchema = z.strictObject({
    /** directory storage on every node that holds the downloads (content types import, vztmpl) */
    datastore: storageId.default("local"),
    /** Ubuntu 24.04 cloud image the AI VMs boot from (checksum required) */
    ubuntuCloud: imageSchema("its SHA256SUMS"),
    /** Debian 12 LXC template the service containers start from (checksum required: the sha512sum from pveam's index) */
    debianTemplate: imageSchema("pveam's index (sha512sum of the template in pvesh get /nodes/<node>/aplinfo, see the README)"),
});

const accessSchema = z.strictObject({
    /**
     * Proxmox VE major version on the nodes: the environments' roles name its privileges
     * (PVE 9 has VM.GuestAgent.Audit where PVE 8 has VM.Monitor)
     */
    pveMajor: z.union([z.literal(8), z.literal(9)], { error: (iss) => iss.input === undefined ? MISSING : `expected 8 or 9, ${got(iss.input)}` }).default(9),
    /** also create a read-only `audit` token per environment (outputs <env>AuditApiToken) for previews and drift */
    auditTokens: z.boolean().default(false),
});

export const hostStackSchema = z.strictObject({
    /** `host`: this file is the box's own stack */
    environment: z.literal("host", { error: (iss) => iss.input === undefined ? MISSING : `expected host, ${got(iss.input)}` }),
    proxmox: proxmoxSchema,
    hosts: z.array(hostSchema).min(1, { error: "needs at least one Proxmox node" }),
    environments: environmentFilesSchema.prefault({}),
    images: hostImagesSchema,
    firewall: hostFirewallSchema,
    backup: hostBackupSchema.prefault({}),
    memory: memorySchema.prefault({}),
    /** the environments' API users, roles and tokens the host stack creates */
    access: accessSchema.prefault({}),
});

export type HostStackParsed = z.output<typeof hostStackSchema>;

/** The host file's own rules (nodes unique); cross-file rules live in crossEnvironment.ts. */
export function hostStackRules(c: HostStackParsed): { path: (string | number)[]; message: string }[] {
    const problems: { path: (string | number)[]; message: string }[] = [];
    const problem = (path: (string | number)[], message: string) => problems.push({ path, message });
    unique(c.hosts.map((h, i) => ({ value: h.name, path: ["hosts", i, "name"] })), "node name", problem);
    unique(c.hosts.map((h, i) => ({ value: h.address, path: ["hosts", i, "address"] })), "host address", problem);
    problems.push(...proxmoxRules(c.proxmox));
    return problems;
}

/** The environments the host stack serves, in a stable order. */
export const HOST_ENVIRONMENTS: readonly EnvironmentName[] = ENVIRONMENTS;

