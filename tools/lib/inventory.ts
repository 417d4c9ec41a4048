/**
 * The PCI inventory the offline plan answers `hardware.getPci` with: built from the stack
 * config, so the GPU preflight sees the configured card where the config says it is.
 * Tests pass their own inventories to exercise the preflight's failures.
 */
import type { PciDevice } from "../../components/host/gpuPreflight";
import type { StackConfig } from "../../config/schema";

export type PciInventory = (node: string) => PciDevice[];

export function inventoryFromConfig(config: StackConfig): PciInventory {
    const { gpu } = config;
    const placements = [
        { node: gpu.node, pciAddress: gpu.pciAddress, iommuGroup: gpu.iommuGroup, subsystemId: gpu.subsystemId },
        ...gpu.otherNodes,
    ];
    return (node) => {
        const devices: PciDevice[] = [
            // Something else on the node, in a group of its own.
            { id: "0000:00:02.0", class: "0x030000", vendor: "0x8086", device: "0x7d67", deviceName: "Integrated graphics", iommuGroup: 0, subsystemVendor: "0x8086", subsystemDevice: "0x0000" },
        ];
        for (const p of placements.filter((pl) => pl.node === node)) {
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
