/**
 * The checks across both environments, as the host stack runs them: each has a case that
 * fails (one line naming the file and key of both sides) and one that passes. `npm run
 * plan` and `npm run policy` run the same checks (tests/tools.test.ts).
 */
import { ConfigError } from "../config/load";
import { cidrsOverlap } from "../config/crossEnvironment";
import { ConfigSection, evaluateHost, key } from "./helpers";

type Change = (c: ConfigSection) => void;
interface Case {
    readonly title: string;
    readonly host?: Change;
    readonly private?: Change;
    readonly public?: Change;
    /** the line, with the temporary files' paths shown as <private> and <public> */
    readonly fails: string;
    /** a near-miss that must pass */
    readonly passes: { host?: Change; private?: Change; public?: Change };
}

const containers = (c: ConfigSection) => key<Record<string, unknown>[]>(c, "containers");

const CASES: Case[] = [
    {
        title: "subnets that overlap (not only equal)",
        public: (c) => { Object.assign(key(c, "network"), { subnet: "10.10.0.0/16", gateway: "10.10.20.1" }); key(c, "aiVm").ip = "10.10.20.10"; containers(c).forEach((ct, i) => { ct.ip = `10.10.20.${20 + i}`; }); },
        fails: "<private> ai-dualstack:network.subnet (10.10.10.0/24) overlaps <public> ai-dualstack:network.subnet (10.10.0.0/16)",
        passes: { public: (c) => { Object.assign(key(c, "network"), { subnet: "10.10.11.0/24", gateway: "10.10.11.1" }); key(c, "aiVm").ip = "10.10.11.10"; containers(c).forEach((ct, i) => { ct.ip = `10.10.11.${20 + i}`; }); } },
    },
    {
        title: "the same VLAN",
        public: (c) => { key(c, "network").vlanId = 10; },
        fails: "<private> ai-dualstack:network.vlanId (10) is the same VLAN as <public> ai-dualstack:network.vlanId (10)",
        passes: { public: (c) => { key(c, "network").vlanId = 11; } },
    },
    {
        title: "the same bridge",
        public: (c) => { key(c, "network").bridge = "vmbr10"; },
        fails: "<private> ai-dualstack:network.bridge (vmbr10) is the same bridge as <public> ai-dualstack:network.bridge (vmbr10)",
        passes: { public: (c) => { key(c, "network").bridge = "vmbr11"; } },
    },
    {
        title: "VMID ranges that overlap",
        private: (c) => { key(c, "vmidRange").end = 200; },
        fails: "<private> ai-dualstack:vmidRange (100-200) overlaps <public> ai-dualstack:vmidRange (200-299)",
        passes: { private: (c) => { key(c, "vmidRange").end = 199; } },
    },
    {
        title: "a disk in both mirrors",
        public: (c) => { key<Record<string, string[]>>(c, "storage").devices[1] = "/dev/disk/by-id/nvme-CT1000P3PSSD8_PRIVATE_B"; },
        fails: "<private> ai-dualstack:storage.devices[1] (/dev/disk/by-id/nvme-CT1000P3PSSD8_PRIVATE_B) is the same disk as <public> ai-dualstack:storage.devices[1] (/dev/disk/by-id/nvme-CT1000P3PSSD8_PRIVATE_B)",
        passes: { public: (c) => { key<Record<string, string[]>>(c, "storage").devices[1] = "/dev/disk/by-id/nvme-CT1000P3PSSD8_PUBLIC_C"; } },
    },
    {
        title: "the same PCI slot",
        public: (c) => { key(c, "gpu").pciAddress = "0000:01:00.0"; },
        fails: "<private> ai-dualstack:gpu.pciAddress (0000:01:00.0) is the same PCI slot on node pve as <public> ai-dualstack:gpu.pciAddress (0000:01:00.0)",
        passes: { public: (c) => { key(c, "gpu").pciAddress = "0000:03:00.0"; } },
    },
    {
        title: "the same IOMMU group for two cards on one node",
        public: (c) => { key(c, "gpu").iommuGroup = 14; },
        fails: "<private> ai-dualstack:gpu.iommuGroup (14) is the same IOMMU group on node pve as (one group passes to one VM) <public> ai-dualstack:gpu.iommuGroup (14)",
        passes: { public: (c) => { key(c, "gpu").iommuGroup = 16; } },
    },
    {
        title: "the same mapping name",
        public: (c) => { key(c, "gpu").mappingName = "private-gpu"; },
        fails: "<private> ai-dualstack:gpu.mappingName (private-gpu) is the same PCI mapping name as <public> ai-dualstack:gpu.mappingName (private-gpu)",
        passes: { public: (c) => { key(c, "gpu").mappingName = "public-gpu-2"; } },
    },
    {
        title: "pinned CPU sets that overlap on one node",
        public: (c) => { key(c, "aiVm").cpuAffinity = "6-13"; },
        fails: "<private> ai-dualstack:aiVm.cpuAffinity (0-7) pins CPUs 6-7 on node pve that are also pinned by <public> ai-dualstack:aiVm.cpuAffinity (6-13)",
        passes: { public: (c) => { key(c, "aiVm").cpuAffinity = "8,10-13"; } },
    },
    {
        title: "an admin source inside an environment's subnet",
        host: (c) => { key(c, "firewall").adminSources = ["192.168.1.0/24", "10.20.0.0/16"]; },
        fails: "Pulumi.host.yaml ai-dualstack:firewall.adminSources[1] (10.20.0.0/16) overlaps <public> ai-dualstack:network.subnet (10.20.20.0/24): guests would pass as admins",
        passes: { host: (c) => { key(c, "firewall").adminSources = ["192.168.1.0/24", "10.30.0.0/16"]; } },
    },
    {
        title: "a node address (in the management IP set, and local_network) inside an environment's subnet",
        host: (c) => { key<Record<string, unknown>[]>(c, "hosts")[0].address = "10.10.10.2"; },
        fails: "<private> ai-dualstack:network.subnet: 10.10.10.0/24 contains the management address of node pve (10.10.10.2): an environment needs a subnet of its own",
        passes: { host: (c) => { key<Record<string, unknown>[]>(c, "hosts")[0].address = "10.10.11.2"; } },
    },
    {
        title: "both environments' RAM, the ARC reserve and the host's own over the node's",
        public: (c) => { key(c, "aiVm").memoryGiB = 28; },
        fails: "Pulumi.host.yaml ai-dualstack:hosts[0].memoryGiB (128): node pve is oversubscribed: <private> ai-dualstack:aiVm.memoryGiB and containers[].memoryMiB (79.5 GiB) + <public> ai-dualstack:aiVm.memoryGiB and containers[].memoryMiB (34 GiB) + Pulumi.host.yaml ai-dualstack:memory.zfsArcReserveGiB (13) + Pulumi.host.yaml ai-dualstack:memory.hostReserveGiB (4) need 130.5 GiB",
        passes: { public: (c) => { key(c, "aiVm").memoryGiB = 25; } },
    },
    {
        title: "a larger ARC reserve tips the same pair over",
        host: (c) => { key(c, "memory").zfsArcReserveGiB = 16; },
        fails: "Pulumi.host.yaml ai-dualstack:hosts[0].memoryGiB (128): node pve is oversubscribed: <private> ai-dualstack:aiVm.memoryGiB and containers[].memoryMiB (79.5 GiB) + <public> ai-dualstack:aiVm.memoryGiB and containers[].memoryMiB (30 GiB) + Pulumi.host.yaml ai-dualstack:memory.zfsArcReserveGiB (16) + Pulumi.host.yaml ai-dualstack:memory.hostReserveGiB (4) need 129.5 GiB",
        passes: { host: (c) => { key(c, "memory").zfsArcReserveGiB = 14; } },
    },
];

