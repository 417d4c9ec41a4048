/**
 * Preflight for GPU passthrough: compares what the node reports (`hardware.getPci`) with
 * the config, before a PCI mapping is written. Pure, so every rule has a test.
 */

/** The fields of the provider's `GetPciDevice` the checks read. */
export interface PciDevice {
    readonly id: string;
    readonly class: string;
    readonly vendor: string;
    readonly device: string;
    readonly deviceName: string;
    readonly iommuGroup: number;
    readonly subsystemVendor: string;
    readonly subsystemDevice: string;
}

export interface GpuPlacement {
    /** where this placement lives in the config, for messages: `gpu` or `gpu.otherNodes[0]` */
    readonly configPath: string;
    readonly node: string;
    readonly pciAddress: string;
    readonly iommuGroup: number;
    readonly subsystemId: string;
}

export interface GpuIdentity {
    readonly model: string;
    readonly vendorId: string;
    readonly deviceId: string;
    readonly audioDeviceId?: string;
}

export interface PreflightResult {
    readonly errors: string[];
    readonly warnings: string[];
}

const hex = (value: string) => value.toLowerCase().replace(/^0x/, "").padStart(4, "0");
const slotOf = (address: string) => address.replace(/\.[0-7]$/, "");
const PCI_BRIDGE_CLASS = /^(0x)?0604/;

export function checkGpuOnNode(devices: readonly PciDevice[], gpu: GpuIdentity, at: GpuPlacement): PreflightResult {
    const errors: string[] = [];
    const warnings: string[] = [];
    const key = (field: string) => `ai-dualstack:${at.configPath}.${field}`;
    const found = devices.find((d) => d.id === at.pciAddress);

    if (found === undefined) {
        const candidates = devices
            .filter((d) => hex(d.vendor) === gpu.vendorId && hex(d.device) === gpu.deviceId)
            .map((d) => d.id);
        const hint = candidates.length > 0 ? `; a ${gpu.model} (${gpu.vendorId}:${gpu.deviceId}) is at ${candidates.join(", ")}` : `; no ${gpu.vendorId}:${gpu.deviceId} device is on that node`;
        errors.push(`${key("pciAddress")}: no PCI device ${at.pciAddress} on node ${at.node}${hint}`);
        return { errors, warnings };
    }

    const actualId = `${hex(found.vendor)}:${hex(found.device)}`;
    if (actualId !== `${gpu.vendorId}:${gpu.deviceId}`) {
        errors.push(`${key("pciAddress")}: ${at.pciAddress} on node ${at.node} is ${actualId} (${found.deviceName}), not the configured ${gpu.model} ${gpu.vendorId}:${gpu.deviceId}`);
    }
    const actualSubsystem = `${hex(found.subsystemVendor)}:${hex(found.subsystemDevice)}`;
    if (actualSubsystem !== at.subsystemId) {
        errors.push(`${key("subsystemId")}: node ${at.node} reports ${actualSubsystem} for ${at.pciAddress}, config says ${at.subsystemId}`);
    }

    if (found.iommuGroup < 0) {
        // Host preparation turns the IOMMU on, but only a reboot makes it real: warn, do not block the first run.
        warnings.push(`${key("iommuGroup")}: IOMMU is not active on node ${at.node} yet (group -1); host preparation enables it, reboot the node and run pulumi up again`);
        return { errors, warnings };
    }
    if (found.iommuGroup !== at.iommuGroup) {
        errors.push(`${key("iommuGroup")}: node ${at.node} puts ${at.pciAddress} in IOMMU group ${found.iommuGroup}, config says ${at.iommuGroup}`);
    }

    const slot = slotOf(at.pciAddress);
    const groupMates = devices.filter((d) => d.iommuGroup === found.iommuGroup && slotOf(d.id) !== slot && !PCI_BRIDGE_CLASS.test(d.class));
    if (groupMates.length > 0) {
        errors.push(`${key("iommuGroup")}: IOMMU group ${found.iommuGroup} on node ${at.node} also holds ${groupMates.map((d) => `${d.id} (${d.deviceName})`).join(", ")}; passthrough would take them too: move the card to a CPU-attached slot or check ACS in the firmware`);
    }

    if (gpu.audioDeviceId !== undefined) {
        const audio = devices.find((d) => slotOf(d.id) === slot && d.id !== at.pciAddress && hex(d.device) === gpu.audioDeviceId);
        if (audio === undefined) {
            errors.push(`ai-dualstack:gpu.audioDeviceId: no ${gpu.vendorId}:${gpu.audioDeviceId} audio function in slot ${slot} on node ${at.node}`);
        }
    }
    return { errors, warnings };
}
