/**
 * Bad config fails before any resource is registered, with one line per problem that
 * names the key path. Each case changes one thing in a real stack file.
 */
import { ConfigError, validateRawConfig } from "../config/load";
import { ConfigSection, evaluate, evaluateHost, key, stackSection } from "./helpers";

type Case = [title: string, stack: string, change: (c: ConfigSection) => void, expected: string];
const addNode = (c: ConfigSection) => key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve2", address: "192.168.1.11", cpuVendor: "amd", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPve2" });

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
        "ai-dualstack:aiVm.memoryGiB: this environment's guests on node pve ask for 136 GiB of RAM, more than the node's 128 GiB (host stack hosts[].memoryGiB): private-ai 120 GiB, private-db 4 GiB, private-ci 4 GiB, private-monitoring 4 GiB, private-backup 2 GiB, private-cache 1 GiB, private-vpn 512 MiB"],
    ["pinning to CPUs the node lacks", "public", (c) => { key(c, "aiVm").cpuAffinity = "20-31"; },
        "ai-dualstack:aiVm.cpuAffinity: CPU 31 does not exist on node pve (CPUs 0-23)"],
    ["TLS verification off with password auth", "private", (c) => { Object.assign(key(c, "proxmox"), { auth: "password", insecure: true }); c["ai-dualstack:proxmoxPassword"] = { secure: "v1:x" }; },
        "ai-dualstack:proxmox.insecure: must be false with proxmox.auth password: the password would go to an unverified server; trust the cluster CA (/etc/pve/pve-root-ca.pem through SSL_CERT_FILE) or use proxmox.auth token"],
    ["typo in a key", "public", (c) => { key(c, "gpu").iommuGrop = 3; },
        "ai-dualstack:gpu.iommuGrop: unknown key"],
    ["unknown top-level key", "private", (c) => { c["ai-dualstack:gpus"] = {}; },
        "ai-dualstack:gpus: unknown config key (known: aiVm, apps, containers, environment, githubRunnerToken, gpu, hostStack, models, network, proxmox, proxmoxApiToken, proxmoxPassword, pveAuditToken, services, sshPrivateKey, storage, vmTuneKey, vmidRange, workbench, workloads)"],
    ["a box-level key left in an environment file", "public", (c) => { c["ai-dualstack:hosts"] = []; },
        "ai-dualstack:hosts: unknown config key (known: aiVm, apps, containers, environment, githubRunnerToken, gpu, hostStack, models, network, proxmox, proxmoxApiToken, proxmoxPassword, pveAuditToken, services, sshPrivateKey, storage, vmTuneKey, vmidRange, workbench, workloads)"],
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
    ["model too large for the GPU", "public", (c) => { key<Record<string, unknown>[]>(c, "models").push({ name: "qwen2.5:32b", sizeGiB: 20 }); },
        "ai-dualstack:models[1].sizeGiB: qwen2.5:32b needs about 20 GiB, more than the RTX 3060's 12 GiB (gpu.vramGiB): pick a smaller model or quantisation, or set allowCpuOffload: true on it"],
    ["unknown app preset", "private", (c) => { key<Record<string, unknown>[]>(c, "apps").push({ preset: "wordpress" }); },
        `ai-dualstack:apps[3].preset: expected an app with preset one of assistant, privategpt, document-analysis, agentic-chatbot, multi-tenant, poc, got "wordpress"`],
    ["app preset of the other environment", "public", (c) => { key<Record<string, unknown>[]>(c, "apps").push({ preset: "assistant", port: 3200 }); },
        "ai-dualstack:apps[3].preset: assistant is not an app of the public environment (it has agentic-chatbot, multi-tenant, poc)"],
    ["app model that Ollama does not serve", "private", (c) => { key<Record<string, unknown>[]>(c, "apps")[0].model = "llama3.1:8b"; },
        "ai-dualstack:apps[0].model: llama3.1:8b is not in ai-dualstack:models (qwen2.5:32b, qwen2.5:7b, nomic-embed-text:v1.5)"],
    ["app port taken by a fixed service", "public", (c) => { key<Record<string, unknown>[]>(c, "apps")[2].port = 11434; },
        "ai-dualstack:apps[2].port: port 11434 is already used by Ollama on the AI VM"],
    ["vector store of the other environment", "public", (c) => { key(c, "workloads").vectorStore = "qdrant"; },
        "ai-dualstack:workloads.vectorStore: the public environment uses chroma, got qdrant"],
    ["image tagged latest", "private", (c) => { key(c, "workloads").ollamaImage = "ollama/ollama:latest"; },
        `ai-dualstack:workloads.ollamaImage: expected an image with a pinned tag like ollama/ollama:0.9.6 (not latest), got "ollama/ollama:latest"`],
    ["secret stored in plain text", "public", (c) => { c["ai-dualstack:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----"; },
        "ai-dualstack:sshPrivateKey: must be stored as a secret; set it again with: pulumi config set --secret sshPrivateKey <value>"],
    ["VPN peer outside the tunnel subnet", "private", (c) => { key<{ wireguard: { peers: Record<string, unknown>[] } }>(c, "services").wireguard.peers[0].address = "10.99.11.2"; },
        "ai-dualstack:services.wireguard.peers[0].address: 10.99.11.2 is not a host address inside services.wireguard.subnet 10.99.10.0/24"],
    ["VPN peer on the server's address", "private", (c) => { key<{ wireguard: { peers: Record<string, unknown>[] } }>(c, "services").wireguard.peers[0].address = "10.99.10.1"; },
        "ai-dualstack:services.wireguard.peers[0].address: 10.99.10.1 is the VPN server's own address"],
    ["tunnel subnet overlapping the environment's", "private", (c) => { Object.assign(key<Record<string, Record<string, unknown>>>(c, "services").wireguard, { subnet: "10.10.0.0/16", peers: [] }); },
        "ai-dualstack:services.wireguard.subnet: 10.10.0.0/16 overlaps the environment's subnet 10.10.10.0/24: the tunnel needs its own block"],
    ["a CI container without a runner", "private", (c) => { delete key(c, "services").runner; },
        "ai-dualstack:services.runner: is required: the cicd container runs a GitHub Actions runner (url, version, sha256)"],
    ["a published app without the proxy's container", "public",
        (c) => {
            c["ai-dualstack:containers"] = key<Record<string, unknown>[]>(c, "containers").filter((ct) => ct.role !== "security");
            delete key<Record<string, unknown>[]>(c, "apps")[2].publicHost;
        },
        "ai-dualstack:apps[0].publicHost: needs a security container: the reverse proxy that publishes it runs there"],
    ["proxy routes as a config list (they come from apps[].publicHost)", "public", (c) => { key<Record<string, unknown>>(c, "services").proxy = { routes: [] }; },
        "ai-dualstack:services.proxy.routes: unknown key"],
    ["PostgreSQL major Debian 12 does not ship", "public", (c) => { key<Record<string, Record<string, unknown>>>(c, "services").postgres.version = 17; },
        "ai-dualstack:services.postgres.version: expected 15 (what Debian 12 ships), got 17"],
];

