/**
 * Which Proxmox privileges, on which ACL path, each resource an environment stack creates
 * needs: one table, read from the permission checks of the Proxmox API code itself, and a
 * function that derives an environment's needs from its resource graph.
 *
 * Sources (Proxmox VE git, read for this table):
 * - qemu-server `src/PVE/API2/Qemu.pm`: `create_vm` (VM.Allocate on /vms/<id> or
 *   /pool/<pool>), `$check_storage_access` (Datastore.AllocateSpace for new disks;
 *   `import-from` volumes through PVE::Storage::check_volume_access),
 *   `$check_vm_modify_config_perm` (one VM.Config.* privilege per option group; `startup`
 *   also Sys.Modify on "/"; options in no group, e.g. hugepages/affinity: root@pam only),
 *   `check_hostpci_perm` (Mapping.Use on /mapping/pci/<name> + VM.Config.HWType);
 *   `src/PVE/QemuServer.pm` `check_bridge_access`; `src/PVE/API2/Qemu/Agent.pm`
 *   (network-get-interfaces: VM.GuestAgent.Audit).
 * - pve-guest-common `src/PVE/GuestHelpers.pm` `check_vnet_access`: SDN.Use on
 *   /sdn/zones/<zone>/<bridge>, zone `localnetwork` for a plain Linux bridge.
 * - pve-container `src/PVE/API2/LXC.pm` `create_vm` and `src/PVE/LXC.pm`
 *   `check_ct_modify_config_perm` (privileged containers need Sys.Modify on "/"; the
 *   `nesting` feature needs VM.Allocate; other features root@pam only).
 * - pve-storage `src/PVE/Storage.pm` `check_volume_access` (iso/vztmpl/import volumes:
 *   Datastore.AllocateSpace or Datastore.Audit; another VM's disk: Datastore.Audit on the
 *   storage + VM.Config.Disk on the owner), `src/PVE/API2/Storage/Status.pm`
 *   `download_url` (Datastore.AllocateTemplate + Sys.Audit, Sys.Modify on "/"),
 *   `src/PVE/API2/Disks/ZFS.pm` create (Sys.Modify on "/").
 * - pve-firewall `src/PVE/Firewall.pm` `rules_modify_permissions` / `rules_audit_permissions`
 *   (vm/ct: VM.Config.Network / VM.Audit on /vms/<id>; host: Sys.Modify on /nodes/<node>;
 *   cluster: Sys.Modify on "/"), `src/PVE/API2/Firewall/VM.pm` set_options.
 * - pve-manager `PVE/API2/Cluster/Mapping/PCI.pm` (Mapping.Modify), `PVE/API2/Network.pm`
 *   (Sys.Modify on /nodes/<node>), `PVE/API2/Backup.pm` (Sys.Modify on "/"),
 *   `PVE/API2/Pool.pm` (Pool.Allocate on /pool/<pool>).
 * - pve-access-control `src/PVE/AccessControl.pm` `$privgroups` (the privilege names and
 *   PVEAuditor), `src/PVE/RPCEnvironment.pm` (`/pool/<pool>` ACLs apply to its member VMs
 *   and storages, not propagated further; a privilege-separated token gets the
 *   intersection of its own and its user's privileges).
 */
import { text } from "../../graph";
import { PACKAGE } from "../naming";

/** The privilege names this program ever needs (PVE 9 names; see `forPveMajor`). */
export type Privilege =
    "VM.Allocate" | "VM.Audit" | "VM.Config.CPU" | "VM.Config.Cloudinit" | "VM.Config.Disk"
    | "VM.Config.HWType" | "VM.Config.Memory" | "VM.Config.Network" | "VM.Config.Options"
    | "VM.GuestAgent.Audit" | "VM.PowerMgmt" | "Datastore.Allocate" | "Datastore.AllocateSpace"
    | "Datastore.AllocateTemplate" | "Datastore.Audit" | "SDN.Use" | "Mapping.Use" | "Mapping.Modify"
    | "Sys.Audit" | "Sys.Modify" | "Pool.Allocate" | "Pool.Audit" | "Permissions.Modify" | "User.Modify";

