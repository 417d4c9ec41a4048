/**
 * The whole stack config of ai-dualstack as one zod schema.
 *
 * Each top-level key here is one Pulumi config key in the `ai-dualstack:` namespace
 * (`ai-dualstack:gpu`, `ai-dualstack:network`, ...). Secrets are separate keys read as
 * secrets by the loader and never pass through this schema as plain text.
 *
 * Field rules (formats, ranges) live next to the field; rules that relate fields to each
 * other (VMIDs inside the env range, IPs inside the env subnet, nodes that exist, RAM that
 * fits the host) live in `crossFieldRules` below.
 */
import { z } from "zod";
import { got, MISSING } from "./messages";
import { isHostInCidr, isIpv4, parseCidr } from "./net";
import { AI_SERVICE_PORT_NAMES, AI_SERVICE_PORTS } from "./ports";
import { hostName, serviceRules, servicesSchema } from "./services";

export { got };

export const pattern = (re: RegExp, expected: string) =>
    z.string({ error: (iss) => (iss.input === undefined ? MISSING : `expected ${expected}, ${got(iss.input)}`) })
        .regex(re, { error: (iss) => `expected ${expected}, ${got(iss.input)}` });

export const int = (min: number, max: number, what = "a whole number") =>
    z.number({ error: (iss) => (iss.input === undefined ? MISSING : `expected ${what}, ${got(iss.input)}`) })
        .int({ error: (iss) => `expected ${what}, ${got(iss.input)}` })
        .min(min, { error: (iss) => `must be at least ${min}, ${got(iss.input)}` })
        .max(max, { error: (iss) => `must be at most ${max}, ${got(iss.input)}` });

export const ipv4 = z.string({ error: (iss) => (iss.input === undefined ? MISSING : `expected an IPv4 address, ${got(iss.input)}`) })
    .refine(isIpv4, { error: (iss) => `expected an IPv4 address like 10.10.0.10, ${got(iss.input)}` });

/** Proxmox node names are host names. */
export const nodeName = pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a Proxmox node name like pve");
/** Guest and resource names: DNS labels, so they work as host names and Proxmox names. */
export const guestName = pattern(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, "a lower-case DNS label like private-ai");
export const pciAddress = pattern(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/, "0000:01:00.0 form");
const hexId = pattern(/^[0-9a-f]{4}$/, "a 4-digit lower-case hex PCI id like 10de");
const subsystemId = pattern(/^[0-9a-f]{4}:[0-9a-f]{4}$/, "a subsystem id like 1462:397d");
const sha256 = pattern(/^[0-9a-f]{64}$/, "a 64-digit hex sha256 checksum");
const sha512 = pattern(/^[0-9a-f]{128}$/, "a 128-digit hex sha512 checksum");
export const httpsUrl = pattern(/^https:\/\/[^\s]+$/, "an https:// URL");
/** `10-15` or `0,2,4-7`: the cpuset syntax Proxmox takes for `affinity`. */
const cpuSet = pattern(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, "a CPU set like 0-7 or 0,2,4-7");
const sshPublicKey = pattern(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/, "an OpenSSH public key line");
/** A node's SSH host key as `ssh-keyscan` prints it, without the host name: `ssh-ed25519 AAAA...`. */
const sshHostKey = pattern(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/,
    "the node's SSH host key like ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 <address>, without the host name; compare its fingerprint with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the node's console)");

/**
 * A container mount point: absolute, and free of the `.`/`..` segments pve-container refuses
 * at apply time (`verify_lxc_mp_string` in src/PVE/LXC/Config.pm: "contains illegal character
 * sequences" for `/./`, `/../`, a trailing `/.` or `/..`).
 */
const mountPath = pattern(/^\/[a-zA-Z0-9_./-]*$/, "an absolute path like /var/lib/postgresql")
    .refine((p) => !p.split("/").some((seg) => seg === "." || seg === ".."), {
        error: (iss) => `must not contain . or .. segments (Proxmox refuses them for mount points), ${got(iss.input)}`,
    });

