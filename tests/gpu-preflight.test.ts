/**
 * The GPU preflight: what the node reports against what the config says, before a
 * mapping is written.
 */
import { checkGpuOnNode, GpuPlacement, PciDevice } from "../components/host/gpuPreflight";
import { evaluateHost } from "./helpers";

const gpu = { model: "RTX 5090", vendorId: "10de", deviceId: "2b85", audioDeviceId: "22e8" };
const at: GpuPlacement = { configPath: "gpu", node: "pve", pciAddress: "0000:01:00.0", iommuGroup: 14, subsystemId: "10de:2198" };
const dev = (d: Partial<PciDevice> & Pick<PciDevice, "id">): PciDevice => ({
    class: "0x030000", vendor: "0x10de", device: "0x2b85", deviceName: "GB202", iommuGroup: 14, subsystemVendor: "0x10de", subsystemDevice: "0x2198", ...d,
});
const healthy = [
    dev({ id: "0000:00:01.0", class: "0x060400", vendor: "0x8086", device: "0xa70d", deviceName: "root port" }),
    dev({ id: "0000:01:00.0" }),
    dev({ id: "0000:01:00.1", class: "0x040300", device: "0x22e8", deviceName: "HD audio" }),
    dev({ id: "0000:02:00.0", device: "0x2504", iommuGroup: 15, deviceName: "GA106" }),
];

test("a card where the config says, alone in its group with its audio function, passes", () => {
    expect(checkGpuOnNode(healthy, gpu, at)).toEqual({ errors: [], warnings: [] });
});

test("a missing card names the key and where the card really is", () => {
    const moved = healthy.map((d) => (d.id.startsWith("0000:01:00") ? { ...d, id: d.id.replace("0000:01", "0000:03") } : d));
    expect(checkGpuOnNode(moved, gpu, at).errors).toEqual([
        "ai-dualstack:gpu.pciAddress: no PCI device 0000:01:00.0 on node pve; a RTX 5090 (10de:2b85) is at 0000:03:00.0",
    ]);
});

test("another card at the address is refused", () => {
    const result = checkGpuOnNode(healthy, gpu, { ...at, pciAddress: "0000:02:00.0", iommuGroup: 15 });
    expect(result.errors[0]).toBe("ai-dualstack:gpu.pciAddress: 0000:02:00.0 on node pve is 10de:2504 (GA106), not the configured RTX 5090 10de:2b85");
});

test("a wrong IOMMU group or subsystem id is refused", () => {
    expect(checkGpuOnNode(healthy, gpu, { ...at, iommuGroup: 13, subsystemId: "1462:5207" }).errors).toEqual([
        "ai-dualstack:gpu.subsystemId: node pve reports 10de:2198 for 0000:01:00.0, config says 1462:5207",
        "ai-dualstack:gpu.iommuGroup: node pve puts 0000:01:00.0 in IOMMU group 14, config says 13",
    ]);
});

test("a group shared with another device (no ACS) is refused; bridges are fine", () => {
    const shared = [...healthy, dev({ id: "0000:05:00.0", class: "0x010802", vendor: "0x144d", device: "0xa808", deviceName: "NVMe SSD", iommuGroup: 14 })];
    expect(checkGpuOnNode(shared, gpu, at).errors).toEqual([
        "ai-dualstack:gpu.iommuGroup: IOMMU group 14 on node pve also holds 0000:05:00.0 (NVMe SSD); passthrough would take them too: move the card to a CPU-attached slot or check ACS in the firmware",
    ]);
});

test("IOMMU not yet active is a warning, so the first run can prepare the host", () => {
    const off = healthy.map((d) => ({ ...d, iommuGroup: -1 }));
    expect(checkGpuOnNode(off, gpu, at)).toEqual({ errors: [], warnings: [expect.stringMatching(/^ai-dualstack:gpu\.iommuGroup: IOMMU is not active on node pve yet/)] });
});

test("a missing audio function is refused when one is configured", () => {
    expect(checkGpuOnNode(healthy.filter((d) => d.id !== "0000:01:00.1"), gpu, at).errors).toEqual([
        "ai-dualstack:gpu.audioDeviceId: no 10de:22e8 audio function in slot 0000:01:00 on node pve",
    ]);
});

test("the host stack stops before writing the mapping when the node disagrees, naming the environment's file", async () => {
    const error = await evaluateHost(undefined, {}, () => healthy.filter((d) => !d.id.startsWith("0000:01:00"))).then(() => undefined, (e: unknown) => e);
    expect(String(error)).toContain("GPU preflight failed:\nPulumi.private.yaml ai-dualstack:gpu.pciAddress: no PCI device 0000:01:00.0 on node pve; no 10de:2b85 device is on that node");
});