async function problems(change: { host?: Change; private?: Change; public?: Change }): Promise<string[]> {
    const envs = { private: change.private ?? (() => undefined), public: change.public ?? (() => undefined) };
    const error = await evaluateHost(change.host, envs).then(() => undefined, (e: unknown) => e);
    if (error === undefined) return [];
    if (!(error instanceof ConfigError)) throw error instanceof Error ? error : new Error(JSON.stringify(error));
    // The host test writes both environment files to scratch directories: name them by role.
    return error.problems.map((p) => p.replace(/\S*Pulumi\.private\.yaml/g, "<private>").replace(/\S*Pulumi\.public\.yaml/g, "<public>"));
}

describe.each(CASES)("$title", (c) => {
    test("fails with one line naming both sides", async () => {
        expect(await problems({ host: c.host, private: c.private, public: c.public })).toEqual([c.fails]);
    });
    test("passes when the two sides are apart", async () => {
        expect(await problems(c.passes)).toEqual([]);
    });
});

test("CIDR overlap is by range, for blocks and single addresses", () => {
    expect(cidrsOverlap("10.0.0.0/8", "10.20.20.0/24")).toBe(true);
    expect(cidrsOverlap("10.20.20.5", "10.20.20.0/24")).toBe(true);
    expect(cidrsOverlap("10.20.21.0/24", "10.20.20.0/24")).toBe(false);
    expect(cidrsOverlap("192.168.1.0/24", "10.20.20.0/24")).toBe(false);
});
