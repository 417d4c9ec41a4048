/**
 * The provider-quirks catalogue: every attribute we ignore or treat specially because of
 * how the Proxmox provider (bpg/terraform-provider-proxmox, bridged as
 * @muhlba91/pulumi-proxmoxve) behaves, each with the upstream issue it comes from.
 *
 * One place on purpose: components take their `ignoreChanges`, the resource options and the
 * provider inputs a quirk needs from here (`quirkOptions`, `quirkInputs`; tests/quirks.test.ts
 * fails when a component sets one of them itself), and `npm run drift` reports differences on
 * these paths as known noise, not drift.
 * When an upstream fix lands, delete the entry and the tests show what changes.
 */

/** Resource types the quirks are about. */
export const QUIRK_TYPES = {
    vm: "proxmoxve:index/vmLegacy:VmLegacy",
    container: "proxmoxve:index/containerLegacy:ContainerLegacy",
    zfs: "proxmoxve:node/disk/zfs:Zfs",
    dockerProvider: "pulumi:providers:docker",
    ipset: "proxmoxve:firewall/ipsetLegacy:IpsetLegacy",
} as const;

/** The resource options a quirk may need. */
export interface QuirkResourceOptions {
    readonly deleteBeforeReplace?: boolean;
    readonly protect?: boolean;
    readonly retainOnDelete?: boolean;
}

export interface Quirk {
    /** the resource types it affects */
    readonly appliesTo: readonly string[];
    /** property paths passed to `ignoreChanges` (and treated as noise by drift) */
    readonly ignoreChanges: readonly string[];
    /** Pulumi resource options the workaround needs (given by `quirkOptions`) */
    readonly options?: QuirkResourceOptions;
    /** provider inputs the workaround needs (given by `quirkInputs`) */
    readonly inputs?: Readonly<Record<string, boolean>>;
    /** what goes wrong without the workaround */
    readonly why: string;
    /** the upstream issues or docs it comes from */
    readonly sources: readonly string[];
    /**
     * true when the paths are ignored by `pulumi up` only because another, narrower path
     * sets them, so a difference is still real drift: `npm run drift` reports it
     */
    readonly stillDrift?: boolean;
}

