/**
 * What a rebuild destroys and what it keeps, from the stack's state. Pure.
 *
 * Kept: every protected resource (data holder VMs, service containers) and what they need
 * to stay managed: their parents, their dependencies and their providers; and what belongs
 * to a kept guest alone (its firewall options, rules and IP sets): destroying a kept
 * container's rule set would leave it running behind input DROP with nothing admitted, its
 * SSH cut off.
 * Destroyed: the rest (the AI VM, its firewall, provisioning and workloads), which
 * `pulumi up` then creates again. The host stack's objects (pools, mirrors, mappings,
 * images, host preparation) are never in an environment's state.
 */
import { statefulResources } from "../../policy/rules/data";
import type { StateResource } from "./automation";

export interface RebuildPlan {
    readonly destroy: StateResource[];
    readonly keep: StateResource[];
    /** kept but not protected: passed to destroy as --exclude */
    readonly exclude: string[];
    /** resources holding data that are not protected: a rebuild would lose them */
    readonly unprotectedStateful: { urn: string; what: string }[];
}

const GUEST_TYPES = new Set(["proxmoxve:index/vmLegacy:VmLegacy", "proxmoxve:index/containerLegacy:ContainerLegacy"]);
/** What exists only for one guest and goes with it. */
const ATTACHMENT_TYPES = new Set([
    "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
    "proxmoxve:firewall/rulesLegacy:RulesLegacy",
    "proxmoxve:firewall/ipsetLegacy:IpsetLegacy",
]);

export function planRebuild(resources: readonly StateResource[]): RebuildPlan {
    const managed = resources.filter((r) => r.type !== "pulumi:pulumi:Stack");
    const byUrn = new Map(managed.map((r) => [r.urn, r]));
    const keep = new Set<string>();
    const visit = (urn: string) => {
        if (keep.has(urn) || !byUrn.has(urn)) return;
        keep.add(urn);
        const r = byUrn.get(urn) as StateResource;
        r.dependencies.forEach(visit);
        if (r.parent) visit(r.parent);
        if (r.provider) visit(r.provider.split("::").slice(0, -1).join("::"));
    };
    managed.filter((r) => r.protect).forEach((r) => visit(r.urn));
    const keptGuests = new Set(managed.filter((r) => keep.has(r.urn) && GUEST_TYPES.has(r.type)).map((r) => r.urn));
    managed
        .filter((r) => ATTACHMENT_TYPES.has(r.type) && r.dependencies.some((d) => keptGuests.has(d)))
        .forEach((r) => visit(r.urn));

    const view = {
        environment: undefined,
        resources: managed.map((r) => ({ urn: r.urn, type: r.type, name: r.urn.split("::").pop() ?? r.urn, props: r.inputs, protect: r.protect })),
    };
    return {
        destroy: managed.filter((r) => !keep.has(r.urn)),
        keep: managed.filter((r) => keep.has(r.urn)),
        exclude: managed.filter((r) => keep.has(r.urn) && !r.protect).map((r) => r.urn).sort(),
        unprotectedStateful: statefulResources(view)
            .filter(({ resource }) => !resource.protect)
            .map(({ resource, what }) => ({ urn: resource.urn, what })),
    };
}