export const ENVIRONMENTS = ["private", "public"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export const CONTAINER_ROLES = ["database", "cache", "security", "cicd", "monitoring", "backup"] as const;
export type ContainerRole = (typeof CONTAINER_ROLES)[number];

export const AUTH_MODES = ["token", "password"] as const;

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

export const cidr = z.string().refine((v) => parseCidr(v) !== undefined || (isIpv4(v)), {
    error: (iss) => `expected an IPv4 address or CIDR block like 192.168.1.0/24, ${got(iss.input)}`,
});

/** A container image with an explicit tag (or digest), never `latest`. */
/**
 * `[registry[:port]/]name[:tag][@sha256:digest]` with a tag other than latest, a digest, or
 * both (Docker's reference grammar, distribution/reference): a registry may carry a port,
 * so the tag is only what follows the last colon of the last path segment.
 */
export function isPinnedImage(ref: string): boolean {
    const [name, digest, ...rest] = ref.split("@");
    if (rest.length > 0 || (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))) {
        return false;
    }
    const slash = name.lastIndexOf("/");
    const lastSegment = name.slice(slash + 1);
    const colon = lastSegment.indexOf(":");
    const repository = colon < 0 ? name : name.slice(0, slash + 1 + colon);
    const tag = colon < 0 ? undefined : lastSegment.slice(colon + 1);
    const registryAndPath = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?\/)?[a-z0-9]+([._-][a-z0-9]+|__|\/[a-z0-9]+)*$/;
    if (!registryAndPath.test(repository)) {
        return false;
    }
    if (tag !== undefined && (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag) || tag === "latest")) {
        return false;
    }
    return tag !== undefined || digest !== undefined;
}
const pinnedImage = z.string({ error: (iss) => (iss.input === undefined ? MISSING : `expected an image reference, ${got(iss.input)}`) })
    .refine(isPinnedImage, { error: (iss) => `expected an image with a pinned tag like ollama/ollama:0.9.6 (not latest), ${got(iss.input)}` });

const envVarName = pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name");
const urlPath = pattern(/^\/[A-Za-z0-9._~/?=&%-]*$/, "a URL path like /health");
const hostPort = int(1, 65535, "a TCP port");

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

export type StackConfigInput = z.input<typeof stackConfigSchema>;
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

/** Validated environment config with every optional node filled in, plus the box facts it reads. */
export type StackConfig = Omit<Parsed, "storage" | "gpu" | "aiVm" | "containers" | "network" | "workbench"> & BoxFacts & {
    readonly workbench: Parsed["workbench"] & { readonly enabled: boolean };
    readonly network: Parsed["network"] & { readonly dns: string[] };
    readonly storage: Parsed["storage"] & { readonly node: string };
    readonly gpu: Parsed["gpu"] & { readonly node: string };
    readonly aiVm: Parsed["aiVm"] & { readonly node: string };
    readonly containers: ReadonlyArray<Parsed["containers"][number] & { readonly node: string }>;
};
export type GpuConfig = StackConfig["gpu"];
export type AiVmConfig = StackConfig["aiVm"];
export type ContainerConfig = StackConfig["containers"][number];
export type ModelConfig = StackConfig["models"][number];
export type WorkloadsConfig = StackConfig["workloads"];
export type AppConfig = StackConfig["apps"][number];

type Path = (string | number)[];

/** A problem found by a rule: the config path it is about and what is wrong. */
export interface ConfigProblem {
    readonly path: Path;
    readonly message: string;
}

/**
 * Rules that relate an environment's fields to each other and to the box: VMIDs inside
 * the range, IPs inside the subnet, nodes that exist, guests on the node that holds the
 * environment's pool, RAM and cores that fit. Pure; one problem per broken rule.
 */
