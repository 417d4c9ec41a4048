/**
 * Bad config fails before any resource is registered, with one line per problem that
 * names the key path. Each case changes one thing in a real stack file.
 */
import { ConfigError } from "../config/load";
import { ConfigSection, evaluate, evaluateHost, key } from "./helpers";

type Case = [title: string, stack: string, change: (c: ConfigSection) => void, expected: string];
const addNode = (c: ConfigSection) => key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve2", address: "192.168.1.11", cpuVendor: "amd" });

const cases: Case[] = [
    ["PCI address in the wrong form", "private", (c) => { key(c, "gpu").pciAddress = "1:0"; },
        `ai-dualstack:gpu.pciAddress: expected 0000:01:00.0 form, got "1:0"`],
    ["unknown environment", "public", (c) => { c["ai-dualstack:environment"] = "staging"; },
        `ai-dualstack:environment: expected private or public, got "staging"`],
    ["VMID outside the environment's range", "public", (c) => { key(c, "aiVm").vmid = 150; },
        "ai-dualstack:aiVm.vmid: VMID 150 is outside this environment's range 200-299"],
    ["container IP outside the subnet", "private", (c) => { key<Record<string, unknown>[]>(c, "containers")[0].ip = "10.20.20.20"; },
        "ai-dualstack:containers[0].ip: 10.20.20.20 is not a host address inside this environment's subnet 10.10.10.0/24"],
    ["duplicate VMID", "private", (c) => { key<Record<string, unknown>[]>(c, "containers")[1].vmid = 110; },
        `ai-dualstack:containers[1].vmid: duplicate VMID "110", already used at containers[0].vmid`],
    ["duplicate IP", "public", (c) => { key<Record<string, unknown>[]>(c, "containers")[2].ip = "10.20.20.10"; },
        `ai-dualstack:containers[2].ip: duplicate IP address "10.20.20.10", already used at aiVm.ip`],
    ["mirror with one device", "private", (c) => { key<Record<string, string[]>>(c, "storage").devices.pop(); },
        "ai-dualstack:storage.devices: a mirror needs exactly 2 devices, got 1"],
    ["device not by-id", "public", (c) => { key<Record<string, string[]>>(c, "storage").devices[0] = "/dev/nvme0n1"; },
        `ai-dualstack:storage.devices[0]: expected a stable /dev/disk/by-id/ path, got "/dev/nvme0n1"`],
    ["gateway outside the subnet", "private", (c) => { key(c, "network").gateway = "10.10.11.1"; },
        "ai-dualstack:network.gateway: 10.10.11.1 is not a host address inside this environment's subnet 10.10.10.0/24"],
    ["subnet with host bits", "public", (c) => { key(c, "network").subnet = "10.20.20.5/24"; },
        `ai-dualstack:network.subnet: expected a CIDR block like 10.10.0.0/24 with zero host bits, got "10.20.20.5/24"`],
    ["VLAN id out of range", "private", (c) => { key(c, "network").vlanId = 5000; },
        "ai-dualstack:network.vlanId: must be at most 4094, got 5000"],
    ["GPU on a node that does not exist", "private", (c) => { key(c, "gpu").node = "pve2"; },
        `ai-dualstack:gpu.node: names node "pve2", which is not in the host stack's hosts (pve)`],
    ["guests ask for more RAM than the node has", "private", (c) => { key(c, "aiVm").memoryGiB = 120; },
        "ai-dualstack:aiVm.memoryGiB: this environment's guests on node pve ask for 136 GiB of RAM, more than the node's 128 GiB (host stack hosts[].memoryGiB)"],
    ["pinning to CPUs the node lacks", "public", (c) => { key(c, "aiVm").cpuAffinity = "20-31"; },
        "ai-dualstack:aiVm.cpuAffinity: CPU 31 does not exist on node pve (CPUs 0-23)"],
    ["hugepages with an API token", "private", (c) => { key(c, "proxmox").auth = "token"; c["ai-dualstack:proxmoxApiToken"] = { secure: "v1:x" }; key(c, "aiVm").cpuAffinity = undefined; },
        "ai-dualstack:aiVm.hugepages: Proxmox only lets root@pam with a password set hugepages (API tokens are refused): set ai-dualstack:proxmox.auth to password (and the secret proxmoxPassword), or hugepages to none"],
    ["typo in a key", "public", (c) => { key(c, "gpu").iommuGrop = 3; },
        "ai-dualstack:gpu.iommuGrop: unknown key"],
    ["unknown top-level key", "private", (c) => { c["ai-dualstack:gpus"] = {}; },
        "ai-dualstack:gpus: unknown config key (known: aiVm, containers, environment, gpu, hostStack, models, network, proxmox, proxmoxApiToken, proxmoxPassword, sshPrivateKey, storage, vmidRange, workloads)"],
    ["a box-level key left in an environment file", "public", (c) => { c["ai-dualstack:hosts"] = []; },
        "ai-dualstack:hosts: unknown config key (known: aiVm, containers, environment, gpu, hostStack, models, network, proxmox, proxmoxApiToken, proxmoxPassword, sshPrivateKey, storage, vmidRange, workloads)"],
    ["container role misspelt", "private", (c) => { key<Record<string, unknown>[]>(c, "containers")[0].role = "db"; },
        `ai-dualstack:containers[0].role: expected one of database, cache, security, cicd, monitoring, backup, got "db"`],
    ["guest name without the environment prefix", "public", (c) => { key(c, "aiVm").name = "private-ai"; },
        `ai-dualstack:aiVm.name: must start with "public-" so the two environments never share a name, got "private-ai"`],
    ["Blackwell-incapable driver name", "private", (c) => { key(c, "aiVm").nvidiaDriver = "nvidia-570"; },
        `ai-dualstack:aiVm.nvidiaDriver: expected an Ubuntu NVIDIA driver package like nvidia-driver-570-open, got "nvidia-570"`],
    ["data holder VMID outside the range", "public", (c) => { key(c, "aiVm").dataVmid = 300; },
        "ai-dualstack:aiVm.dataVmid: VMID 300 is outside this environment's range 200-299"],
    ["model without a tag", "private", (c) => { key<Record<string, unknown>[]>(c, "models")[0].name = "qwen2.5"; },
        `ai-dualstack:models[0].name: expected an Ollama model with an explicit tag like qwen2.5:32b, got "qwen2.5"`],
    ["secret stored in plain text", "public", (c) => { c["ai-dualstack:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----"; },
        "ai-dualstack:sshPrivateKey: must be stored as a secret; set it again with: pulumi config set --secret sshPrivateKey <value>"],
];

/** Cases in the host stack's file: the host stack validates it (and every environment reads it). */
const hostCases: [title: string, change: (c: ConfigSection) => void, expected: string][] = [
    ["CPU vendor misspelt", (c) => { key<Record<string, unknown>[]>(c, "hosts")[0].cpuVendor = "arm"; },
        `ai-dualstack:hosts[0].cpuVendor: expected intel or amd, got "arm"`],
    ["cloud image without checksum", (c) => { delete key<Record<string, Record<string, unknown>>>(c, "images").ubuntuCloud.checksum; },
        "ai-dualstack:images.ubuntuCloud.checksum: is required: pin the image with the checksum from its SHA256SUMS"],
    ["no admin source", (c) => { key(c, "firewall").adminSources = []; },
        "ai-dualstack:firewall.adminSources: needs at least one admin source (your LAN, e.g. 192.168.1.0/24)"],
    ["two nodes with one name", (c) => { key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve", address: "192.168.1.11", cpuVendor: "amd" }); },
        `ai-dualstack:hosts[1].name: duplicate node name "pve", already used at hosts[0].name`],
    ["an environment key in the host file", (c) => { c["ai-dualstack:aiVm"] = {}; },
        "ai-dualstack:aiVm: unknown config key (known: backup, environment, environments, firewall, hosts, images, memory, proxmox, proxmoxApiToken, proxmoxPassword, sshPrivateKey)"],
];

describe("bad host config gives one clear line naming the key", () => {
    test.each(hostCases)("%s", async (_title, change, expected) => {
        const error = await evaluateHost(change).then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems).toEqual([expected]);
    });

    test("an environment file the host stack reads is reported with its file name", async () => {
        const error = await evaluateHost(undefined, { public: (c) => { key(c, "gpu").pciAddress = "1:0"; } }).then(() => undefined, (e: unknown) => e) as ConfigError;
        expect(error.problems).toHaveLength(1);
        expect(error.problems[0]).toMatch(/Pulumi\.public\.yaml ai-dualstack:gpu\.pciAddress: expected 0000:01:00\.0 form, got "1:0"$/);
    });
});

describe("placement against the host stack's nodes", () => {
    test("an AI VM on a node its GPU mapping does not cover, nor its pool", async () => {
        const error = await evaluate("private", (c) => { key(c, "aiVm").node = "pve2"; }, { host: addNode }).then(() => undefined, (e: unknown) => e) as ConfigError;
        expect(error.problems).toEqual([
            "ai-dualstack:aiVm.node: the AI VM is placed on \"pve2\", but its GPU mapping private-gpu only covers pve",
            "ai-dualstack:aiVm.node: the guest is placed on node pve2, but this environment's pool tank-private exists only on node pve (storage.node)",
        ]);
    });

    test("a container on a node without the environment's pool (addStorage lists only the creating node)", async () => {
        const error = await evaluate("public", (c) => { key<Record<string, unknown>[]>(c, "containers")[1].node = "pve2"; }, { host: addNode }).then(() => undefined, (e: unknown) => e) as ConfigError;
        expect(error.problems).toEqual([
            "ai-dualstack:containers[1].node: the guest is placed on node pve2, but this environment's pool tank-public exists only on node pve (storage.node)",
        ]);
    });

    test("a guest on the pool's node passes on a two-node box", async () => {
        await expect(evaluate("public", undefined, { host: addNode })).resolves.toBeDefined();
    });
});

describe("bad config gives one clear line naming the key", () => {
    test.each(cases)("%s", async (_title, stack, change, expected) => {
        const error = await evaluate(stack, change).then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems).toEqual([expected]);
    });

    test("several problems are all reported, sorted, one line each", async () => {
        const error = await evaluate("private", (c) => {
            key(c, "gpu").pciAddress = "1:0";
            key(c, "network").vlanId = 1;
        }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            `ai-dualstack:gpu.pciAddress: expected 0000:01:00.0 form, got "1:0"`,
            "ai-dualstack:network.vlanId: must be at least 2, got 1",
        ]);
    });

    test("a malformed API token is reported without its value", async () => {
        const error = await evaluate("private", (c) => {
            key(c, "proxmox").auth = "token";
            key(c, "aiVm").hugepages = "none";
            delete key(c, "aiVm").cpuAffinity;
            c["ai-dualstack:proxmoxApiToken"] = "root@pam:hunter2";
        }).then(() => undefined, (e: unknown) => e) as ConfigError;
        // A plain-text token is two problems: not a secret, and malformed.
        expect(error.problems).toEqual([
            "ai-dualstack:proxmoxApiToken: expected the form user@realm!tokenid=<uuid> (value not shown)",
            "ai-dualstack:proxmoxApiToken: must be stored as a secret; set it again with: pulumi config set --secret proxmoxApiToken <value>",
        ]);
        expect(error.message).not.toContain("hunter2");
    });

    test("the committed stacks are valid", async () => {
        await expect(evaluate("private")).resolves.toBeDefined();
        await expect(evaluate("public")).resolves.toBeDefined();
        await expect(evaluateHost()).resolves.toBeDefined();
    });
});
