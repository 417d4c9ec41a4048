/**
 * Checks across both environments: what each environment's file can only check alone
 * (its own VMIDs, subnet, RAM) checked for the pair on one box. The host stack runs them
 * before it builds anything; `npm run plan` and `npm run policy` run them too.
 *
 * Each problem is one line that names the file and key of both sides, so the user sees
 * which two values collide and can pick the one to change. Pure functions.
 */
import type { HostStackParsed } from "./hostSchema";
import { ipv4ToInt, isIpv4, parseCidr } from "./net";
import { cpuList, formatPath, StackConfig } from "./schema";

export interface HostSide {
    readonly file: string;
    readonly config: HostStackParsed;
}

export interface EnvironmentSide {
    readonly file: string;
    readonly config: StackConfig;
}

type Path = (string | number)[];

/** `Pulumi.private.yaml ai-dualstack:network.subnet (10.10.10.0/24)` */
const at = (file: string, path: Path, value?: unknown) =>
    `${file} ai-dualstack:${formatPath(path)}${value === undefined ? "" : ` (${typeof value === "string" ? value : JSON.stringify(value)})`}`;

/** An address range [first, last] of a CIDR block or a single address. */
function rangeOf(value: string): [number, number] | undefined {
    if (isIpv4(value)) {
        const n = ipv4ToInt(value);
        return [n, n];
    }
    const block = parseCidr(value);
    return block === undefined ? undefined : [block.network, block.network + block.size - 1];
}

export function cidrsOverlap(a: string, b: string): boolean {
    const ra = rangeOf(a);
    const rb = rangeOf(b);
    return ra !== undefined && rb !== undefined && ra[0] <= rb[1] && rb[0] <= ra[1];
}

/** GPU placements of an environment: the primary card and the same card on other nodes. */
function gpuPlacements(c: StackConfig): { node: string; pciAddress: string; iommuGroup: number; path: Path }[] {
    return [
        { node: c.gpu.node, pciAddress: c.gpu.pciAddress, iommuGroup: c.gpu.iommuGroup, path: ["gpu"] },
        ...c.gpu.otherNodes.map((o, i) => ({ node: o.node, pciAddress: o.pciAddress, iommuGroup: o.iommuGroup, path: ["gpu", "otherNodes", i] as Path })),
    ];
}

const slot = (address: string) => address.replace(/\.[0-7]$/, "");
const gib = (mib: number) => `${Math.round((mib / 1024) * 10) / 10} GiB`;

/** What one environment's guests take on a node, in MiB: AI VM (hugepages or not) and containers. */
function environmentMemoryMiB(c: StackConfig, node: string): number {
    const vm = c.aiVm.node === node ? c.aiVm.memoryGiB * 1024 : 0;
    return vm + c.containers.filter((ct) => ct.node === node).reduce((sum, ct) => sum + ct.memoryMiB, 0);
}

/** Pairwise checks between two environments' files. */
function pairProblems(a: EnvironmentSide, b: EnvironmentSide): string[] {
    const problems: string[] = [];
    const A = a.config;
    const B = b.config;
    const clash = (pa: Path, va: unknown, verb: string, pb: Path, vb: unknown) =>
        problems.push(`${at(a.file, pa, va)} ${verb} ${at(b.file, pb, vb)}`);

    if (cidrsOverlap(A.network.subnet, B.network.subnet)) {
        clash(["network", "subnet"], A.network.subnet, "overlaps", ["network", "subnet"], B.network.subnet);
    }
    if (A.network.vlanId === B.network.vlanId) {
        clash(["network", "vlanId"], A.network.vlanId, "is the same VLAN as", ["network", "vlanId"], B.network.vlanId);
    }
    if (A.network.bridge === B.network.bridge) {
        clash(["network", "bridge"], A.network.bridge, "is the same bridge as", ["network", "bridge"], B.network.bridge);
    }
    if (A.vmidRange.start <= B.vmidRange.end && B.vmidRange.start <= A.vmidRange.end) {
        clash(["vmidRange"], `${A.vmidRange.start}-${A.vmidRange.end}`, "overlaps", ["vmidRange"], `${B.vmidRange.start}-${B.vmidRange.end}`);
    }
    if (A.storage.pool === B.storage.pool) {
        clash(["storage", "pool"], A.storage.pool, "is the same ZFS pool as", ["storage", "pool"], B.storage.pool);
    }
    A.storage.devices.forEach((dev, i) => {
        const j = B.storage.devices.indexOf(dev);
        if (j >= 0) {
            clash(["storage", "devices", i], dev, "is the same disk as", ["storage", "devices", j], dev);
        }
    });
    if (A.gpu.mappingName === B.gpu.mappingName) {
        clash(["gpu", "mappingName"], A.gpu.mappingName, "is the same PCI mapping name as", ["gpu", "mappingName"], B.gpu.mappingName);
    }
    for (const pa of gpuPlacements(A)) {
        for (const pb of gpuPlacements(B).filter((p) => p.node === pa.node)) {
            if (slot(pa.pciAddress) === slot(pb.pciAddress)) {
                clash([...pa.path, "pciAddress"], pa.pciAddress, `is the same PCI slot on node ${pa.node} as`, [...pb.path, "pciAddress"], pb.pciAddress);
            } else if (pa.iommuGroup === pb.iommuGroup) {
                clash([...pa.path, "iommuGroup"], pa.iommuGroup, `is the same IOMMU group on node ${pa.node} as (one group passes to one VM)`, [...pb.path, "iommuGroup"], pb.iommuGroup);
            }
        }
    }
    if (A.aiVm.node === B.aiVm.node && A.aiVm.cpuAffinity !== undefined && B.aiVm.cpuAffinity !== undefined) {
        const mine = new Set(cpuList(A.aiVm.cpuAffinity));
        const shared = cpuList(B.aiVm.cpuAffinity).filter((cpu) => mine.has(cpu));
        if (shared.length > 0) {
            clash(["aiVm", "cpuAffinity"], A.aiVm.cpuAffinity, `pins CPUs ${compact(shared)} on node ${A.aiVm.node} that are also pinned by`, ["aiVm", "cpuAffinity"], B.aiVm.cpuAffinity);
        }
    }
    return problems;
}

