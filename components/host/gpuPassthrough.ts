import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName, GpuConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { checkGpuOnNode, GpuPlacement } from "./gpuPreflight";
import { pciSlot } from "./hostPrep";

export interface GpuPassthroughArgs {
    readonly environment: EnvironmentName;
    /** this environment's card, where it sits on each node */
    readonly gpu: GpuConfig;
}

/**
 * This environment's GPU as a Proxmox PCI resource mapping. VMs reference the mapping by
 * name (`hostpcis[].mapping`), never a raw PCI id, which works with API tokens and lets a
 * mapping span cluster nodes. The node is asked first (`hardware.getPci`) and a card that
 * is missing, different or sharing its IOMMU group stops the run with the config key to fix.
 */
export class GpuPassthrough extends pulumi.ComponentResource {
    public readonly mapping: proxmoxve.hardware.mapping.Pci;
    /** the mapping name VMs use in `hostpcis[].mapping` */
    public readonly mappingName: pulumi.Output<string>;
    /** nodes the mapping covers */
    public readonly nodes: readonly string[];

    constructor(name: string, args: GpuPassthroughArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "GpuPassthrough"), name, {}, opts);
        const { gpu } = args;
        const placements: GpuPlacement[] = [
            { configPath: "gpu", node: gpu.node, pciAddress: gpu.pciAddress, iommuGroup: gpu.iommuGroup, subsystemId: gpu.subsystemId },
            ...gpu.otherNodes.map((o, i) => ({ configPath: `gpu.otherNodes[${i}]`, ...o })),
        ];
        this.nodes = placements.map((p) => p.node);

        const preflights = placements.map((placement) =>
            proxmoxve.hardware.getPciOutput({ nodeName: placement.node, pciClassBlacklists: [] }, { parent: this })
                .apply((inventory) => {
                    const result = checkGpuOnNode(inventory.devices, gpu, placement);
                    result.warnings.forEach((w) => pulumi.log.warn(w, this));
                    if (result.errors.length > 0) {
                        throw new pulumi.ResourceError(`GPU preflight failed:\n${result.errors.join("\n")}`, this, true);
                    }
                    return placement.node;
                }));

        // With the audio function configured, map the whole slot so video and HDMI audio pass together.
        const path = (address: string) => (gpu.audioDeviceId !== undefined ? pciSlot(address) : address);
        this.mapping = new proxmoxve.hardware.mapping.Pci(`${name}-mapping`, {
            name: gpu.mappingName,
            comment: `ai-dualstack ${args.environment}: ${gpu.model}`,
            mediatedDevices: false,
            maps: pulumi.all(preflights).apply(() => placements.map((p) => ({
                node: p.node,
                path: path(p.pciAddress),
                id: `${gpu.vendorId}:${gpu.deviceId}`,
                iommuGroup: p.iommuGroup,
                subsystemId: p.subsystemId,
                comment: `${gpu.model} on ${p.node}`,
            }))),
        }, { parent: this });
        this.mappingName = this.mapping.name;
        this.registerOutputs({ mappingName: this.mappingName, nodes: this.nodes });
    }
}
