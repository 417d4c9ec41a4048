/**
 * Rules that relate an environment's fields to each other and to the box: VMIDs inside the
 * range, IPs inside the subnet, nodes that exist, guests on the node that holds the
 * environment's pool, RAM and cores that fit. Each rule is a small named check; the guest
 * rules all read one derived list of guests (`guestsOf`), so a new kind of guest is added
 * there once. Pure; one problem per broken rule (the loader sorts and de-duplicates them).
 */
import type { z } from "zod";
import { cpuList } from "./fields";
import { formatPath } from "./messages";
import { isHostInCidr, isIpv4, parseCidr } from "./net";
import { AI_SERVICE_PORT_NAMES, AI_SERVICE_PORTS } from "./ports";
import { APP_PRESETS, type BoxFacts, type EnvironmentParsed, type proxmoxSchema } from "./schema";
import { serviceRules } from "./services";

type Path = (string | number)[];
type Parsed = EnvironmentParsed;

/** A problem found by a rule: the config path it is about and what is wrong. */
export interface ConfigProblem {
    readonly path: Path;
    readonly message: string;
}

type Problem = (path: Path, message: string) => void;

/**
 * One guest as the rules see it: the AI VM, the VM that holds its data disk, or a container.
 * `paths` names the config key behind each field, for the problem's key.
 */
export interface Guest {
    readonly kind: "aiVm" | "dataHolder" | "container";
    readonly name: string;
    readonly vmid: number;
    /** the data holder is never started and has no address */
    readonly ip: string | undefined;
    /** as configured; undefined places it on the first host */
    readonly node: string | undefined;
    readonly memoryMiB: number;
    readonly cores: number;
    readonly paths: { readonly vmid: Path; readonly ip: Path; readonly node: Path; readonly name: Path; readonly memory: Path; readonly cores: Path };
}

/**
 * Every guest of the environment, derived once: the AI VM, the containers in config order,
 * then the AI VM's data holder (last, so a VMID it repeats is the one reported).
 */
function guestsOf(c: Parsed): Guest[] {
    const vm = c.aiVm;
    const vmPaths = {
        vmid: ["aiVm", "vmid"], ip: ["aiVm", "ip"], node: ["aiVm", "node"], name: ["aiVm", "name"], memory: ["aiVm", "memoryGiB"], cores: ["aiVm", "cores"],
    };
    return [
        { kind: "aiVm", name: vm.name, vmid: vm.vmid, ip: vm.ip, node: vm.node, memoryMiB: vm.memoryGiB * 1024, cores: vm.cores, paths: vmPaths },
        ...c.containers.map((ct, i): Guest => ({
            kind: "container", name: ct.name, vmid: ct.vmid, ip: ct.ip, node: ct.node, memoryMiB: ct.memoryMiB, cores: ct.cores,
            paths: {
                vmid: ["containers", i, "vmid"], ip: ["containers", i, "ip"], node: ["containers", i, "node"], name: ["containers", i, "name"],
                memory: ["containers", i, "memoryMiB"], cores: ["containers", i, "cores"],
            },
        })),
        // The data holder lives with the AI VM and asks for nothing while it waits.
        { kind: "dataHolder", name: vm.name, vmid: vm.dataVmid, ip: undefined, node: vm.node, memoryMiB: 0, cores: 0, paths: { ...vmPaths, vmid: ["aiVm", "dataVmid"] } },
    ];
}

/** What every rule reads: the parsed config, the box, the derived guests, and where to report. */
interface RuleContext {
    readonly c: Parsed;
    readonly box: Pick<BoxFacts, "hosts">;
    readonly hostNames: ReadonlySet<string>;
    /** where a guest without `node` goes: the first host */
    readonly defaultNode: string | undefined;
    readonly guests: readonly Guest[];
    readonly problem: Problem;
}

type Rule = (ctx: RuleContext) => void;

/** The guests that run (the data holder is never started). */
const running = (guests: readonly Guest[]) => guests.filter((g) => g.kind !== "dataHolder");

function knownNode(ctx: RuleContext, node: string | undefined, path: Path): void {
    if (node !== undefined && !ctx.hostNames.has(node)) {
        ctx.problem(path, `names node "${node}", which is not in the host stack's hosts (${[...ctx.hostNames].join(", ")})`);
    }
}

