/**
 * The URNs of everything that holds data, pinned. A refactor that renames a component,
 * moves a resource to another parent or changes a type token changes a URN, and Pulumi
 * would then delete the old resource and create a new, empty one. If this test fails,
 * add `aliases` for the old URN instead of editing the list.
 */
import { evaluate, evaluateHost, TYPES } from "./helpers";

const STATEFUL_TYPES: string[] = [TYPES.zfs, TYPES.container, TYPES.vm, TYPES.pci];

const HOST = "urn:pulumi:host::ai-dualstack::ai-dualstack:host:Box$ai-dualstack:host:EnvironmentShare";

/**
 * The ZFS mirrors and PCI mappings moved from the environment stacks to the host stack
 * in the three-stack release; that release starts their state fresh (README, "State").
 */
const PINNED: Record<string, string[]> = {
    host: [
        `${HOST}$ai-dualstack:host:GpuPassthrough$proxmoxve:hardware/mapping/pci:Pci::private-gpu-mapping`,
        `${HOST}$ai-dualstack:host:GpuPassthrough$proxmoxve:hardware/mapping/pci:Pci::public-gpu-mapping`,
        `${HOST}$ai-dualstack:host:ZfsMirror$proxmoxve:node/disk/zfs:Zfs::private-storage-pool`,
        `${HOST}$ai-dualstack:host:ZfsMirror$proxmoxve:node/disk/zfs:Zfs::public-storage-pool`,
    ],
    private: [
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:AiVm$proxmoxve:index/vmLegacy:VmLegacy::private-ai-data",
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-backup-ct",
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-cache-ct",
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-ci-ct",
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-db-ct",
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-monitoring-ct",
        "urn:pulumi:private::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::private-vpn-ct",
    ],
    public: [
        "urn:pulumi:public::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:AiVm$proxmoxve:index/vmLegacy:VmLegacy::public-ai-data",
        "urn:pulumi:public::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::public-cache-ct",
        "urn:pulumi:public::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::public-db-ct",
        "urn:pulumi:public::ai-dualstack::ai-dualstack:env:Environment$ai-dualstack:compute:ServiceContainer$proxmoxve:index/containerLegacy:ContainerLegacy::public-proxy-ct",
    ],
};

test.each(Object.keys(PINNED))("the %s stack's stateful resources keep their URNs and stay protected", async (stack) => {
    const { graph } = stack === "host" ? await evaluateHost() : await evaluate(stack);
    const stateful = graph.resources.filter((r) => STATEFUL_TYPES.includes(r.type) && r.options.protect);
    expect(stateful.map((r) => r.urn).sort()).toEqual(PINNED[stack]);
    for (const urn of PINNED[stack]) {
        const r = graph.resources.find((res) => res.urn === urn);
        expect(r?.options).toMatchObject({ protect: true, retainOnDelete: true });
    }
});