/** Cases in the host stack's file: the host stack validates it (and every environment reads it). */
const hostCases: [title: string, change: (c: ConfigSection) => void, expected: string][] = [
    ["CPU vendor misspelt", (c) => { key<Record<string, unknown>[]>(c, "hosts")[0].cpuVendor = "arm"; },
        `ai-dualstack:hosts[0].cpuVendor: expected intel or amd, got "arm"`],
    ["cloud image without checksum", (c) => { delete key<Record<string, Record<string, unknown>>>(c, "images").ubuntuCloud.checksum; },
        "ai-dualstack:images.ubuntuCloud.checksum: is required: pin the image with the checksum from its SHA256SUMS"],
    ["the Debian template without a checksum", (c) => { delete key<Record<string, Record<string, unknown>>>(c, "images").debianTemplate.checksum; },
        "ai-dualstack:images.debianTemplate.checksum: is required: pin the image with the checksum from pveam's index (sha512sum of the template in pvesh get /nodes/<node>/aplinfo, see the README)"],
    ["no admin source", (c) => { key(c, "firewall").adminSources = []; },
        "ai-dualstack:firewall.adminSources: needs at least one admin source (your LAN, e.g. 192.168.1.0/24)"],
    ["two nodes with one name", (c) => { key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve", address: "192.168.1.11", cpuVendor: "amd", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPve2" }); },
        `ai-dualstack:hosts[1].name: duplicate node name "pve", already used at hosts[0].name`],
    ["a node without its SSH host key", (c) => { delete key<Record<string, unknown>[]>(c, "hosts")[0].sshHostKey; },
        "ai-dualstack:hosts[0].sshHostKey: is required"],
    ["a host key with the host name ssh-keyscan prints in front", (c) => { key<Record<string, unknown>[]>(c, "hosts")[0].sshHostKey = "192.168.1.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqC"; },
        `ai-dualstack:hosts[0].sshHostKey: expected the node's SSH host key like ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 <address>, without the host name; compare its fingerprint with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the node's console), got "192.168.1.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqC"`],
    ["TLS verification off with the root password", (c) => { key(c, "proxmox").insecure = true; },
        "ai-dualstack:proxmox.insecure: must be false with proxmox.auth password: the password would go to an unverified server; trust the cluster CA (/etc/pve/pve-root-ca.pem through SSL_CERT_FILE) or use proxmox.auth token"],
    ["an environment key in the host file", (c) => { c["ai-dualstack:aiVm"] = {}; },
        "ai-dualstack:aiVm: unknown config key (known: access, backup, environment, environments, firewall, hosts, images, memory, proxmox, proxmoxApiToken, proxmoxPassword, sshPrivateKey)"],
    ["a Proxmox VE version the roles cannot name privileges for", (c) => { c["ai-dualstack:access"] = { pveMajor: 7 }; },
        "ai-dualstack:access.pveMajor: expected 8 or 9, got 7"],
    ["a tune key set in the host file, which generates them", (c) => { c["ai-dualstack:vmTuneKey"] = { secure: "v1:x" }; },
        "ai-dualstack:vmTuneKey: unknown config key (known: access, backup, environment, environments, firewall, hosts, images, memory, proxmox, proxmoxApiToken, proxmoxPassword, sshPrivateKey)"],
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
            c["ai-dualstack:proxmoxApiToken"] = "root@pam:hunter2";
        }).then(() => undefined, (e: unknown) => e) as ConfigError;
        // A plain-text token is two problems: not a secret, and malformed.
        expect(error.problems).toEqual([
            "ai-dualstack:proxmoxApiToken: expected the form user@realm!tokenid=<uuid> (value not shown)",
            "ai-dualstack:proxmoxApiToken: must be stored as a secret; set it again with: pulumi config set --secret proxmoxApiToken <value>",
        ]);
        expect(error.message).not.toContain("hunter2");
    });

    test("a stack with a monitoring container needs pveAuditToken, as a secret of the API token form; one without does not", async () => {
        const raw = Object.fromEntries(Object.entries(stackSection("private")).map(([k, v]) => [k.replace(/^ai-dualstack:/, ""), typeof v === "string" ? v : JSON.stringify(v)]));
        const secrets = { proxmoxApiToken: "plan-placeholder:t", sshPrivateKey: "plan-placeholder:k", vmTuneKey: "plan-placeholder:v", githubRunnerToken: "plan-placeholder:g" };
        expect(() => validateRawConfig({ ...raw, ...secrets }, new Set(Object.keys(secrets)))).toThrow(
            "ai-dualstack:pveAuditToken: is required with a monitoring container (the host stack's output monitoringAuditToken); set it with: pulumi config set --secret pveAuditToken <value>");
        const malformed = { ...secrets, pveAuditToken: "root@pam:hunter2" };
        expect(() => validateRawConfig({ ...raw, ...malformed }, new Set(Object.keys(malformed)))).toThrow(
            "ai-dualstack:pveAuditToken: expected the form user@realm!tokenid=<uuid> (value not shown)");
        // The public stack has no monitoring container: its committed file sets no pveAuditToken and is valid.
        await expect(evaluate("public")).resolves.toBeDefined();
    });

    test("an environment without its tune key is told where the key comes from", () => {
        const raw = Object.fromEntries(Object.entries(stackSection("public")).map(([k, v]) => [k.replace(/^ai-dualstack:/, ""), typeof v === "string" ? v : JSON.stringify(v)]));
        const secrets = { proxmoxApiToken: "plan-placeholder:t", sshPrivateKey: "plan-placeholder:k" };
        expect(() => validateRawConfig({ ...raw, ...secrets }, new Set(Object.keys(secrets)))).toThrow(
            "ai-dualstack:vmTuneKey: is required (the host stack's output publicVmTuneKey); set it with: pulumi config set --secret vmTuneKey <value>");
    });

    test("a model larger than the GPU is accepted when it allows CPU offload", async () => {
        await expect(evaluate("public", (c) => {
            key<Record<string, unknown>[]>(c, "models").push({ name: "qwen2.5:32b", sizeGiB: 20, allowCpuOffload: true });
        })).resolves.toBeDefined();
    });

    test("the committed stacks are valid", async () => {
        await expect(evaluate("private")).resolves.toBeDefined();
        await expect(evaluate("public")).resolves.toBeDefined();
        await expect(evaluateHost()).resolves.toBeDefined();
    });
});

