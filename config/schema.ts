/**
 * The section schemas of an environment's stack config, and the types the components get.
 *
 * Each top-level key here is one Pulumi config key in the `ai-dualstack:` namespace
 * (`ai-dualstack:gpu`, `ai-dualstack:network`, ...). Secrets are separate keys read as
 * secrets by the loader and never pass through this schema as plain text.
 *
 * The config is split by job: field primitives (formats, ranges) in fields.ts; the sections
 * here (the host stack's in hostSchema.ts, the services' in services.ts); the rules that
 * relate fields to each other and to the box (VMIDs inside the range, IPs inside the subnet,
 * nodes that exist, RAM that fits) in rules.ts, as small named checks over one derived list
 * of guests.
 */
import { z } from "zod";
import { cpuSet, envVarName, guestName, hexId, hostPort, httpsUrl, int, ipv4, mountPath, nodeName, pattern, pciAddress, pinnedImage, sha256, sha512, sshHostKey, sshPublicKey, subsystemId, urlPath } from "./fields";
import { got, MISSING } from "./messages";
import { parseCidr } from "./net";
import { hostName, servicesSchema } from "./services";

// crossEnvironment.ts reads these from here.
export { cpuList } from "./fields";
export { formatPath } from "./messages";

export const ENVIRONMENTS = ["private", "public"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export const CONTAINER_ROLES = ["database", "cache", "security", "cicd", "monitoring", "backup"] as const;
export type ContainerRole = (typeof CONTAINER_ROLES)[number];

const AUTH_MODES = ["token", "password"] as const;

export const proxmoxSchema = z.strictObject({
    /** Proxmox VE API endpoint, e.g. https://192.168.1.10:8006/ */
    endpoint: pattern(/^https:\/\/[^\s/]+(:\d+)?\/?$/, "the API endpoint like https://192.168.1.10:8006/"),
    /**
     * token: the secret proxmoxApiToken, the environment's own scoped token from the host
     * stack. password: `username` with the secret proxmoxPassword. Either way, hugepages,
     * CPU affinity and the AI VM's boot order go through the tune key (secret vmTuneKey).
     */
    auth: z.enum(AUTH_MODES, { error: (iss) => iss.input === undefined ? MISSING : `expected token or password, ${got(iss.input)}` }).default("token"),
    /** API user for password auth */
    username: pattern(/^[^\s@!]+@[a-z0-9-]+$/, "a Proxmox user like root@pam").default("root@pam"),
    /**
     * skip TLS verification. Leave it false and trust the cluster's own CA instead
     * (/etc/pve/pve-root-ca.pem through SSL_CERT_FILE); refused together with password auth.
     */
    insecure: z.boolean().default(false),
    /** SSH user for host preparation (root, or a sudoer) */
    sshUser: pattern(/^[a-z_][a-z0-9_-]{0,31}$/, "a Unix user name").default("root"),
    sshPort: int(1, 65535, "a TCP port").default(22),
});

export const hostSchema = z.strictObject({
    /** Proxmox node name as shown in the cluster (`pvecm nodes`, the GUI) */
    name: nodeName,
    /** address the SSH host-preparation commands connect to */
    address: ipv4,
    /** the node's SSH host key: every remote command to the node refuses any other key */
    sshHostKey,
    cpuVendor: z.enum(["intel", "amd"], { error: (iss) => iss.input === undefined ? MISSING : `expected intel or amd, ${got(iss.input)}` }),
    /** physical RAM of the node */
    memoryGiB: int(8, 4096).default(128),
    /** CPU threads of the node */
    cores: int(1, 1024).default(24),
    /** physical NIC the env VLAN rides on */
    uplink: pattern(/^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/, "a network interface name like eno1").default("eno1"),
    /**
     * the DNS name in the node's API certificate when it is one of your own (ACME, `pvenode
     * cert set`): the pve exporter then reads the API by this name, trusting the public CAs.
     * Without it the exporter uses `address`, which the cluster CA's node certificate names.
     */
    apiName: pattern(/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/, "a fully qualified DNS name like pve.example.org").optional(),
});

const networkSchema = z.strictObject({
    /** this env's bridge, e.g. vmbr10 */
    bridge: pattern(/^[a-zA-Z][a-zA-Z0-9_]{0,9}$/, "a bridge name like vmbr10 (letters, digits, _; at most 10)"),
    vlanId: int(2, 4094, "a VLAN id"),
    subnet: z.string().refine((s) => parseCidr(s) !== undefined, {
        error: (iss) => `expected a CIDR block like 10.10.0.0/24 with zero host bits, ${got(iss.input)}`,
    }),
    gateway: ipv4,
    dns: z.array(ipv4).min(1).optional(),
});

const storageSchema = z.strictObject({
    /** ZFS pool name; also the Proxmox storage id guests' disks live on */
    pool: pattern(/^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/, "a ZFS pool name like tank-private"),
    /** node the NVMe mirror is in (default: the first host) */
    node: nodeName.optional(),
    /** the two NVMe devices, by stable /dev/disk/by-id/ path */
    devices: z.array(pattern(/^\/dev\/disk\/by-id\/[^\s/]+$/, "a stable /dev/disk/by-id/ path")),
    ashift: int(9, 16).default(12),
    compression: z.enum(["lz4", "zstd", "on", "off"]).default("lz4"),
});

const gpuNodeSchema = z.strictObject({
    node: nodeName,
    pciAddress,
    iommuGroup: int(0, 4096, "an IOMMU group number"),
    subsystemId,
});

const gpuSchema = z.strictObject({
    /** name of the Proxmox PCI resource mapping, e.g. private-gpu */
    mappingName: guestName,
    /** display name, e.g. "RTX 5090" */
    model: z.string().min(1),
    vendorId: hexId,
    deviceId: hexId,
    /** the card's HDMI audio function (same slot, function 1), passed through with it */
    audioDeviceId: hexId.optional(),
    vramGiB: int(1, 256),
    /** node holding the card (default: the first host) */
    node: nodeName.optional(),
    pciAddress,
    iommuGroup: int(0, 4096, "an IOMMU group number"),
    subsystemId,
    /** the same card model on other cluster nodes: the mapping then spans nodes */
    otherNodes: z.array(gpuNodeSchema).default([]),
});

/** A downloaded image, always pinned by checksum: a changed upstream file fails the download. */
export const imageSchema = (checksumSource: string) => z.strictObject({
    url: httpsUrl,
    checksumAlgorithm: z.enum(["sha256", "sha512"]).default("sha256"),
    checksum: z.string({ error: `is required: pin the image with the checksum from ${checksumSource}` }),
}).superRefine((img, ctx) => {
    const check = img.checksumAlgorithm === "sha256" ? sha256 : sha512;
    const result = check.safeParse(img.checksum);
    if (!result.success) {
        ctx.addIssue({ code: "custom", path: ["checksum"], message: result.error.issues[0].message });
    }
});

const aiVmSchema = z.strictObject({
    name: guestName,
    vmid: int(100, 999_999_999, "a VMID"),
    /** VMID of the stopped holder VM that owns the data disk, so the AI VM can be rebuilt without it */
    dataVmid: int(100, 999_999_999, "a VMID"),
    node: nodeName.optional(),
    cores: int(1, 1024),
    memoryGiB: int(2, 4096),
    /** back guest RAM with hugepages reserved on the host (seed step 5) */
    hugepages: z.enum(["none", "2M", "1G"]).default("1G"),
    /** pin the VM's vCPUs to these host CPUs (seed step 5), e.g. 0-15 */
    cpuAffinity: cpuSet.optional(),
    ip: ipv4,
    osDiskGiB: int(16, 65536),
    /** models, vector store and documents live here, apart from the OS disk */
    dataDiskGiB: int(16, 65536),
    user: pattern(/^[a-z_][a-z0-9_-]{0,31}$/, "a Unix user name").default("ai"),
    sshPublicKeys: z.array(sshPublicKey).min(1, { error: "needs at least one SSH public key" }),
    /** Ubuntu package of the NVIDIA driver; RTX 50 (Blackwell) needs an -open flavour */
    nvidiaDriver: pattern(/^nvidia-driver-\d{3}(-server)?(-open)?$/, "an Ubuntu NVIDIA driver package like nvidia-driver-570-open"),
    startupOrder: int(1, 1000).default(1),
});

const containerSchema = z.strictObject({
    name: guestName,
    role: z.enum(CONTAINER_ROLES, { error: (iss) => iss.input === undefined ? MISSING : `expected one of ${CONTAINER_ROLES.join(", ")}, ${got(iss.input)}` }),
    vmid: int(100, 999_999_999, "a VMID"),
    node: nodeName.optional(),
    ip: ipv4,
    cores: int(1, 1024),
    memoryMiB: int(128, 4_194_304),
    rootDiskGiB: int(2, 65536),
    dataDiskGiB: int(1, 65536),
    /** where the data volume is mounted inside the container */
    dataMountPath: mountPath,
    startupOrder: int(1, 1000),
});

const modelSchema = z.strictObject({
    /** Ollama model tag, e.g. qwen2.5:32b */
    name: pattern(/^[a-z0-9][a-z0-9._-]*:[a-z0-9][a-z0-9._-]*$/, "an Ollama model with an explicit tag like qwen2.5:32b"),
    /** download size, which is about what the weights take in VRAM */
    sizeGiB: z.number().positive(),
    /** let Ollama run part of the model on the CPU when it does not fit gpu.vramGiB (slow) */
    allowCpuOffload: z.boolean().default(false),
    /** generation speed `npm run verify` expects of this model (default DEFAULT_TARGET_TOKENS_PER_SECOND) */
    targetTokensPerSecond: z.number({ error: (iss) => `expected tokens per second as a number, ${got(iss.input)}` })
        .positive({ error: (iss) => `must be above 0, ${got(iss.input)}` }).optional(),
});

/** The seed's hardware goal: 50-70+ tokens/s; `npm run verify` holds each model to its lower end unless the model sets its own. */
export const DEFAULT_TARGET_TOKENS_PER_SECOND = 50;

const workloadsSchema = z.strictObject({
    /** the Ollama runtime image */
    ollamaImage: pinnedImage,
    /** Qdrant (private) or ChromaDB (public) */
    vectorStore: z.enum(["qdrant", "chroma"]),
    vectorStoreImage: pinnedImage,
    /** KV cache quantisation: q8_0 halves, q4_0 quarters the f16 KV memory (needs flash attention) */
    kvCacheType: z.enum(["f16", "q8_0", "q4_0"]).default("q8_0"),
    /** how long a model stays loaded after its last request */
    keepAlive: pattern(/^\d+[smh]$/, "a duration like 30m").default("30m"),
    /** OLLAMA_FLASH_ATTENTION: less VRAM for long contexts; quantised KV caches need it */
    flashAttention: z.boolean().default(true),
    /** OLLAMA_NUM_PARALLEL: requests one loaded model serves at once (each adds KV cache) */
    numParallel: int(1, 64).default(1),
    /** OLLAMA_MAX_LOADED_MODELS: models kept in VRAM at once */
    maxLoadedModels: int(1, 16).default(1),
    /** OLLAMA_CONTEXT_LENGTH: default context window (tokens); unset lets Ollama choose by VRAM */
    contextLength: int(512, 1_048_576).optional(),
    /**
     * the private key file the Docker provider's ssh uses on the machine running Pulumi
     * (matching one of aiVm.sshPublicKeys); unset: the ssh agent or ~/.ssh defaults
     */
    sshIdentityFile: pattern(/^[~/][^\s]*$/, "a path like ~/.ssh/id_ed25519").optional(),
});

const appEnv = z.record(envVarName, z.string()).default({});
/** Your own app's use of the environment's services and the reverse proxy. */
const ownAppWiring = {
    /** the public DNS name the reverse proxy serves it under (TLS certificate from Let's Encrypt) */
    publicHost: hostName.optional(),
    /** the environment variable your app reads its PostgreSQL connection string from: it gets a database of its own */
    postgresEnv: envVarName.optional(),
    /** the environment variable your app reads its Redis URL from: it gets a logical database of its own */
    redisEnv: envVarName.optional(),
};

/** The app catalogue: each entry picks a preset; presets wire themselves to their environment's Ollama and vector store. */
const appSchema = z.discriminatedUnion("preset", [
    z.strictObject({
        /** private: Open WebUI as the personal assistant */
        preset: z.literal("assistant"),
        port: hostPort.default(3000),
        /** chat model (default: the first of ai-dualstack:models) */
        model: z.string().optional(),
    }),
    z.strictObject({
        /** private: PrivateGPT on Ollama and Qdrant */
        preset: z.literal("privategpt"),
        port: hostPort.default(8001),
        model: z.string().optional(),
        /** embedding model; must be one of ai-dualstack:models */
        embeddingModel: z.string(),
    }),
    z.strictObject({
        /** private: document analysis (Apache Tika text extraction) */
        preset: z.literal("document-analysis"),
        port: hostPort.default(9998),
    }),
    z.strictObject({
        /** public: the agentic chatbot, your image */
        preset: z.literal("agentic-chatbot"),
        image: pinnedImage,
        port: hostPort,
        /** port the app listens on inside its container */
        containerPort: hostPort.optional(),
        healthPath: urlPath.default("/"),
        env: appEnv,
        model: z.string().optional(),
        ...ownAppWiring,
    }),
    z.strictObject({
        /** public: the multi-tenant platform (Open WebUI with accounts) */
        preset: z.literal("multi-tenant"),
        port: hostPort.default(3000),
        /** let visitors create accounts; off: the admin invites users */
        allowSignup: z.boolean().default(false),
        /** the first admin account's e-mail (its password comes from @pulumi/random) */
        adminEmail: pattern(/^[^\s@]+@[^\s@]+$/, "an e-mail address"),
        model: z.string().optional(),
        /** the public DNS name the reverse proxy serves it under */
        publicHost: hostName.optional(),
    }),
    z.strictObject({
        /** public: a proof-of-concept app */
        preset: z.literal("poc"),
        /** container name, a DNS label */
        name: guestName,
        image: pinnedImage,
        port: hostPort,
        containerPort: hostPort.optional(),
        healthPath: urlPath.default("/"),
        env: appEnv,
        ...ownAppWiring,
    }),
], { error: (iss) => `expected an app with preset one of assistant, privategpt, document-analysis, agentic-chatbot, multi-tenant, poc, ${got(iss.input !== null && typeof iss.input === "object" && "preset" in iss.input ? iss.input.preset : iss.input)}` });

export const APP_PRESETS = {
    private: ["assistant", "privategpt", "document-analysis"],
    public: ["agentic-chatbot", "multi-tenant", "poc"],
} as const;

const workbenchSchema = z.strictObject({
    /** build and run the JupyterLab RAG workbench (default: on in private, off in public) */
    enabled: z.boolean().optional(),
    port: hostPort.default(8888),
});

/** The host stack's settings file an environment reads its box-level facts from (nodes, images). */
export const DEFAULT_HOST_STACK_FILE = "Pulumi.host.yaml";

/**
 * One environment's stack file (`Pulumi.private.yaml`, `Pulumi.public.yaml`): field rules
 * only. Rules relating fields to each other and to the box (nodes, RAM, cores) are
 * `environmentRules` below; they need the host stack's box-level facts.
 */
export const stackConfigSchema = z.strictObject({
    /** which of the two worlds this stack builds */
    environment: z.enum(ENVIRONMENTS, { error: (iss) => iss.input === undefined ? MISSING : `expected private or public, ${got(iss.input)}` }),
    proxmox: proxmoxSchema,
    /** the host stack's settings file (nodes, images, firewall), relative to the project */
    hostStack: z.string().min(1).default(DEFAULT_HOST_STACK_FILE),
    vmidRange: z.strictObject({ start: int(100, 999_999_999, "a VMID"), end: int(100, 999_999_999, "a VMID") }),
    network: networkSchema,
    storage: storageSchema,
    gpu: gpuSchema,
    aiVm: aiVmSchema,
    containers: z.array(containerSchema).default([]),
    models: z.array(modelSchema).min(1, { error: "needs at least one model for Ollama to serve" }),
    workloads: workloadsSchema,
    apps: z.array(appSchema).default([]),
    workbench: workbenchSchema.prefault({}),
    /** what runs inside the service containers (config/services.ts) */
    services: servicesSchema.prefault({}),
});

export type EnvironmentParsed = z.output<typeof stackConfigSchema>;
type Parsed = EnvironmentParsed;
export type HostConfig = z.output<typeof hostSchema>;
export type ImageConfig = z.output<ReturnType<typeof imageSchema>>;

/** The box-level facts an environment needs, written once in the host stack's file. */
export interface BoxFacts {
    /** the Proxmox nodes (host file `hosts`) */
    readonly hosts: readonly HostConfig[];
    /** the shared downloads and the directory storage that holds them (host file `images`) */
    readonly images: {
        readonly datastore: string;
        readonly ubuntuCloud: ImageConfig;
        readonly debianTemplate: ImageConfig;
    };
}

/** A ZFS mirror's devices: exactly two (rules.ts `storageMirror` reports any other count). */
export type MirrorDevices = readonly [string, string];

/** The devices as the pair the mirror rule has already checked them to be. */
function mirrorPair(devices: readonly string[]): MirrorDevices {
    if (devices.length !== 2) {
        // Unreachable: withDefaults runs only on a config the rules passed.
        throw new Error(`storage.devices: a mirror needs exactly 2 devices, got ${devices.length}`);
    }
    return [devices[0], devices[1]];
}

/** Validated environment config with every optional node filled in, plus the box facts it reads. */
export type StackConfig = Omit<Parsed, "storage" | "gpu" | "aiVm" | "containers" | "network" | "workbench"> & BoxFacts & {
    readonly workbench: Parsed["workbench"] & { readonly enabled: boolean };
    readonly network: Parsed["network"] & { readonly dns: string[] };
    readonly storage: Omit<Parsed["storage"], "devices"> & { readonly node: string; readonly devices: MirrorDevices };
    readonly gpu: Parsed["gpu"] & { readonly node: string };
    readonly aiVm: Parsed["aiVm"] & { readonly node: string };
    readonly containers: ReadonlyArray<Parsed["containers"][number] & { readonly node: string }>;
};
export type GpuConfig = StackConfig["gpu"];
export type AiVmConfig = StackConfig["aiVm"];
export type ContainerConfig = StackConfig["containers"][number];
export type AppConfig = StackConfig["apps"][number];

/** Fills optional nodes with the first host and adds the box facts, so components never guess. */
export function withDefaults(c: Parsed, box: BoxFacts): StackConfig {
    const first = box.hosts[0].name;
    return {
        ...c,
        hosts: box.hosts,
        images: box.images,
        network: { ...c.network, dns: c.network.dns ?? [c.network.gateway] },
        storage: { ...c.storage, node: c.storage.node ?? first, devices: mirrorPair(c.storage.devices) },
        gpu: { ...c.gpu, node: c.gpu.node ?? first },
        aiVm: { ...c.aiVm, node: c.aiVm.node ?? first },
        containers: c.containers.map((ct) => ({ ...ct, node: ct.node ?? first })),
        workbench: { ...c.workbench, enabled: c.workbench.enabled ?? c.environment === "private" },
    };
}