/** Every VMID inside vmidRange; a wrong range is reported once, not once per guest outside it. */
const vmidsInRange: Rule = ({ c, guests, problem }) => {
    const { start, end } = c.vmidRange;
    const vmids = guests.map((g) => g.vmid);
    const outside = (vmid: number) => vmid < start || vmid > end;
    if (start > end) {
        problem(["vmidRange", "end"], `must not be below vmidRange.start (${start}), got ${end}`);
        return;
    }
    if (vmids.length > 1 && vmids.every(outside)) {
        problem(["vmidRange"], `${start}-${end} holds none of this environment's ${vmids.length} VMIDs (${[...vmids].sort((a, b) => a - b).join(", ")}): is the range or are the VMIDs wrong?`);
        return;
    }
    guests.filter((g) => outside(g.vmid)).forEach((g) => problem(g.paths.vmid, `VMID ${g.vmid} is outside this environment's range ${start}-${end}`));
};

/** The gateway and every guest's address inside the subnet; no node's management address inside it. */
const addressesInSubnet: Rule = ({ c, box, guests, problem }) => {
    const subnet = parseCidr(c.network.subnet);
    if (subnet === undefined) return;
    const inSubnet = (ip: string, path: Path) => {
        if (isIpv4(ip) && !isHostInCidr(ip, subnet)) {
            problem(path, `${ip} is not a host address inside this environment's subnet ${c.network.subnet}`);
        }
    };
    inSubnet(c.network.gateway, ["network", "gateway"]);
    for (const host of box.hosts) {
        if (isIpv4(host.address) && isHostInCidr(host.address, subnet)) {
            problem(["network", "subnet"], `${c.network.subnet} contains the management address of node ${host.name} (${host.address}): an environment needs a subnet of its own`);
        }
    }
    for (const g of running(guests)) {
        if (g.ip !== undefined) inSubnet(g.ip, g.paths.ip);
    }
};

/** No guest on the gateway's address. */
const guestsOffGateway: Rule = ({ c, guests, problem }) => {
    running(guests).filter((g) => g.ip === c.network.gateway).forEach((g) => problem(g.paths.ip, `${g.ip} is the environment's gateway (network.gateway)`));
};

/** The ZFS mirror: on a known node, two distinct devices. */
const storageMirror: Rule = (ctx) => {
    const { c, problem } = ctx;
    knownNode(ctx, c.storage.node, ["storage", "node"]);
    if (c.storage.devices.length !== 2) {
        problem(["storage", "devices"], `a mirror needs exactly 2 devices, got ${c.storage.devices.length}`);
    }
    unique(c.storage.devices.map((d, i) => ({ value: d, path: ["storage", "devices", i] })), "device", problem);
};

/** The GPU mapping: known nodes, each once, and the audio function's own id. */
const gpuMapping: Rule = (ctx) => {
    const { c, problem } = ctx;
    knownNode(ctx, c.gpu.node, ["gpu", "node"]);
    const gpuPrimary = c.gpu.node ?? ctx.defaultNode;
    c.gpu.otherNodes.forEach((other, i) => {
        knownNode(ctx, other.node, ["gpu", "otherNodes", i, "node"]);
        if (other.node === gpuPrimary) {
            problem(["gpu", "otherNodes", i, "node"], `node "${other.node}" is already the mapping's primary node (gpu.node)`);
        }
    });
    unique(c.gpu.otherNodes.map((o, i) => ({ value: o.node, path: ["gpu", "otherNodes", i, "node"] })), "node", problem);
    if (c.gpu.audioDeviceId === c.gpu.deviceId) {
        problem(["gpu", "audioDeviceId"], `is the same id as gpu.deviceId (${c.gpu.deviceId}); use the audio function's own id from lspci -nn`);
    }
};

/**
 * Every guest on a known node, and on the node that holds the environment's pool:
 * pve-storage API2/Disks/ZFS.pm: the zfspool storage that addStorage creates lists only the
 * node that made the pool, so a guest elsewhere cannot use it.
 */
const guestsOnPoolNode: Rule = (ctx) => {
    const { c, guests, hostNames, defaultNode, problem } = ctx;
    const poolNode = c.storage.node ?? defaultNode;
    for (const g of running(guests)) {
        knownNode(ctx, g.node, g.paths.node);
        const guestNode = g.node ?? defaultNode;
        if (guestNode !== undefined && poolNode !== undefined && hostNames.has(guestNode) && guestNode !== poolNode) {
            problem(g.paths.node, `the guest is placed on node ${guestNode}, but this environment's pool ${c.storage.pool} exists only on node ${poolNode} (storage.node)`);
        }
    }
};

/** VMIDs, addresses and names each used once. */
const guestsDistinct: Rule = ({ guests, problem }) => {
    unique(guests.map((g) => ({ value: String(g.vmid), path: g.paths.vmid })), "VMID", problem);
    unique(running(guests).flatMap((g) => (g.ip === undefined ? [] : [{ value: g.ip, path: g.paths.ip }])), "IP address", problem);
    // The AI VM's name is checked after the containers', so a container is the one named as the repeat.
    const named = running(guests);
    unique([...named.filter((g) => g.kind === "container"), ...named.filter((g) => g.kind === "aiVm")]
        .map((g) => ({ value: g.name, path: g.paths.name })), "guest name", problem);
};