/**
 * The privileges of the built-in PVEAuditor role (pve-access-control `create_roles`: every
 * `audit` privilege of `$privgroups`).
 */
export const PVE_AUDITOR: readonly string[] = ["Datastore.Audit", "Mapping.Audit", "Pool.Audit", "SDN.Audit", "Sys.Audit", "VM.Audit", "VM.GuestAgent.Audit"];

/**
 * Privilege names for a PVE major version: PVE 9 (libpve-access-control 9.0) replaced
 * VM.Monitor by the VM.GuestAgent.* privileges ("add VM.GuestAgent privileges",
 * "privileges: drop VM.Monitor"); a role naming a privilege the node does not know is refused.
 */
export function forPveMajor(privilege: string, pveMajor: 8 | 9): string {
    return pveMajor === 8 && privilege === "VM.GuestAgent.Audit" ? "VM.Monitor" : privilege;
}

/** One privilege on one ACL path, and why. */
export interface Need {
    readonly path: string;
    readonly privileges: readonly Privilege[];
    readonly why: string;
}

/**
 * environment: its token may do it; host: only the host stack (root) may; ssh: over SSH, no
 * Proxmox API call; local: computed where Pulumi runs, no API at all.
 */
export type Scope = "environment" | "host" | "ssh" | "local";

interface Row {
    readonly scope: Scope;
    /** the upstream permission checks this row is read from */
    readonly sources: readonly string[];
    /** what creating, updating, reading and deleting the resource needs, from its inputs */
    readonly needs: (inputs: Inputs, ctx: AccessContext) => Need[];
}

type Inputs = Readonly<Record<string, unknown>>;

/** What the derivation must know that the inputs do not say. */
export interface AccessContext {
    /** the resource pool the environment's guests join */
    readonly pool: string;
    /** storage holding the shared images and templates, if an input names a volume only by an Output */
    readonly imageDatastore: string;
}