export function environmentRules(c: Parsed, box: Pick<BoxFacts, "hosts">): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const problem = (path: Path, message: string) => problems.push({ path, message });
    const hostNames = new Set(box.hosts.map((h) => h.name));
    const defaultNode = box.hosts[0]?.name;

    const knownNode = (node: string | undefined, path: Path) => {
        if (node !== undefined && !hostNames.has(node)) {
            problem(path, `names node "${node}", which is not in the host stack's hosts (${[...hostNames].join(", ")})`);
        }
    };

    // VMID range. A wrong range is reported once, not once per guest outside it.
    const { start, end } = c.vmidRange;
    const vmids = [c.aiVm.vmid, c.aiVm.dataVmid, ...c.containers.map((ct) => ct.vmid)];
    const outside = (vmid: number) => vmid < start || vmid > end;
    const rangeWrong = start > end || (vmids.length > 1 && vmids.every(outside));
    if (start > end) {
        problem(["vmidRange", "end"], `must not be below vmidRange.start (${start}), got ${end}`);
    } else if (rangeWrong) {
        problem(["vmidRange"], `${start}-${end} holds none of this environment's ${vmids.length} VMIDs (${[...vmids].sort((a, b) => a - b).join(", ")}): is the range or are the VMIDs wrong?`);
    }
    const inRange = (vmid: number, path: Path) => {
        if (!rangeWrong && outside(vmid)) {
            problem(path, `VMID ${vmid} is outside this environment's range ${start}-${end}`);
        }
    };

    // Network
    const subnet = parseCidr(c.network.subnet);
    const inSubnet = (ip: string, path: Path) => {
        if (subnet && isIpv4(ip) && !isHostInCidr(ip, subnet)) {
            problem(path, `${ip} is not a host address inside this environment's subnet ${c.network.subnet}`);
        }
    };
    inSubnet(c.network.gateway, ["network", "gateway"]);
    for (const host of box.hosts) {
        const hostIp = host.address;
        if (subnet && isIpv4(hostIp) && isHostInCidr(hostIp, subnet)) {
            problem(["network", "subnet"], `${c.network.subnet} contains the management address of node ${host.name} (${hostIp}): an environment needs a subnet of its own`);
        }
    }

    // Storage
    knownNode(c.storage.node, ["storage", "node"]);
    if (c.storage.devices.length !== 2) {
        problem(["storage", "devices"], `a mirror needs exactly 2 devices, got ${c.storage.devices.length}`);
    }
    unique(c.storage.devices.map((d, i) => ({ value: d, path: ["storage", "devices", i] })), "device", problem);
    const poolNode = c.storage.node ?? defaultNode;

    // GPU
    knownNode(c.gpu.node, ["gpu", "node"]);
    const gpuPrimary = c.gpu.node ?? defaultNode;
    c.gpu.otherNodes.forEach((other, i) => {
        knownNode(other.node, ["gpu", "otherNodes", i, "node"]);
        if (other.node === gpuPrimary) {
            problem(["gpu", "otherNodes", i, "node"], `node "${other.node}" is already the mapping's primary node (gpu.node)`);
        }
    });
    unique(c.gpu.otherNodes.map((o, i) => ({ value: o.node, path: ["gpu", "otherNodes", i, "node"] })), "node", problem);
    if (c.gpu.audioDeviceId === c.gpu.deviceId) {
        problem(["gpu", "audioDeviceId"], `is the same id as gpu.deviceId (${c.gpu.deviceId}); use the audio function's own id from lspci -nn`);
    }

    // Guests
    const guests: { vmid: number; ip: string; node: string | undefined; path: Path }[] = [
        { vmid: c.aiVm.vmid, ip: c.aiVm.ip, node: c.aiVm.node, path: ["aiVm"] },
        ...c.containers.map((ct, i) => ({ vmid: ct.vmid, ip: ct.ip, node: ct.node, path: ["containers", i] as Path })),
    ];
    for (const g of guests) {
        inRange(g.vmid, [...g.path, "vmid"]);
        inSubnet(g.ip, [...g.path, "ip"]);
        knownNode(g.node, [...g.path, "node"]);
        if (g.ip === c.network.gateway) {
            problem([...g.path, "ip"], `${g.ip} is the environment's gateway (network.gateway)`);
        }
        // pve-storage API2/Disks/ZFS.pm: the zfspool storage that addStorage creates lists
        // only the node that made the pool, so a guest elsewhere cannot use it.
        const guestNode = g.node ?? defaultNode;
        if (guestNode !== undefined && poolNode !== undefined && hostNames.has(guestNode) && guestNode !== poolNode) {
            problem([...g.path, "node"], `the guest is placed on node ${guestNode}, but this environment's pool ${c.storage.pool} exists only on node ${poolNode} (storage.node)`);
        }
    }
    inRange(c.aiVm.dataVmid, ["aiVm", "dataVmid"]);
    unique([
        ...guests.map((g) => ({ value: String(g.vmid), path: [...g.path, "vmid"] })),
        { value: String(c.aiVm.dataVmid), path: ["aiVm", "dataVmid"] },
    ], "VMID", problem);
    unique(guests.map((g) => ({ value: g.ip, path: [...g.path, "ip"] })), "IP address", problem);
    // Guest names become resource names and host names: the environment's prefix keeps the stacks apart.
    const envPrefix = `${c.environment}-`;
    [{ name: c.aiVm.name, path: ["aiVm", "name"] as Path }, ...c.containers.map((ct, i) => ({ name: ct.name, path: ["containers", i, "name"] as Path }))]
        .filter((g) => !g.name.startsWith(envPrefix))
        .forEach((g) => problem(g.path, `must start with "${envPrefix}" so the two environments never share a name, got "${g.name}"`));
    unique(c.containers.map((ct, i) => ({ value: ct.name, path: ["containers", i, "name"] })).concat(
        [{ value: c.aiVm.name, path: ["aiVm", "name"] }]), "guest name", problem);

    // A GPU VM can only run on a node its mapping covers.
    const vmNode = c.aiVm.node ?? defaultNode;
    const mappedNodes = [gpuPrimary, ...c.gpu.otherNodes.map((o) => o.node)];
    const mappingKnown = mappedNodes.every((n) => n !== undefined && hostNames.has(n));
    if (vmNode !== undefined && mappingKnown && !mappedNodes.includes(vmNode)) {
        problem(["aiVm", "node"], `the AI VM is placed on "${vmNode}", but its GPU mapping ${c.gpu.mappingName} only covers ${mappedNodes.join(", ")}`);
    }

    problems.push(...proxmoxRules(c.proxmox));

    serviceRules(c, problem);

    // The driver must be able to drive the card.
    const driverProblem = nvidiaDriverProblem(c.gpu, c.aiVm.nvidiaDriver);
    if (driverProblem !== undefined) {
        problem(["aiVm", "nvidiaDriver"], driverProblem);
    }

    // The VLAN interface name and the ZFS storage id against the box's other storages meet
    // the host file: they are checked there (crossEnvironment.ts, boxFactProblems).

    aiLayerRules(c, problem);

    // Capacity per node: what this environment's guests ask for must fit the node (both
    // environments together are checked by the host stack, see crossEnvironment.ts).
    for (const host of box.hosts) {
        const here = (node: string | undefined) => (node ?? defaultNode) === host.name;
        const vmMiB = here(c.aiVm.node) ? c.aiVm.memoryGiB * 1024 : 0;
        const ctMiB = c.containers.filter((ct) => here(ct.node)).reduce((sum, ct) => sum + ct.memoryMiB, 0);
        const hostMiB = host.memoryGiB * 1024;
        if (vmMiB + ctMiB > hostMiB) {
            // Name the guests that fill the node, largest first; the key is the largest one's.
            const guestsHere = [
                ...(here(c.aiVm.node) ? [{ name: c.aiVm.name, mib: vmMiB, path: ["aiVm", "memoryGiB"] as Path }] : []),
                ...c.containers.flatMap((ct, i) => (here(ct.node) ? [{ name: ct.name, mib: ct.memoryMiB, path: ["containers", i, "memoryMiB"] as Path }] : [])),
            ].sort((a, b) => b.mib - a.mib);
            const list = guestsHere.map((g) => `${g.name} ${g.mib % 1024 === 0 ? `${g.mib / 1024} GiB` : `${g.mib} MiB`}`).join(", ");
            problem(guestsHere[0].path, `this environment's guests on node ${host.name} ask for ${Math.ceil((vmMiB + ctMiB) / 1024)} GiB of RAM, more than the node's ${host.memoryGiB} GiB (host stack hosts[].memoryGiB): ${list}`);
        }
        if (here(c.aiVm.node) && c.aiVm.hugepages !== "none" && c.aiVm.memoryGiB > host.memoryGiB - 8) {
            problem(["aiVm", "hugepages"], `reserving ${c.aiVm.memoryGiB} GiB of hugepages leaves the host ${host.name} less than 8 GiB of its ${host.memoryGiB} GiB`);
        }
        if (here(c.aiVm.node) && c.aiVm.cores > host.cores) {
            problem(["aiVm", "cores"], `${c.aiVm.cores} cores is more than node ${host.name} has (${host.cores})`);
        }
        if (here(c.aiVm.node) && c.aiVm.cpuAffinity !== undefined) {
            const highest = Math.max(...cpuList(c.aiVm.cpuAffinity));
            if (highest >= host.cores) {
                problem(["aiVm", "cpuAffinity"], `CPU ${highest} does not exist on node ${host.name} (CPUs 0-${host.cores - 1})`);
            }
        }
        c.containers.forEach((ct, i) => {
            if (here(ct.node) && ct.cores > host.cores) {
                problem(["containers", i, "cores"], `${ct.cores} cores is more than node ${host.name} has (${host.cores})`);
            }
        });
    }
    return problems;
}