describe("semantic checks a careful admin would expect", () => {
    type Semantic = [title: string, stack: string, change: (c: ConfigSection) => void, expected: string];
    const semantic: Semantic[] = [
        ["a proprietary driver for the Blackwell card", "private", (c) => { key(c, "aiVm").nvidiaDriver = "nvidia-driver-570"; },
            "ai-dualstack:aiVm.nvidiaDriver: nvidia-driver-570 cannot drive the RTX 5090 (10de:2b85): Blackwell cards need NVIDIA's open kernel modules, 570 or later, e.g. nvidia-driver-570-open"],
        ["an open driver too old for Blackwell", "private", (c) => { key(c, "aiVm").nvidiaDriver = "nvidia-driver-550-open"; },
            "ai-dualstack:aiVm.nvidiaDriver: nvidia-driver-550-open cannot drive the RTX 5090 (10de:2b85): Blackwell cards need NVIDIA's open kernel modules, 570 or later, e.g. nvidia-driver-570-open"],
        ["a mount path with ..", "private", (c) => { key<Record<string, unknown>[]>(c, "containers")[0].dataMountPath = "/var/lib/../postgresql"; },
            `ai-dualstack:containers[0].dataMountPath: must not contain . or .. segments (Proxmox refuses them for mount points), got "/var/lib/../postgresql"`],
        ["a relative mount path", "private", (c) => { key<Record<string, unknown>[]>(c, "containers")[0].dataMountPath = "var/lib/postgresql"; },
            `ai-dualstack:containers[0].dataMountPath: expected an absolute path like /var/lib/postgresql, got "var/lib/postgresql"`],
    ];
    test.each(semantic)("%s", async (_title, stack, change, expected) => {
        const error = await evaluate(stack, change).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([expected]);
    });

    // Where an environment's values meet the host file's: both files and keys named.
    const boxFacts: [title: string, change: (c: ConfigSection) => void, expected: string[]][] = [
        ["a VLAN sub-interface name over 15 characters", (c) => { key<Record<string, unknown>[]>(c, "hosts")[0].uplink = "enp129s0f1np1"; }, [
            "Pulumi.host.yaml ai-dualstack:hosts[0].uplink (enp129s0f1np1) with Pulumi.private.yaml ai-dualstack:network.vlanId (10): the VLAN interface enp129s0f1np1.10 would be 16 characters; Linux interface names are at most 15 (shorten the uplink name or use a bridge VLAN)",
            "Pulumi.host.yaml ai-dualstack:hosts[0].uplink (enp129s0f1np1) with Pulumi.public.yaml ai-dualstack:network.vlanId (20): the VLAN interface enp129s0f1np1.20 would be 16 characters; Linux interface names are at most 15 (shorten the uplink name or use a bridge VLAN)",
        ]],
        ["the ZFS storage id reused for backups", (c) => { key(c, "backup").storage = "tank-public"; }, [
            `Pulumi.public.yaml ai-dualstack:storage.pool: storage id "tank-public" is also Pulumi.host.yaml ai-dualstack:backup.storage; the ZFS pool needs a storage id of its own (it holds only guest disks)`,
        ]],
        ["the ZFS storage id reused for the images", (c) => { key(c, "images").datastore = "tank-private"; }, [
            `Pulumi.private.yaml ai-dualstack:storage.pool: storage id "tank-private" is also Pulumi.host.yaml ai-dualstack:images.datastore; the ZFS pool needs a storage id of its own (it holds only guest disks)`,
        ]],
    ];
    test.each(boxFacts)("%s: the host stack names both files", async (_title, change, expected) => {
        const error = await evaluateHost(change).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual(expected);
    });

    test("an environment stack reports the same clash with its own host file", async () => {
        const error = await evaluate("public", undefined, { host: (c) => { key(c, "backup").storage = "tank-public"; } }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            expect.stringMatching(/^Pulumi\.public\.yaml ai-dualstack:storage\.pool: storage id "tank-public" is also \S*Pulumi\.host\.yaml ai-dualstack:backup\.storage; the ZFS pool needs a storage id of its own \(it holds only guest disks\)$/),
        ]);
    });

    test("a container that pushes the node over is the key named", async () => {
        const error = await evaluate("private", (c) => { key<Record<string, unknown>[]>(c, "containers")[5].memoryMiB = 100 * 1024; }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            "ai-dualstack:containers[5].memoryMiB: this environment's guests on node pve ask for 178 GiB of RAM, more than the node's 128 GiB (host stack hosts[].memoryGiB): private-backup 100 GiB, private-ai 64 GiB, private-db 4 GiB, private-ci 4 GiB, private-monitoring 4 GiB, private-cache 1 GiB, private-vpn 512 MiB",
        ]);
    });

    test("a range that holds none of the guests is reported once, not once per guest", async () => {
        const error = await evaluate("public", (c) => { c["ai-dualstack:vmidRange"] = { start: 300, end: 399 }; }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            "ai-dualstack:vmidRange: 300-399 holds none of this environment's 5 VMIDs (201, 210, 211, 212, 250): is the range or are the VMIDs wrong?",
        ]);
    });

    test("the vector-store image must be the configured kind", async () => {
        const error = await evaluate("private", (c) => { key(c, "workloads").vectorStoreImage = "chromadb/chroma:1.0.15"; }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            "ai-dualstack:workloads.vectorStoreImage: chromadb/chroma:1.0.15 does not look like a qdrant image (workloads.vectorStore is qdrant; e.g. qdrant/qdrant:v1.14.1)",
        ]);
    });

    test.each([
        ["registry.lan:5000/team/ollama:0.9.6", true],
        ["ghcr.io/org/app:1.2@sha256:" + "a".repeat(64), true],
        ["localhost:5000/app@sha256:" + "b".repeat(64), true],
        ["registry.lan:5000/team/ollama", false],
        ["ollama/ollama:latest", false],
        ["Ollama/Ollama:1", false],
    ])("image reference %s pinned: %s", async (ref, ok) => {
        const { isPinnedImage } = await import("../config/fields");
        expect(isPinnedImage(ref)).toBe(ok);
    });

    test("an image from a registry with a port is accepted in config", async () => {
        await expect(evaluate("private", (c) => { key(c, "workloads").ollamaImage = "registry.lan:5000/mirror/ollama:0.9.6"; })).resolves.toBeDefined();
    });

    test("an Ampere card takes the proprietary driver", async () => {
        await expect(evaluate("public", (c) => { key(c, "aiVm").nvidiaDriver = "nvidia-driver-550"; })).resolves.toBeDefined();
    });
});