export const QUIRKS = {
    /**
     * `addStorage` is applied at create time only and cannot be read back, so refresh and
     * import report it as changed; re-using the devices after a destroy needs `wipefs`.
     */
    zfsPool: {
        appliesTo: [QUIRK_TYPES.zfs],
        ignoreChanges: ["addStorage", "cleanupConfig", "cleanupDisks"],
        why: "create-time, write-only attributes the provider cannot read back",
        sources: ["pulumi-proxmoxve node.disk.Zfs docs", "bpg/terraform-provider-proxmox#1163"],
    },
    /** Disk tuning fields (`speed`, ...) are re-reported on every refresh. */
    vmDiskSpeed: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["disks[0].speed", "disks[1].speed"],
        why: "disk speed limits come back from the API in another shape and show a diff every run",
        sources: ["muhlba91/pulumi-proxmoxve#35", "muhlba91/pulumi-proxmoxve#664"],
    },
    /**
     * Changing the cloud-init SSH keys (or user-data) replaces the VM, taking its OS disk
     * with it. cloud-init only applies them on first boot anyway; the AI VM's software is
     * provisioned over SSH instead (components/provision), so changing a driver or a
     * package re-runs a step, never replaces the VM. New keys: `pulumi up --replace <vm urn>`.
     */
    vmCloudInit: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["initialization.userAccount"],
        why: "changing the cloud-init SSH keys forces replacement of the VM",
        sources: [
            "bpg/terraform-provider-proxmox#1636",
            "bpg/terraform-provider-proxmox#2901",
            "bpg/terraform-provider-proxmox#2071",
            "muhlba91/pulumi-proxmoxve#513",
        ],
    },
    /**
     * A `hostpci` that uses a resource mapping keeps showing a diff (upstream fix unmerged).
     * Moving a VM to another GPU mapping therefore needs `pulumi up --replace <vm urn>`;
     * the policy pack still checks the mapping from the program's inputs.
     */
    vmMappedHostpci: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["hostpcis"],
        why: "mapped hostpci devices are re-reported as changed on every plan",
        sources: ["bpg/terraform-provider-proxmox#517", "ClusterCreator ignores hostpci"],
    },
    /** VMs show phantom `vga` updates after creation. */
    vmVga: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["vga"],
        why: "the vga block is re-reported with server defaults",
        sources: ["bpg/terraform-provider-proxmox#1224", "bpg/terraform-provider-proxmox#1494"],
    },
    /**
     * Parallel creates on one node contend for `/var/lock/qemu-server/lock-N.conf`
     * ("can't lock file"). We create guests in parallel, so every guest gets long create
     * and clone timeouts instead of being serialised.
     */
    guestLockTimeout: {
        appliesTo: [QUIRK_TYPES.vm, QUIRK_TYPES.container],
        ignoreChanges: [],
        why: "parallel guest creation hits qemu-server lock timeouts",
        sources: ["bpg/terraform-provider-proxmox#995", "bpg/terraform-provider-proxmox#1521"],
    },
    /**
     * A container without an explicit `disk` block is replaced on every `up`; ours always
     * sets it, and the mount point's size is re-reported in another unit.
     */
    containerDisk: {
        appliesTo: [QUIRK_TYPES.container],
        ignoreChanges: ["mountPoints[0].size"],
        why: "containers are replaced on every up unless disk is explicit; mount point sizes are re-reported",
        sources: ["muhlba91/pulumi-proxmoxve#174"],
    },
    /** Destroying a running VM hangs unless the provider stops it first. */
    vmStopOnDestroy: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: [],
        inputs: { stopOnDestroy: true },
        why: "destroy waits for a graceful shutdown that never comes",
        sources: ["bpg/terraform-provider-proxmox docs/guides/vm-lifecycle.md"],
    },
    /**
     * A fixed VMID cannot be created while the old guest still exists
     * ("config file already exists"), so guests are deleted before they are replaced.
     */
    fixedVmid: {
        appliesTo: [QUIRK_TYPES.vm, QUIRK_TYPES.container],
        ignoreChanges: [],
        options: { deleteBeforeReplace: true },
        why: "create-before-delete collides on a fixed VMID",
        sources: ["homelab logs: 'unable to create VM N - config file already exists'"],
    },
    /**
     * Only root@pam may set `hugepages`, `keephugepages` and `affinity`: they are in none of
     * qemu-server's option permission tables, so for any other user, and for every API token
     * (even root's: its authuser is `root@pam!<id>`), the API answers "only root can set
     * '<opt>' config". A VM's `startup` needs Sys.Modify on "/", the whole host. The
     * environment's token can do neither, so the VM resource never sends these: the
     * forced-command tune key sets them (`components/access/vmTune.ts`), and `pulumi up`
     * ignores them. The provider still reads them back, so `npm run drift` reports a change.
     */
    /**
     * The AI VM is created stopped and started by the tune step once hugepages and affinity
     * are set: started by the provider, it would boot on ordinary RAM (pinned whole by VFIO)
     * next to the host's hugepage reservation, and qemu-server only records the tuned values
     * as pending on a running VM. `started` stays as created, whatever the VM's state.
     */
    vmStartedByTune: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["started"],
        why: "the tune step starts the VM after the root-only options are set",
        sources: [
            "proxmox/qemu-server src/PVE/API2/Qemu.pm update_vm: options on a running VM go to [PENDING] until the next start",
            "bpg/terraform-provider-proxmox proxmoxtf/resource/vm/vm.go: started is compared with the VM's status and starts or stops it",
        ],
    },
    /**
     * The AI VM's data disk belongs to the holder VM. bpg refuses to resize a disk another
     * VM owns ("Cannot resize ... it is not owned by this VM"), and resizing the holder's
     * volume does not reach the running guest (qemu-server resize_vm only block_resizes the
     * VM that runs it). So sizes are fixed after creation: grow the disk with
     * `qm resize <AI VM> scsi1 +<N>G` on the node (README "Data safety") and the data-disk
     * step grows the filesystem.
     */
    dataDiskSize: {
        appliesTo: [QUIRK_TYPES.vm],
        // on the AI VM the data disk is scsi1 (disks[1])
        ignoreChanges: ["disks[1].size"],
        why: "the attached data disk cannot be resized through either VM resource",
        sources: [
            "bpg/terraform-provider-proxmox proxmox/nodes/vms/custom_storage_device.go IsOwnedBy, vm.go resize refusal",
            "proxmox/qemu-server src/PVE/API2/Qemu.pm resize_vm (block_resize only for the running VM that owns the drive)",
        ],
    },
    /** The same disk on its holder VM (disks[0]): see dataDiskSize. */
    dataHolderDiskSize: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["disks[0].size"],
        why: "resizing the holder's volume never reaches the running AI VM",
        sources: ["proxmox/qemu-server src/PVE/API2/Qemu.pm resize_vm"],
    },
    vmRootOnlyOptions: {
        appliesTo: [QUIRK_TYPES.vm],
        ignoreChanges: ["memory.hugepages", "memory.keepHugepages", "cpu.affinity", "startup"],
        why: "the environment token is refused these options; the tune key sets them",
        sources: [
            "proxmox/qemu-server src/PVE/API2/Qemu.pm $check_vm_modify_config_perm: `return 1 if $authuser eq 'root@pam'`, else \"only root can set '$opt' config\"; startup: check_full(\"/\", ['Sys.Modify'])",
            "bpg/terraform-provider-proxmox proxmoxtf/resource/vm/vm.go reads hugepages, keep_hugepages, affinity and startup back from the VM config",
        ],
        stillDrift: true,
    },
    /**
     * A container's `initialization.userAccount` (root's SSH keys and password) is passed at
     * create only and is force-new: changing a key would replace the container and with it
     * its data mount point. Keys are rotated inside the guest instead (README "Security
     * model"); the provider keeps the block from its own state and never reads it back.
     */
    containerUserAccount: {
        appliesTo: [QUIRK_TYPES.container],
        ignoreChanges: ["initialization.userAccount"],
        why: "a changed SSH key would replace a protected container",
        sources: ["bpg/terraform-provider-proxmox proxmoxtf/resource/container/container.go: user_account, keys and password are ForceNew"],
    },
    /**
     * A container's `poolId` is force-new, while a VM's is changed in place: a container
     * created before it joined the environment's pool would be replaced (refused: it is
     * protected). New containers join at create; an existing one is added once by hand
     * (`pvesh set /pools/ai-dualstack-<env> --vms <vmid>`, README "State: from the two-stack layout").
     */
    /**
     * The CI container's `keyctl` feature (Docker inside it) may be changed by root@pam only;
     * the environment's token is refused it. The container is created with `nesting` alone
     * and the tune key turns keyctl on (components/access/vmTune.ts containerKeyctlCommand);
     * the provider reads it back, so `pulumi up` ignores it, while `npm run drift` still
     * reports it when it changes out of band.
     */
    containerRootOnlyFeatures: {
        appliesTo: [QUIRK_TYPES.container],
        ignoreChanges: ["features.keyctl"],
        why: "the environment token is refused keyctl; the tune key sets it",
        sources: [
            "proxmox/pve-container src/PVE/LXC.pm check_ct_modify_config_perm: features other than nesting changed -> \"changing feature flags (except nesting) is only allowed for root@pam\"",
            "bpg/terraform-provider-proxmox proxmoxtf/resource/container/container.go reads features (keyctl, nesting) back from the container config",
        ],
        stillDrift: true,
    },
    containerPool: {
        appliesTo: [QUIRK_TYPES.container],
        ignoreChanges: ["poolId"],
        why: "joining the pool later would replace a protected container",
        sources: ["bpg/terraform-provider-proxmox proxmoxtf/resource/container/container.go: pool_id is ForceNew (vm.go updates it in place)"],
    },
    /**
     * The Docker provider's resources dial the daemon when they first use it (a refresh or
     * preview of an ssh:// host that does not exist yet fails: "Error pinging Docker
     * server"). DockerHost derives the provider's host from the AI VM's verify step, so
     * it stays unknown, and nothing dials, until the VM can run GPU containers.
     */
    dockerDialsHost: {
        appliesTo: [QUIRK_TYPES.dockerProvider],
        ignoreChanges: [],
        why: "the docker provider pings its host before the VM exists",
        sources: ["pulumi/pulumi-docker#1293", "pulumi/pulumi-docker#1106", "pulumi/pulumi-docker#139"],
    },
    /**
     * An IP set is replaced whenever one of its entries changes: every `cidrs` field is
     * ForceNew and there is no resource for a single entry. Because we set the name, the
     * bridge replaces delete-first (a name not from the autonamer makes the replacement
     * delete-before-replace), and the delete empties the set, then removes it. A set named by
     * Proxmox itself cannot get a fresh name to create the new copy first: `management` (the
     * node's built-in rules admit 8006/22 from it: a gap, or a failed create after the
     * delete, locks the admins out) and a VM's `ipfilter-net0` (in the gap pve-firewall
     * substitutes an empty set, and the VM's IPv4 is dropped). Creating over an existing
     * set of the same name adopts it without adding the entries.
     * So `management` is protected (a change fails the preview instead of deleting the set)
     * and retained on destroy; change its entries by hand, then `pulumi refresh` (README
     * "Changing admin sources or node addresses").
     */
    ipsetReplacedOnChange: {
        appliesTo: [QUIRK_TYPES.ipset],
        ignoreChanges: [],
        // for the sets whose gap locks admins out (management): a change fails the preview
        // instead, and destroying the stack leaves the set
        options: { protect: true, retainOnDelete: true },
        why: "any change to an IP set's entries deletes and re-creates the set, with a gap in between",
        sources: [
            "bpg/terraform-provider-proxmox proxmoxtf/resource/firewall/ipset.go: cidr, nomatch, comment ForceNew; ipSetCreate adopts an existing set; ipSetDelete empties then deletes",
            "muhlba91/pulumi-proxmoxve provider/resources.go SetAutonaming; pulumi-terraform-bridge nameRequiresDeleteBeforeReplace",
            "proxmox/pve-firewall src/PVE/Firewall.pm: built-in management rules; implicit empty ipfilter-net<N>",
        ],
    },
} as const satisfies Record<string, Quirk>;