/** [0,1,2,5] -> "0-2,5" */
function compact(cpus: number[]): string {
    const sorted = [...new Set(cpus)].sort((x, y) => x - y);
    const parts: string[] = [];
    for (let i = 0; i < sorted.length; i++) {
        let j = i;
        while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
        parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
        i = j;
    }
    return parts.join(",");
}

/**
 * Where one environment's values meet the host file's box facts: each line names the file
 * and key of both sides.
 */
export function boxFactProblems(host: HostSide, env: EnvironmentSide): string[] {
    const problems: string[] = [];
    const c = env.config;
    // Linux interface names: at most 15 characters (IFNAMSIZ 16 with the NUL), and the host
    // stack makes the VLAN sub-interface `<uplink>.<vlan>` on every node (EnvironmentNetwork).
    host.config.hosts.forEach((h, i) => {
        const vlanIf = `${h.uplink}.${c.network.vlanId}`;
        if (vlanIf.length > 15) {
            problems.push(`${at(host.file, ["hosts", i, "uplink"], h.uplink)} with ${at(env.file, ["network", "vlanId"], c.network.vlanId)}: the VLAN interface ${vlanIf} would be ${vlanIf.length} characters; Linux interface names are at most 15 (shorten the uplink name or use a bridge VLAN)`);
        }
    });
    // The ZFS pool's storage id must not be one of the other storages the box uses.
    const otherStorages: { id: string; path: Path }[] = [
        { id: host.config.images.datastore, path: ["images", "datastore"] },
        { id: host.config.backup.storage, path: ["backup", "storage"] },
    ];
    for (const other of otherStorages.filter((o) => o.id === c.storage.pool)) {
        problems.push(`${at(env.file, ["storage", "pool"])}: storage id "${c.storage.pool}" is also ${at(host.file, other.path)}; the ZFS pool needs a storage id of its own (it holds only guest disks)`);
    }
    return problems;
}

/**
 * Every problem between the host file and the environments, and between the
 * environments: one line each, naming the file and key of both sides.
 */
export function crossEnvironmentProblems(host: HostSide, environments: readonly EnvironmentSide[]): string[] {
    const problems: string[] = [];
    for (let i = 0; i < environments.length; i++) {
        for (let j = i + 1; j < environments.length; j++) {
            problems.push(...pairProblems(environments[i], environments[j]));
        }
    }

    for (const env of environments) {
        problems.push(...boxFactProblems(host, env));
    }

    // Everything in the `management` IP set comes from outside the environments: the admin
    // sources (here), the nodes and local_network, which is one node's address
    // (components/host/clusterFirewall.ts; a node address inside an environment's subnet is
    // refused by each environment's own validation, config/schema.ts). pve-firewall admits
    // `management` to the node's API (8006), SSH, consoles and migration (src/PVE/Firewall.pm,
    // "allow standard traffic for management ipset"), so a guest inside it would reach the
    // node as an admin.
    host.config.firewall.adminSources.forEach((source, i) => {
        for (const env of environments) {
            if (cidrsOverlap(source, env.config.network.subnet)) {
                problems.push(`${at(host.file, ["firewall", "adminSources", i], source)} overlaps ${at(env.file, ["network", "subnet"], env.config.network.subnet)}: guests would pass as admins`);
            }
        }
    });

    // RAM per node: both environments' guests (hugepages are reserved at boot whether or not
    // the VM runs), the ZFS ARC and what the host keeps for itself.
    const { zfsArcReserveGiB, hostReserveGiB } = host.config.memory;
    host.config.hosts.forEach((node, i) => {
        const shares = environments.map((env) => ({ env, mib: environmentMemoryMiB(env.config, node.name) })).filter((s) => s.mib > 0);
        const need = shares.reduce((sum, s) => sum + s.mib, 0) + (zfsArcReserveGiB + hostReserveGiB) * 1024;
        if (shares.length > 0 && need > node.memoryGiB * 1024) {
            const guests = shares.map((s) => `${at(s.env.file, ["aiVm", "memoryGiB"])} and containers[].memoryMiB (${gib(s.mib)})`).join(" + ");
            problems.push(`${at(host.file, ["hosts", i, "memoryGiB"], node.memoryGiB)}: node ${node.name} is oversubscribed: ${guests} + ${at(host.file, ["memory", "zfsArcReserveGiB"], zfsArcReserveGiB)} + ${at(host.file, ["memory", "hostReserveGiB"], hostReserveGiB)} need ${gib(need)}`);
        }
    });
    return [...new Set(problems)].sort();
}