/** The API login's own rule, for every stack file (environments and the host). */
export function proxmoxRules(proxmox: z.output<typeof proxmoxSchema>): ConfigProblem[] {
    // A password crosses the wire on every login: never to a server whose certificate is not checked.
    return proxmox.auth === "password" && proxmox.insecure
        ? [{ path: ["proxmox", "insecure"], message: `must be false with proxmox.auth password: the password would go to an unverified server; trust the cluster CA (/etc/pve/pve-root-ca.pem through SSL_CERT_FILE) or use proxmox.auth token` }]
        : [];
}

/** `0-3,8` -> [0, 1, 2, 3, 8]: the CPUs of a Proxmox cpuset. */
export function cpuList(set: string): number[] {
    return set.split(",").flatMap((part) => {
        const [lo, hi] = part.split("-").map(Number);
        return hi === undefined ? [lo] : Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
    });
}

/**
 * Blackwell GeForce cards (RTX 50 series; device 10de:2b85 is the RTX 5090) are driven only by
 * NVIDIA's open kernel modules, from the 570 series on: the proprietary flavour does not
 * probe them (NVIDIA open-gpu-kernel-modules README, "Compatible GPUs"; issue #853).
 */
const BLACKWELL_DEVICE_IDS = new Set(["2b85", "2b87", "2c02", "2c05", "2d04", "2d05", "2f04"]);
const BLACKWELL_MODEL = /\bRTX\s*50[5-9]0\b/i;

