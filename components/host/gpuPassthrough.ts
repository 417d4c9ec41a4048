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
    /** the environment's stack file, named in the preflight's lines */
    readonly configFile?: string;
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
    /**
     * The preflight's problems, one line each naming the config key (empty when the card is
     * where the config says). The program awaits it, so a mismatch fails the run cleanly;
     * the mapping is never written with a failed preflight.
     */
    public readonly preflight: Promise<string[]>;

    constructor(name: string, args: GpuPassthroughArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "GpuPassthrough"), name, {}, opts);
        const { gpu } = args;
        const placements: GpuPlacement[] = [
            { configPath: "gpu", node: gpu.node, pciAddress: gpu.pciAddress, iommuGroup: gpu.iommuGroup, subsystemId: gpu.subsystemId },
            ...gpu.otherNodes.map((o, i) => ({ configPath: `gpu.otherNodes[${i}]`, ...o })),
        ];
        this.nodes = placements.map((p) => p.node);

        this.preflight = Promise.all(placements.map(async (placement) => {
            const inventory = await proxmoxve.hardware.getPci({ nodeName: placement.node, pciClassBlacklists: [] }, { parent: this });
            const result = checkGpuOnNode(inventory.devices, gpu, placement);
            // pulumi.log.warn queues the message with the engine; nothing waits on its promise.
            result.warnings.forEach((w) => { void pulumi.log.warn(args.configFile === undefined ? w : `${args.configFile} ${w}`, this); });
            const inFile = (line: string) => (args.configFile === undefined ? line : `${args.configFile} ${line}`);
            return result.errors.map(inFile);
        })).then((errors) => errors.flat());

        // With the audio function configured, map the whole slot so video and HDMI audio pass together.
        const path = (address: string) => (gpu.audioDeviceId !== undefined ? pciSlot(address) : address);
        this.mapping = new proxmoxve.hardware.mapping.Pci(`${name}-mapping`, {
            name: gpu.mappingName,
            comment: `ai-dualstack ${args.environment}: ${gpu.model}`,
            mediatedDevices: false,
            // A failed preflight holds the mapping back for good; the program then fails the
            // run with the preflight's lines (see program.ts), so nothing is written.
            maps: this.preflight.then((errors) => (errors.length > 0 ? new Promise<never>(() => undefined) : placements.map((p) => ({
                node: p.node,
                path: path(p.pciAddress),
                id: `${gpu.vendorId}:${gpu.deviceId}`,
                iommuGroup: p.iommuGroup,
                subsystemId: p.subsystemId,
                comment: `${gpu.model} on ${p.node}`,
            })))),
        }, {
            parent: this,
            // Guests of the environment stack name it; deleting it would strand them.
            protect: true,
            retainOnDelete: true,
        });
        this.mappingName = this.mapping.name;
        this.registerOutputs({ mappingName: this.mappingName, nodes: this.nodes });
    }
}