/** Guest names become resource names and host names: the environment's prefix keeps the stacks apart. */
const guestNamesPrefixed: Rule = ({ c, guests, problem }) => {
    const envPrefix = `${c.environment}-`;
    running(guests).filter((g) => !g.name.startsWith(envPrefix))
        .forEach((g) => problem(g.paths.name, `must start with "${envPrefix}" so the two environments never share a name, got "${g.name}"`));
};

/** A GPU VM can only run on a node its mapping covers. */
const aiVmOnMappedNode: Rule = ({ c, hostNames, defaultNode, problem }) => {
    const vmNode = c.aiVm.node ?? defaultNode;
    const mappedNodes = [c.gpu.node ?? defaultNode, ...c.gpu.otherNodes.map((o) => o.node)];
    const mappingKnown = mappedNodes.every((n) => n !== undefined && hostNames.has(n));
    if (vmNode !== undefined && mappingKnown && !mappedNodes.includes(vmNode)) {
        problem(["aiVm", "node"], `the AI VM is placed on "${vmNode}", but its GPU mapping ${c.gpu.mappingName} only covers ${mappedNodes.join(", ")}`);
    }
};

/** The API login's rule (shared with the host stack). */
const proxmoxLogin: Rule = ({ c, problem }) => proxmoxRules(c.proxmox).forEach((p) => problem(p.path, p.message));

/** What runs inside the service containers (config/services.ts). */
const services: Rule = ({ c, problem }) => serviceRules(c, problem);

/** The driver must be able to drive the card. */
const nvidiaDriver: Rule = ({ c, problem }) => {
    const driverProblem = nvidiaDriverProblem(c.gpu, c.aiVm.nvidiaDriver);
    if (driverProblem !== undefined) {
        problem(["aiVm", "nvidiaDriver"], driverProblem);
    }
};

/**
 * RAM per node: what this environment's guests ask for must fit the node (both environments
 * together are checked by the host stack, see crossEnvironment.ts). The guests that fill the
 * node are named, largest first; the key is the largest one's.
 */
const memoryFitsNodes: Rule = ({ box, guests, defaultNode, problem }) => {
    for (const host of box.hosts) {
        const here = running(guests).filter((g) => (g.node ?? defaultNode) === host.name);
        const askedMiB = here.reduce((sum, g) => sum + g.memoryMiB, 0);
        if (askedMiB > host.memoryGiB * 1024) {
            const largest = [...here].sort((a, b) => b.memoryMiB - a.memoryMiB);
            const list = largest.map((g) => `${g.name} ${g.memoryMiB % 1024 === 0 ? `${g.memoryMiB / 1024} GiB` : `${g.memoryMiB} MiB`}`).join(", ");
            problem(largest[0].paths.memory, `this environment's guests on node ${host.name} ask for ${Math.ceil(askedMiB / 1024)} GiB of RAM, more than the node's ${host.memoryGiB} GiB (host stack hosts[].memoryGiB): ${list}`);
        }
    }
};

/** Cores per guest: no guest asks for more cores than its node has. */
const coresFitNodes: Rule = ({ box, guests, defaultNode, problem }) => {
    for (const host of box.hosts) {
        running(guests).filter((g) => (g.node ?? defaultNode) === host.name && g.cores > host.cores)
            .forEach((g) => problem(g.paths.cores, `${g.cores} cores is more than node ${host.name} has (${host.cores})`));
    }
};

/** The AI VM's hugepages leave the host 8 GiB; its CPU affinity names CPUs the node has. */
const aiVmFitsNode: Rule = ({ c, box, defaultNode, problem }) => {
    const host = box.hosts.find((h) => h.name === (c.aiVm.node ?? defaultNode));
    if (host === undefined) return;
    if (c.aiVm.hugepages !== "none" && c.aiVm.memoryGiB > host.memoryGiB - 8) {
        problem(["aiVm", "hugepages"], `reserving ${c.aiVm.memoryGiB} GiB of hugepages leaves the host ${host.name} less than 8 GiB of its ${host.memoryGiB} GiB`);
    }
    if (c.aiVm.cpuAffinity !== undefined) {
        const highest = Math.max(...cpuList(c.aiVm.cpuAffinity));
        if (highest >= host.cores) {
            problem(["aiVm", "cpuAffinity"], `CPU ${highest} does not exist on node ${host.name} (CPUs 0-${host.cores - 1})`);
        }
    }
};