export type QuirkName = keyof typeof QUIRKS;

/** Timeouts (seconds) long enough to wait out another guest's lock on the same node. */
export const GUEST_TIMEOUTS = {
    create: 1800,
    clone: 1800,
    stop: 300,
    shutdown: 300,
} as const;

/** All ignored paths for a resource built from these quirks, in a stable order. */
function ignoredPaths(...names: QuirkName[]): string[] {
    return [...new Set(names.flatMap((n) => QUIRKS[n].ignoreChanges))];
}

/**
 * The resource options for a resource the named quirks apply to: their ignored paths and
 * the options they need (deleteBeforeReplace for a fixed VMID, ...). Spread it into the
 * resource's options; a component never sets these itself.
 */
export function quirkOptions(...names: QuirkName[]): QuirkResourceOptions & { ignoreChanges: string[] } {
    const options = names.reduce<QuirkResourceOptions>((all, n) => ({ ...all, ...(QUIRKS[n] as Quirk).options }), {});
    return { ...options, ignoreChanges: ignoredPaths(...names) };
}

type QuirkInputs<N extends QuirkName> = (typeof QUIRKS)[N] extends { readonly inputs: infer I } ? I : Record<never, never>;

/** The provider inputs a quirk needs (stopOnDestroy, ...), typed, to spread into the resource's args. */
export function quirkInputs<N extends QuirkName>(name: N): QuirkInputs<N> {
    return ((QUIRKS[name] as Quirk).inputs ?? {}) as QuirkInputs<N>;
}

/**
 * Whether a drifted property is a known provider quirk rather than real drift: the path
 * is (or lies under) an ignored path of a quirk that applies to the resource's type,
 * unless that quirk's paths are still drift (`stillDrift`).
 */
export function isKnownNoise(type: string, path: string): boolean {
    return Object.values(QUIRKS).some((q: Quirk) => q.appliesTo.includes(type) && q.stillDrift !== true
        && q.ignoreChanges.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`)));
}