export function nvidiaDriverProblem(gpu: { model: string; deviceId: string }, driver: string): string | undefined {
    const blackwell = BLACKWELL_DEVICE_IDS.has(gpu.deviceId) || BLACKWELL_MODEL.test(gpu.model);
    const match = /^nvidia-driver-(\d{3})(-server)?(-open)?$/.exec(driver);
    if (!blackwell || match === null) {
        return undefined;
    }
    const series = Number(match[1]);
    if (match[3] === undefined || series < 570) {
        return `${driver} cannot drive the ${gpu.model} (10de:${gpu.deviceId}): Blackwell cards need NVIDIA's open kernel modules, 570 or later, e.g. nvidia-driver-570-open`;
    }
    return undefined;
}

/** Models, the vector store, apps and workbench ports: what the AI layer asks of the environment. */
function aiLayerRules(c: Parsed, problem: (path: Path, message: string) => void): void {
    // A model that does not fit the GPU would run mostly on the CPU: say so unless the user chose it.
    c.models.forEach((m, i) => {
        if (m.sizeGiB > c.gpu.vramGiB && !m.allowCpuOffload) {
            problem(["models", i, "sizeGiB"], `${m.name} needs about ${m.sizeGiB} GiB, more than the ${c.gpu.model}'s ${c.gpu.vramGiB} GiB (gpu.vramGiB): pick a smaller model or quantisation, or set allowCpuOffload: true on it`);
        }
    });
    unique(c.models.map((m, i) => ({ value: m.name, path: ["models", i, "name"] })), "model", problem);
    // The image must be the store the config says it is (Qdrant's image cannot serve Chroma's API).
    const imageName = c.workloads.vectorStoreImage.split("@")[0].split("/").pop()?.split(":")[0] ?? "";
    const expectedStore = c.environment === "private" ? "qdrant" : "chroma";
    if (c.workloads.vectorStore === expectedStore && !imageName.includes(c.workloads.vectorStore)) {
        problem(["workloads", "vectorStoreImage"], `${c.workloads.vectorStoreImage} does not look like a ${c.workloads.vectorStore} image (workloads.vectorStore is ${c.workloads.vectorStore}; e.g. ${c.workloads.vectorStore === "qdrant" ? "qdrant/qdrant:v1.14.1" : "chromadb/chroma:1.0.15"})`);
    }
    if (c.workloads.vectorStore !== expectedStore) {
        problem(["workloads", "vectorStore"], `the ${c.environment} environment uses ${expectedStore}, got ${c.workloads.vectorStore}`);
    }
    const modelNames = new Set(c.models.map((m) => m.name));
    const allowed: readonly string[] = APP_PRESETS[c.environment];
    c.apps.forEach((app, i) => {
        if (!allowed.includes(app.preset)) {
            problem(["apps", i, "preset"], `${app.preset} is not an app of the ${c.environment} environment (it has ${allowed.join(", ")})`);
        }
        for (const key of ["model", "embeddingModel"] as const) {
            const value = key in app ? (app as Record<string, unknown>)[key] : undefined;
            if (typeof value === "string" && !modelNames.has(value)) {
                problem(["apps", i, key], `${value} is not in ai-dualstack:models (${[...modelNames].join(", ")})`);
            }
        }
    });
    const seenPresets = new Set<string>();
    c.apps.forEach((app, i) => {
        if (app.preset !== "poc" && seenPresets.has(app.preset)) {
            problem(["apps", i, "preset"], `${app.preset} is listed twice; each preset runs once per environment (use poc for more apps)`);
        }
        seenPresets.add(app.preset);
    });
    unique(c.apps.flatMap((a, i) => a.preset === "poc" ? [{ value: a.name, path: ["apps", i, "name"] as Path }] : []), "app name", problem);
    // Host ports on the AI VM: apps and the workbench must not collide with each other or the fixed services.
    const reserved = new Map<number, string>(Object.entries(AI_SERVICE_PORTS).map(([key, port]) => [port, AI_SERVICE_PORT_NAMES[key as keyof typeof AI_SERVICE_PORTS]]));
    const ports = [
        ...c.apps.map((a, i) => ({ value: String(a.port), path: ["apps", i, "port"] as Path })),
        ...(c.workbench.enabled ?? c.environment === "private" ? [{ value: String(c.workbench.port), path: ["workbench", "port"] as Path }] : []),
    ];
    for (const p of ports) {
        const what = reserved.get(Number(p.value));
        if (what !== undefined) {
            problem(p.path, `port ${p.value} is already used by ${what} on the AI VM`);
        }
    }
    unique(ports, "port", problem);
}