/** A model that does not fit the GPU would run mostly on the CPU: say so unless the user chose it. */
const modelsFitGpu: Rule = ({ c, problem }) => {
    c.models.forEach((m, i) => {
        if (m.sizeGiB > c.gpu.vramGiB && !m.allowCpuOffload) {
            problem(["models", i, "sizeGiB"], `${m.name} needs about ${m.sizeGiB} GiB, more than the ${c.gpu.model}'s ${c.gpu.vramGiB} GiB (gpu.vramGiB): pick a smaller model or quantisation, or set allowCpuOffload: true on it`);
        }
    });
    unique(c.models.map((m, i) => ({ value: m.name, path: ["models", i, "name"] })), "model", problem);
};

/** The vector store is the environment's kind, and its image is that store (Qdrant's image cannot serve Chroma's API). */
const vectorStoreMatches: Rule = ({ c, problem }) => {
    const imageName = c.workloads.vectorStoreImage.split("@")[0].split("/").pop()?.split(":")[0] ?? "";
    const expectedStore = c.environment === "private" ? "qdrant" : "chroma";
    if (c.workloads.vectorStore === expectedStore && !imageName.includes(c.workloads.vectorStore)) {
        problem(["workloads", "vectorStoreImage"], `${c.workloads.vectorStoreImage} does not look like a ${c.workloads.vectorStore} image (workloads.vectorStore is ${c.workloads.vectorStore}; e.g. ${c.workloads.vectorStore === "qdrant" ? "qdrant/qdrant:v1.14.1" : "chromadb/chroma:1.0.15"})`);
    }
    if (c.workloads.vectorStore !== expectedStore) {
        problem(["workloads", "vectorStore"], `the ${c.environment} environment uses ${expectedStore}, got ${c.workloads.vectorStore}`);
    }
};

/** Apps: the environment's presets, each once (poc apps by name), using models the environment serves. */
const appsKnown: Rule = ({ c, problem }) => {
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
};

/** Host ports on the AI VM: apps and the workbench must not collide with each other or the fixed services. */
const aiVmPortsFree: Rule = ({ c, problem }) => {
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
};

/**
 * Every environment rule, by name. The VLAN interface name and the ZFS storage id against the
 * box's other storages meet the host file: they are checked there (crossEnvironment.ts).
 */
const ENVIRONMENT_RULES: readonly Rule[] = [
    vmidsInRange, addressesInSubnet, guestsOffGateway, storageMirror, gpuMapping, guestsOnPoolNode, guestsDistinct,
    guestNamesPrefixed, aiVmOnMappedNode, proxmoxLogin, services, nvidiaDriver,
    modelsFitGpu, vectorStoreMatches, appsKnown, aiVmPortsFree,
    memoryFitsNodes, coresFitNodes, aiVmFitsNode,
];

/** Runs every environment rule over the parsed config and the box's hosts. */
export function environmentRules(c: Parsed, box: Pick<BoxFacts, "hosts">): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const ctx: RuleContext = {
        c,
        box,
        hostNames: new Set(box.hosts.map((h) => h.name)),
        defaultNode: box.hosts[0]?.name,
        guests: guestsOf(c),
        problem: (path, message) => problems.push({ path, message }),
    };
    ENVIRONMENT_RULES.forEach((rule) => rule(ctx));
    return problems;
}

/** The API login's own rule, for every stack file (environments and the host). */
export function proxmoxRules(proxmox: z.output<typeof proxmoxSchema>): ConfigProblem[] {
    // A password crosses the wire on every login: never to a server whose certificate is not checked.
    return proxmox.auth === "password" && proxmox.insecure
        ? [{ path: ["proxmox", "insecure"], message: `must be false with proxmox.auth password: the password would go to an unverified server; trust the cluster CA (/etc/pve/pve-root-ca.pem through SSL_CERT_FILE) or use proxmox.auth token` }]
        : [];
}

/**
 * Blackwell GeForce cards (RTX 50 series; device 10de:2b85 is the RTX 5090) are driven only by
 * NVIDIA's open kernel modules, from the 570 series on: the proprietary flavour does not
 * probe them (NVIDIA open-gpu-kernel-modules README, "Compatible GPUs"; issue #853).
 */
const BLACKWELL_DEVICE_IDS = new Set(["2b85", "2b87", "2c02", "2c05", "2d04", "2d05", "2f04"]);
const BLACKWELL_MODEL = /\bRTX\s*50[5-9]0\b/i;

function nvidiaDriverProblem(gpu: { model: string; deviceId: string }, driver: string): string | undefined {
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

/** Reports every repeat of a value after its first use, naming where it was first used. */
export function unique(items: { value: string; path: Path }[], what: string, problem: Problem): void {
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