const rec = (v: unknown): Inputs => (v !== null && typeof v === "object" && !Array.isArray(v) ? v as Inputs : {});
const list = (v: unknown): Inputs[] => (Array.isArray(v) ? v.map(rec) : []);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" && !v.startsWith("[") ? v : undefined);

/** A guest's own ACL path; `deriveAccess` folds it into the guest's pool when it joins one. */
const guestPath = (inputs: Inputs, idKey: string): string => `/vms/${text(inputs[idKey])}`;

/** The storage of a volume id like `local:import/x.qcow2`, or the image datastore when it is an Output. */
function volumeStorage(volume: unknown, ctx: AccessContext): string {
    const v = str(volume);
    return v !== undefined && /^[A-Za-z][A-Za-z0-9_-]*:/.test(v) ? v.split(":")[0] : ctx.imageDatastore;
}

const bridgePath = (bridge: string) => `/sdn/zones/localnetwork/${bridge}`;

function vmNeeds(inputs: Inputs, ctx: AccessContext): Need[] {
    const guest = guestPath(inputs, "vmId");
    const privileges: Privilege[] = [
        // create/destroy (and joining the pool), reading config and status back
        "VM.Allocate", "VM.Audit",
        // the provider always sends cores/sockets/cpu type, memory, scsihw and the general options
        "VM.Config.CPU", "VM.Config.Memory", "VM.Config.HWType", "VM.Config.Options", "VM.Config.Disk",
    ];
    const needs: Need[] = [];
    if (inputs.started === true) privileges.push("VM.PowerMgmt");
    const nics = list(inputs.networkDevices);
    if (nics.length > 0) privileges.push("VM.Config.Network");
    if (Object.keys(rec(inputs.initialization)).length > 0) privileges.push("VM.Config.Cloudinit");
    if (rec(inputs.agent).enabled === true) privileges.push("VM.GuestAgent.Audit");
    needs.push({ path: guest, privileges, why: "qemu-server create_vm / update_vm option checks, status and agent reads" });

    const newSpace = new Set<string>();
    const readOnly = new Set<string>();
    for (const disk of [...list(inputs.disks), ...(inputs.efiDisk ? [rec(inputs.efiDisk)] : []), ...(inputs.initialization ? [rec(inputs.initialization)] : [])]) {
        const store = str(disk.datastoreId);
        if (store === undefined) continue;
        // an existing volume of another VM (the data holder): Datastore.Audit + VM.Config.Disk on its owner (same pool)
        (disk.pathInDatastore !== undefined ? readOnly : newSpace).add(store);
        if (disk.importFrom !== undefined) readOnly.add(volumeStorage(disk.importFrom, ctx));
    }
    newSpace.forEach((s) => needs.push({ path: `/storage/${s}`, privileges: ["Datastore.AllocateSpace", "Datastore.Audit"], why: "new disks, EFI vars and the cloud-init drive; reading their volumes back" }));
    readOnly.forEach((s) => newSpace.has(s) || needs.push({ path: `/storage/${s}`, privileges: ["Datastore.Audit"], why: "import-from an image, attach another guest's disk (check_volume_access)" }));
    nics.forEach((n) => str(n.bridge) && needs.push({ path: bridgePath(String(n.bridge)), privileges: ["SDN.Use"], why: "a NIC on the bridge (check_vnet_access)" }));
    list(inputs.hostpcis).forEach((h) => str(h.mapping) && needs.push({ path: `/mapping/pci/${String(h.mapping)}`, privileges: ["Mapping.Use"], why: "a mapped PCI device (check_hostpci_perm)" }));
    // What no token can do: root@pam only, or Sys.Modify on the whole host.
    const rootOnly = (what: string) => needs.push({ path: "/", privileges: ["Sys.Modify"], why: `${what}: root@pam only (qemu-server $check_vm_modify_config_perm)` });
    if (list(inputs.hostpcis).some((h) => h.id !== undefined)) rootOnly("a raw PCI id in hostpci (check_hostpci_perm)");
    if (rec(inputs.memory).hugepages !== undefined) rootOnly("memory.hugepages");
    if (rec(inputs.memory).keepHugepages !== undefined) rootOnly("memory.keepHugepages");
    if (rec(inputs.cpu).affinity !== undefined) rootOnly("cpu.affinity");
    if (inputs.startup !== undefined) needs.push({ path: "/", privileges: ["Sys.Modify"], why: "a VM's startup order (qemu-server: Sys.Modify on /)" });
    return needs;
}

function containerNeeds(inputs: Inputs, ctx: AccessContext): Need[] {
    const guest = guestPath(inputs, "vmId");
    const privileges: Privilege[] = [
        // create/destroy; the nesting feature (pve-container: VM.Allocate); reading back
        "VM.Allocate", "VM.Audit",
        "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Disk", "VM.Config.Options",
    ];
    if (inputs.started === true) privileges.push("VM.PowerMgmt");
    const nics = list(inputs.networkInterfaces);
    if (nics.length > 0 || rec(inputs.initialization).hostname !== undefined) privileges.push("VM.Config.Network");
    const needs: Need[] = [{ path: guest, privileges, why: "pve-container create_vm and check_ct_modify_config_perm" }];
    const stores = new Set<string>();
    [rec(inputs.disk).datastoreId, ...list(inputs.mountPoints).map((m) => m.volume)].forEach((s) => str(s) && stores.add(String(s)));
    stores.forEach((s) => needs.push({ path: `/storage/${s}`, privileges: ["Datastore.AllocateSpace", "Datastore.Audit"], why: "root disk and mount point volumes" }));
    const template = volumeStorage(rec(inputs.operatingSystem).templateFileId, ctx);
    if (!stores.has(template)) needs.push({ path: `/storage/${template}`, privileges: ["Datastore.Audit"], why: "the vztmpl template (check_volume_access)" });
    nics.forEach((n) => str(n.bridge) && needs.push({ path: bridgePath(String(n.bridge)), privileges: ["SDN.Use"], why: "a NIC on the bridge (check_bridge_access)" }));
    if (inputs.unprivileged === false) needs.push({ path: "/", privileges: ["Sys.Modify"], why: "a privileged container (pve-container create_vm)" });
    return needs;
}

/** A guest's firewall options, rules or IP set: the guest's VM.Config.Network, else node or cluster level. */
function firewallNeeds(inputs: Inputs): Need[] {
    const id = inputs.vmId ?? inputs.containerId;
    if (id !== undefined) {
        return [{ path: `/vms/${text(id)}`, privileges: ["VM.Config.Network", "VM.Audit"], why: "pve-firewall rules_modify_permissions(vm|ct)" }];
    }
    return str(inputs.nodeName) !== undefined
        ? [{ path: `/nodes/${String(inputs.nodeName)}`, privileges: ["Sys.Modify", "Sys.Audit"], why: "node firewall (rules_modify_permissions host)" }]
        : [{ path: "/", privileges: ["Sys.Modify", "Sys.Audit"], why: "cluster firewall (rules_modify_permissions cluster)" }];
}

const nodePath = (inputs: Inputs) => `/nodes/${text(inputs.nodeName ?? inputs.node ?? "*")}`;

/** The table. Keys are Pulumi type tokens of @muhlba91/pulumi-proxmoxve 8.x and @pulumi/command. */
export const PRIVILEGE_TABLE: Readonly<Record<string, Row>> = {
    "proxmoxve:index/vmLegacy:VmLegacy": {
        scope: "environment",
        sources: ["qemu-server src/PVE/API2/Qemu.pm create_vm, $check_storage_access, $check_vm_modify_config_perm, check_hostpci_perm", "qemu-server src/PVE/QemuServer.pm check_bridge_access", "qemu-server src/PVE/API2/Qemu/Agent.pm", "pve-storage src/PVE/Storage.pm check_volume_access"],
        needs: vmNeeds,
    },
    "proxmoxve:index/containerLegacy:ContainerLegacy": {
        scope: "environment",
        sources: ["pve-container src/PVE/API2/LXC.pm create_vm", "pve-container src/PVE/LXC.pm check_ct_modify_config_perm, check_bridge_access"],
        needs: containerNeeds,
    },
    "proxmoxve:firewall/optionsLegacy:OptionsLegacy": {
        scope: "environment",
        sources: ["pve-firewall src/PVE/API2/Firewall/VM.pm set_options: VM.Config.Network on /vms/{vmid}"],
        needs: firewallNeeds,
    },
    "proxmoxve:firewall/rulesLegacy:RulesLegacy": {
        scope: "environment",
        sources: ["pve-firewall src/PVE/Firewall.pm rules_modify_permissions / rules_audit_permissions"],
        needs: firewallNeeds,
    },
    "proxmoxve:firewall/ipsetLegacy:IpsetLegacy": {
        scope: "environment",
        sources: ["pve-firewall src/PVE/API2/Firewall/IPSet.pm: rules_modify_permissions(rule_env)"],
        needs: firewallNeeds,
    },
    // Over SSH, not the Proxmox API: the node's root key (host stack) or a guest's own key.
    "command:remote:Command": { scope: "ssh", sources: ["@pulumi/command remote.Command"], needs: () => [] },
    // The AI VM's Docker engine, reached over SSH as the VM's user (components/workloads/dockerHost.ts).
    "docker:index/container:Container": { scope: "ssh", sources: ["@pulumi/docker over ssh:// to the AI VM"], needs: () => [] },
    "docker:index/image:Image": { scope: "ssh", sources: ["@pulumi/docker over ssh:// to the AI VM"], needs: () => [] },
    "docker:index/network:Network": { scope: "ssh", sources: ["@pulumi/docker over ssh:// to the AI VM"], needs: () => [] },
    "docker:index/remoteImage:RemoteImage": { scope: "ssh", sources: ["@pulumi/docker over ssh:// to the AI VM"], needs: () => [] },
    // Generated where Pulumi runs: no API at all.
    "random:index/randomPassword:RandomPassword": { scope: "local", sources: ["@pulumi/random: computed locally by the engine"], needs: () => [] },
    "random:index/randomBytes:RandomBytes": { scope: "local", sources: ["@pulumi/random: computed locally by the engine"], needs: () => [] },
    // Host stack only: these need privileges on the node or the whole cluster.
    "proxmoxve:node/disk/zfs:Zfs": {
        scope: "host",
        sources: ["pve-storage src/PVE/API2/Disks/ZFS.pm create: Sys.Modify on /"],
        needs: () => [{ path: "/", privileges: ["Sys.Modify"], why: "create a ZFS pool and its storage" }],
    },
    "proxmoxve:hardware/mapping/pci:Pci": {
        scope: "host",
        sources: ["pve-manager PVE/API2/Cluster/Mapping/PCI.pm: Mapping.Modify on /mapping/pci"],
        needs: () => [{ path: "/mapping/pci", privileges: ["Mapping.Modify"], why: "create a PCI mapping" }],
    },
    "proxmoxve:network/linux/bridge:Bridge": {
        scope: "host",
        sources: ["pve-manager PVE/API2/Network.pm: Sys.Modify on /nodes/{node}"],
        needs: (i) => [{ path: nodePath(i), privileges: ["Sys.Modify"], why: "node network config" }],
    },
    "proxmoxve:network/linux/vlan:Vlan": {
        scope: "host",
        sources: ["pve-manager PVE/API2/Network.pm: Sys.Modify on /nodes/{node}"],
        needs: (i) => [{ path: nodePath(i), privileges: ["Sys.Modify"], why: "node network config" }],
    },
    "proxmoxve:download/file:File": {
        scope: "host",
        sources: ["pve-storage src/PVE/API2/Storage/Status.pm download_url: Datastore.AllocateTemplate on /storage/{storage}, Sys.Audit + Sys.Modify on /"],
        needs: (i) => [
            { path: `/storage/${String(i.datastoreId)}`, privileges: ["Datastore.AllocateTemplate"], why: "download into the storage" },
            { path: "/", privileges: ["Sys.Audit", "Sys.Modify"], why: "download_url" },
        ],
    },
    "proxmoxve:index/fileLegacy:FileLegacy": {
        scope: "host",
        sources: ["PVE API upload takes only iso, vztmpl and import: bpg uploads snippets over SSH as the node's SSH user"],
        needs: (i) => [{ path: `/storage/${String(i.datastoreId)}`, privileges: ["Datastore.AllocateTemplate"], why: "a file in a node's storage (and root SSH for snippets)" }],
    },
    "proxmoxve:backup/job:Job": {
        scope: "host",
        sources: ["pve-manager PVE/API2/Backup.pm: Sys.Modify on /"],
        needs: () => [{ path: "/", privileges: ["Sys.Modify"], why: "cluster backup jobs" }],
    },
    "proxmoxve:index/poolLegacy:PoolLegacy": {
        scope: "host",
        sources: ["pve-manager PVE/API2/Pool.pm: Pool.Allocate on /pool/{poolid}"],
        needs: (i) => [{ path: `/pool/${String(i.poolId)}`, privileges: ["Pool.Allocate"], why: "create the pool" }],
    },
    "proxmoxve:pool/membership:Membership": {
        scope: "host",
        sources: ["pve-manager PVE/API2/Pool.pm update: Pool.Allocate on /pool/{poolid}"],
        needs: (i) => [{ path: `/pool/${String(i.poolId)}`, privileges: ["Pool.Allocate"], why: "add a member" }],
    },
    "proxmoxve:index/userLegacy:UserLegacy": { scope: "host", sources: ["pve-access-control src/PVE/API2/User.pm: User.Modify"], needs: () => [{ path: "/access/groups", privileges: ["User.Modify"], why: "users" }] },
    "proxmoxve:index/roleLegacy:RoleLegacy": { scope: "host", sources: ["pve-access-control src/PVE/API2/Role.pm: Sys.Modify on /access"], needs: () => [{ path: "/access", privileges: ["Sys.Modify"], why: "roles" }] },
    "proxmoxve:user/token:Token": { scope: "host", sources: ["pve-access-control src/PVE/API2/User.pm token create: User.Modify (or self)"], needs: () => [{ path: "/access/groups", privileges: ["User.Modify"], why: "tokens" }] },
    "proxmoxve:index/acl:Acl": { scope: "host", sources: ["pve-access-control src/PVE/API2/ACL.pm: Permissions.Modify on the path"], needs: (i) => [{ path: String(i.path), privileges: ["Permissions.Modify"], why: "ACLs" }] },
};

/** A resource of the plan graph, as far as the derivation reads it. */
export interface GraphResource {
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly inputs: Inputs;
}

export interface DerivedAccess {
    /** ACL path -> privileges the environment's token needs there, sorted */
    readonly needs: ReadonlyMap<string, readonly Privilege[]>;
    /** resources only the host stack may manage (must not be in an environment graph) */
    readonly hostOnly: readonly { readonly name: string; readonly type: string }[];
    /** custom resources of a type the table does not know: add a row */
    readonly unknown: readonly { readonly name: string; readonly type: string }[];
    /** needs that no environment token may get: privileges on "/" or a node */
    readonly beyondEnvironment: readonly { readonly name: string; readonly need: Need }[];
}

/** Paths an environment token may hold ACLs on; anything else is the host's. */
export function isEnvironmentPath(path: string): boolean {
    return /^\/(pool|vms|storage|mapping\/pci|sdn\/zones\/[^/]+)\/[^/]+$/.test(path);
}

/**
 * What a graph needs, from the table. Providers and components need nothing themselves.
 * A need on /vms/<id> of a guest that joins a pool (`poolId`) is a need on /pool/<pool>:
 * Proxmox applies a pool's ACLs to its members (RPCEnvironment `$compile_acl_path`).
 */
export function deriveAccess(resources: readonly GraphResource[], ctx: AccessContext): DerivedAccess {
    const poolOf = new Map<string, string>();
    for (const r of resources) {
        const pool = str(r.inputs.poolId);
        if (pool !== undefined && r.inputs.vmId !== undefined) poolOf.set(`/vms/${text(r.inputs.vmId)}`, `/pool/${pool}`);
    }
    const needs = new Map<string, Set<Privilege>>();
    const hostOnly: { name: string; type: string }[] = [];
    const unknown: { name: string; type: string }[] = [];
    const beyondEnvironment: { name: string; need: Need }[] = [];
    for (const r of resources) {
        if (!r.custom || r.type.startsWith("pulumi:providers:")) continue;
        const row = PRIVILEGE_TABLE[r.type];
        if (row === undefined) {
            unknown.push({ name: r.name, type: r.type });
            continue;
        }
        if (row.scope === "host") {
            hostOnly.push({ name: r.name, type: r.type });
            continue;
        }
        for (const raw of row.needs(r.inputs, ctx)) {
            const need = { ...raw, path: poolOf.get(raw.path) ?? raw.path };
            if (!isEnvironmentPath(need.path)) {
                beyondEnvironment.push({ name: r.name, need });
                continue;
            }
            const set = needs.get(need.path) ?? new Set<Privilege>();
            need.privileges.forEach((p) => set.add(p));
            needs.set(need.path, set);
        }
    }
    return {
        needs: new Map([...needs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([p, s]) => [p, [...s].sort()])),
        hostOnly, unknown, beyondEnvironment,
    };
}

/** The pool an environment's guests join; the host stack creates it, its ACL carries the guests' privileges. */
export function environmentPool(env: string): string {
    return `${PACKAGE}-${env}`;
}

/** What one environment needs to be granted: the same privileges, on paths from its own config. */
export interface EnvironmentScope {
    readonly pool: string;
    /** the environment's storage (its ZFS pool's storage id) */
    readonly storage: string;
    /** the shared storage with the images and templates it boots from */
    readonly imageDatastore: string;
    /** the environment's Linux bridge */
    readonly bridge: string;
    /** the environment's PCI mapping */
    readonly gpuMapping: string;
}

/** ACL path -> privileges an environment's token is granted. The host stack grants exactly these. */
export function environmentGrants(scope: EnvironmentScope): ReadonlyMap<string, readonly Privilege[]> {
    const grants = new Map<string, readonly Privilege[]>([
        [`/pool/${scope.pool}`, [
            // Pool.Audit: the preflight reads the pool (preflightNeeds)
            "Pool.Audit", "VM.Allocate", "VM.Audit", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType",
            "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.GuestAgent.Audit", "VM.PowerMgmt",
        ]],
        [`/storage/${scope.storage}`, ["Datastore.AllocateSpace", "Datastore.Audit"]],
        [bridgePath(scope.bridge), ["SDN.Use"]],
        [`/mapping/pci/${scope.gpuMapping}`, ["Mapping.Use"]],
    ]);
    if (scope.imageDatastore !== scope.storage) {
        grants.set(`/storage/${scope.imageDatastore}`, ["Datastore.Audit"]);
    }
    return new Map([...grants.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([p, privs]) => [p, [...privs].sort()]));
}

/**
 * What an environment stack reads before it creates anything (its preflight,
 * components/hostObjects.ts): invokes, not resources, so no graph shows them.
 * - GET /pools/{poolid}: Pool.Audit on /pool/<pool> (pve-manager PVE/API2/Pool.pm read_pool);
 * - GET /cluster/mapping/pci/{id}: Mapping.Use, Mapping.Modify or Mapping.Audit on
 *   /mapping/pci/<id> (pve-manager PVE/API2/Cluster/Mapping/PCI.pm get);
 * - GET /nodes/{node}/storage: lists only the storages the caller has Datastore.Audit or
 *   Datastore.AllocateSpace on (pve-storage src/PVE/API2/Storage/Status.pm index).
 */
export function preflightNeeds(scope: Pick<EnvironmentScope, "pool" | "storage" | "gpuMapping">): ReadonlyMap<string, readonly Privilege[]> {
    return new Map<string, readonly Privilege[]>([
        [`/pool/${scope.pool}`, ["Pool.Audit"]],
        [`/mapping/pci/${scope.gpuMapping}`, ["Mapping.Use"]],
        [`/storage/${scope.storage}`, ["Datastore.Audit"]],
    ]);
}

/** Two ACL maps as one: every path of either, with the union of its privileges, sorted. */
export function mergeNeeds(...maps: ReadonlyMap<string, readonly Privilege[]>[]): ReadonlyMap<string, readonly Privilege[]> {
    const merged = new Map<string, Set<Privilege>>();
    for (const map of maps) {
        for (const [path, privileges] of map) {
            const set = merged.get(path) ?? new Set<Privilege>();
            privileges.forEach((p) => set.add(p));
            merged.set(path, set);
        }
    }
    return new Map([...merged.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([p, set]) => [p, [...set].sort()]));
}

/**
 * The read-only counterpart for previews and drift: PVEAuditor's privileges, on the same
 * paths only (never "/"), so it reads this environment and nothing else.
 */
export function environmentAuditGrants(scope: EnvironmentScope): ReadonlyMap<string, readonly string[]> {
    const audit: Record<string, readonly string[]> = {
        pool: ["Pool.Audit", "VM.Audit", "VM.GuestAgent.Audit"],
        storage: ["Datastore.Audit"],
        sdn: ["SDN.Audit"],
        mapping: ["Mapping.Audit"],
    };
    return new Map([...environmentGrants(scope).keys()].map((path) => [path, audit[path.split("/")[1]] ?? []]));
}
