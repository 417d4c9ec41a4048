/**
 * What a policy rule sees and says, independent of where it runs: the CrossGuard pack
 * (`pulumi preview --policy-pack policy`) and the offline check (`npm run policy`, the plan
 * JSON) both hand every rule the same view of the stack. Rules are pure functions.
 */
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { isRecord, text } from "../../graph";

export { isRecord, text };

export type Level = "mandatory" | "advisory" | "disabled";

export interface PolicyResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly props: Record<string, unknown>;
    readonly protect: boolean;
}

export interface StackView {
    readonly resources: readonly PolicyResource[];
    /** private or public from the stack's Environment component, host for the host stack; undefined if neither */
    readonly environment: string | undefined;
}

export interface Finding {
    readonly urn: string | null;
    readonly message: string;
}

/** A JSON schema for a config property, as CrossGuard takes it (a type-only import). */
export type JsonSchema = PolicyConfigJSONSchema;

export interface Rule<C extends object = object> {
    readonly name: string;
    readonly description: string;
    /** enforcement unless policy config says otherwise */
    readonly level: Level;
    /** the user's thresholds and lists, with their defaults */
    readonly config: { readonly [K in keyof C]: JsonSchema };
    check(stack: StackView, config: C): Finding[];
}

export const TYPES = {
    environment: "ai-dualstack:env:Environment",
    box: "ai-dualstack:host:Box",
    clusterFirewall: "proxmoxve:cluster/firewallLegacy:FirewallLegacy",
    firewallRules: "proxmoxve:firewall/rulesLegacy:RulesLegacy",
    ipset: "proxmoxve:firewall/ipsetLegacy:IpsetLegacy",
    securityGroup: "proxmoxve:cluster/firewall/security/groupLegacy:GroupLegacy",
    nodeFirewall: "proxmoxve:node/firewall:Firewall",
    bridge: "proxmoxve:network/linux/bridge:Bridge",
    vlan: "proxmoxve:network/linux/vlan:Vlan",
    download: "proxmoxve:download/file:File",
    pool: "proxmoxve:index/poolLegacy:PoolLegacy",
    vm: "proxmoxve:index/vmLegacy:VmLegacy",
    container: "proxmoxve:index/containerLegacy:ContainerLegacy",
    zfs: "proxmoxve:node/disk/zfs:Zfs",
    pciMapping: "proxmoxve:hardware/mapping/pci:Pci",
    firewallOptions: "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
    backupJob: "proxmoxve:backup/job:Job",
    dockerContainer: "docker:index/container:Container",
    dockerImage: "docker:index/remoteImage:RemoteImage",
    dockerBuild: "docker:index/image:Image",
    dockerVolume: "docker:index/volume:Volume",
} as const;

/** Builds a rule's config from its schema defaults and what the user set. */
export function configOf<C extends object>(rule: Rule<C>, given: Record<string, unknown> = {}): C {
    const out: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries<JsonSchema>(rule.config)) {
        out[key] = key in given ? given[key] : schema.default;
    }
    return out as C;
}

export function ofType(stack: StackView, type: string): PolicyResource[] {
    return stack.resources.filter((r) => r.type === type);
}


export function records(value: unknown): Record<string, unknown>[] {
    return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** Reads `a.b.c` from props. */
export function get(props: Record<string, unknown>, path: string): unknown {
    return path.split(".").reduce<unknown>((v, part) => (isRecord(v) ? v[part] : undefined), props);
}

/** A VM that owns data disks: a disk that is neither the OS image nor attached from elsewhere. */
function ownsDataDisk(vm: PolicyResource): boolean {
    return records(vm.props.disks).some((d) => d.importFrom === undefined && d.fileId === undefined && d.pathInDatastore === undefined);
}

/** Guests whose loss loses data: VMs owning data disks, containers with data mount points. */
export function statefulGuests(stack: StackView): PolicyResource[] {
    return [
        ...ofType(stack, TYPES.vm).filter(ownsDataDisk),
        ...ofType(stack, TYPES.container).filter((c) => records(c.props.mountPoints).length > 0),
    ];
}

export function guestId(guest: PolicyResource): number | undefined {
    const id = guest.props.vmId;
    return typeof id === "number" ? id : typeof id === "string" && /^\d+$/.test(id) ? Number(id) : undefined;
}
