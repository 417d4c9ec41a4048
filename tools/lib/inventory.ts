/**
 * The PCI inventory the offline plan answers `hardware.getPci` with: built from the stack
 * config, so the GPU preflight sees the configured card where the config says it is.
 * Tests pass their own inventories to exercise the preflight's failures.
 */
import type { PciDevice } from "../../components/host/gpuPreflight";
import type { StackConfig } from "../../config/schema";
import { isRecord, text } from "../../graph";

export type PciInventory = (node: string) => PciDevice[];

/** The node's PCI list as the environments' GPU config describes it (all of them, one node). */
export function inventoryFromConfig(configs: readonly StackConfig[]): PciInventory {
    const placements = configs.flatMap(({ gpu }) => [
        { gpu, node: gpu.node, pciAddress: gpu.pciAddress, iommuGroup: gpu.iommuGroup, subsystemId: gpu.subsystemId },
        ...gpu.otherNodes.map((o) => ({ gpu, ...o })),
    ]);
    return (node) => {
        const devices: PciDevice[] = [
            // Something else on the node, in a group of its own.
            { id: "0000:00:02.0", class: "0x030000", vendor: "0x8086", device: "0x7d67", deviceName: "Integrated graphics", iommuGroup: 0, subsystemVendor: "0x8086", subsystemDevice: "0x0000" },
        ];
        for (const p of placements.filter((pl) => pl.node === node)) {
            const { gpu } = p;
            const [subVendor, subDevice] = p.subsystemId.split(":");
            const slot = p.pciAddress.replace(/\.[0-7]$/, "");
            devices.push(
                // The root port above the card shares its group on many boards; the preflight allows bridges.
                { id: `0000:00:1${p.iommuGroup % 10}.0`, class: "0x060400", vendor: "0x8086", device: "0xae4d", deviceName: "PCIe root port", iommuGroup: p.iommuGroup, subsystemVendor: "0x8086", subsystemDevice: "0x0000" },
                { id: p.pciAddress, class: "0x030000", vendor: `0x${gpu.vendorId}`, device: `0x${gpu.deviceId}`, deviceName: gpu.model, iommuGroup: p.iommuGroup, subsystemVendor: `0x${subVendor}`, subsystemDevice: `0x${subDevice}` },
            );
            if (gpu.audioDeviceId !== undefined) {
                devices.push({ id: `${slot}.1`, class: "0x040300", vendor: `0x${gpu.vendorId}`, device: `0x${gpu.audioDeviceId}`, deviceName: `${gpu.model} HD Audio`, iommuGroup: p.iommuGroup, subsystemVendor: `0x${subVendor}`, subsystemDevice: `0x${subDevice}` });
            }
        }
        return devices;
    };
}

/**
 * An inventory from what the node itself reports, saved as JSON with
 *   pvesh get /nodes/<node>/hardware/pci --pci-class-blacklist "" --output-format json > pci.json
 * Either that array (used for every node) or `{ "<node>": [...], ... }` for a cluster.
 * This lets `npm run plan -- --pci-inventory pci.json` check the GPU config against the
 * real host before anything runs against it.
 */
export function inventoryFromPvesh(json: unknown, source: string): PciInventory {
    const perNode = Array.isArray(json) ? undefined : isRecord(json) ? json : undefined;
    if (!Array.isArray(json) && perNode === undefined) {
        throw new Error(`${source}: expected the JSON array from pvesh get /nodes/<node>/hardware/pci, or an object of them by node`);
    }
    return (node) => {
        const list = Array.isArray(json) ? json : perNode?.[node];
        if (!Array.isArray(list)) {
            throw new Error(`${source}: has no PCI list for node ${node}`);
        }
        return list.filter(isRecord).map((d) => ({
            id: text(d.id ?? ""),
            class: text(d.class ?? ""),
            vendor: text(d.vendor ?? ""),
            device: text(d.device ?? ""),
            deviceName: text(d.device_name ?? ""),
            iommuGroup: typeof d.iommugroup === "number" ? d.iommugroup : Number(d.iommugroup ?? -1),
            subsystemVendor: text(d.subsystem_vendor ?? ""),
            subsystemDevice: text(d.subsystem_device ?? ""),
        }));
    };
}