export function unique(items: { value: string; path: Path }[], what: string, problem: (path: Path, message: string) => void): void {
    const seen = new Map<string, Path>();
    for (const item of items) {
        const first = seen.get(item.value);
        if (first) {
            problem(item.path, `duplicate ${what} ${JSON.stringify(item.value)}, already used at ${formatPath(first)}`);
        } else {
            seen.set(item.value, item.path);
        }
    }
}

/** `["gpu","otherNodes",0,"node"]` -> `gpu.otherNodes[0].node` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
    return path.reduce<string>((acc, part) => {
        if (typeof part === "number") {
            return `${acc}[${part}]`;
        }
        return acc === "" ? String(part) : `${acc}.${String(part)}`;
    }, "");
}

/** Fills optional nodes with the first host and adds the box facts, so components never guess. */
export function withDefaults(c: Parsed, box: BoxFacts): StackConfig {
    const first = box.hosts[0].name;
    return {
        ...c,
        hosts: box.hosts,
        images: box.images,
        network: { ...c.network, dns: c.network.dns ?? [c.network.gateway] },
        storage: { ...c.storage, node: c.storage.node ?? first },
        gpu: { ...c.gpu, node: c.gpu.node ?? first },
        aiVm: { ...c.aiVm, node: c.aiVm.node ?? first },
        containers: c.containers.map((ct) => ({ ...ct, node: ct.node ?? first })),
        workbench: { ...c.workbench, enabled: c.workbench.enabled ?? c.environment === "private" },
    };
}
