/**
 * The resource graph as a Mermaid flowchart (`npm run plan -- --format mermaid`), grouped
 * like the project's overview: host, storage, GPU, VMs, LXCs, workloads, data. Only
 * provider resources are drawn (components are folders, not things Proxmox creates); an
 * arrow A --> B means B waits on A, with waits implied by other arrows left out.
 * Protected resources are drawn as cylinders; each stack is coloured by its environment.
 */
import type { PlanGraph, PlanResource } from "../../graph";
import { customDependencies } from "./graphMetrics";

export type Group = "host" | "storage" | "gpu" | "vms" | "lxcs" | "workloads" | "data";

const GROUP_TITLES: Readonly<Record<Group, string>> = {
    host: "host: network, host prep, firewall",
    storage: "storage and images",
    gpu: "GPU",
    vms: "VMs",
    lxcs: "LXCs",
    workloads: "workloads",
    data: "data and backup",
};

interface GroupRule {
    /** a type token, or a prefix ending in `*` */
    readonly type: string;
    readonly group: Group | ((r: PlanResource, areaOf: (r: PlanResource) => string | undefined) => Group);
}

/**
 * Which group a resource is drawn in, by its type: the first rule that matches wins.
 * A new type joins a group here (a whole provider package with a `*` prefix).
 */
export const GROUP_RULES: readonly GroupRule[] = [
    { type: "proxmoxve:hardware/mapping/*", group: "gpu" },
    { type: "proxmoxve:hardware/*", group: "gpu" },
    // A protected VM holds data (the AI VM's data holder): it belongs with the data.
    { type: "proxmoxve:index/vmLegacy:VmLegacy", group: (r) => (r.options.protect ? "data" : "vms") },
    { type: "proxmoxve:index/vm:Vm", group: (r) => (r.options.protect ? "data" : "vms") },
    { type: "proxmoxve:index/containerLegacy:ContainerLegacy", group: "lxcs" },
    { type: "proxmoxve:node/disk/*", group: "storage" },
    { type: "proxmoxve:storage/*", group: "storage" },
    { type: "proxmoxve:download/*", group: "storage" },
    { type: "proxmoxve:index/fileLegacy:FileLegacy", group: "storage" },
    { type: "proxmoxve:backup/*", group: "data" },
    { type: "proxmoxve:network/*", group: "host" },
    { type: "proxmoxve:firewall/*", group: "host" },
    { type: "proxmoxve:cluster/*", group: "host" },
    { type: "proxmoxve:node/*", group: "host" },
    { type: "proxmoxve:permission/*", group: "host" },
    { type: "proxmoxve:user/*", group: "host" },
    { type: "proxmoxve:pool/*", group: "host" },
    // The same command type prepares hosts and provisions guests: its component says which.
    { type: "command:*", group: (r, areaOf) => (areaOf(r) === "host" ? "host" : "workloads") },
    { type: "docker:*", group: "workloads" },
    { type: "random:*", group: "workloads" },
    { type: "pulumi:providers:*", group: "host" },
    { type: "proxmoxve:*", group: "host" },
];

/** The `<area>` of the nearest `ai-dualstack:<area>:<Name>` component above a resource. */
function areaFinder(graph: PlanGraph): (r: PlanResource) => string | undefined {
    const byUrn = new Map(graph.resources.map((r) => [r.urn, r]));
    return (r) => {
        for (let p = r.parent ? byUrn.get(r.parent) : undefined; p; p = p.parent ? byUrn.get(p.parent) : undefined) {
            const [pkg, area] = p.type.split(":");
            if (pkg === "ai-dualstack" && area !== "env") {
                return area;
            }
        }
        return undefined;
    };
}

export function groupOf(r: PlanResource, areaOf: (r: PlanResource) => string | undefined = () => undefined): Group {
    const rule = GROUP_RULES.find((g) => (g.type.endsWith("*") ? r.type.startsWith(g.type.slice(0, -1)) : r.type === g.type));
    if (!rule) {
        return "workloads";
    }
    return typeof rule.group === "function" ? rule.group(r, areaOf) : rule.group;
}

/** Colours per environment; a stack of neither (the host stack) is grey. */
const CLASSES: Readonly<Record<string, string>> = {
    private: "fill:#fde8e8,stroke:#b42318,color:#1f1f1f",
    public: "fill:#e0ecff,stroke:#1d4ed8,color:#1f1f1f",
    shared: "fill:#f2f2f2,stroke:#555555,color:#1f1f1f",
};

const ENVIRONMENT_TYPE = "ai-dualstack:env:Environment";

function environmentOf(graph: PlanGraph): string {
    const env = graph.resources.find((r) => r.type === ENVIRONMENT_TYPE)?.name;
    return env === "private" || env === "public" ? env : "shared";
}

const id = (text: string) => text.replace(/[^A-Za-z0-9]/g, "_");
const label = (text: string) => text.replace(/"/g, "#quot;");
const shortType = (type: string) => type.split(":").pop() ?? type;

/** Direct waits minus those implied through another wait (transitive reduction). */
function reducedEdges(deps: Map<string, Set<string>>): [string, string][] {
    const reach = new Map<string, Set<string>>();
    const reachable = (u: string): Set<string> => {
        let r = reach.get(u);
        if (!r) {
            r = new Set();
            reach.set(u, r);
            for (const d of deps.get(u) ?? []) {
                r.add(d);
                reachable(d).forEach((x) => r?.add(x));
            }
        }
        return r;
    };
    const edges: [string, string][] = [];
    for (const [u, ds] of [...deps.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        for (const d of [...ds].sort()) {
            const implied = [...ds].some((other) => other !== d && reachable(other).has(d));
            if (!implied) {
                edges.push([d, u]);
            }
        }
    }
    return edges;
}

/** One flowchart of one or more stacks (each in its own box). */
export function renderMermaid(graphs: readonly PlanGraph[]): string {
    const lines = ["flowchart LR"];
    const classes = new Map<string, string[]>();
    const edges: string[] = [];
    for (const graph of graphs) {
        const prefix = id(graph.stack);
        const nodeId = (urn: string) => `${prefix}_${id(urn.split("::").pop() ?? urn)}`;
        const areaOf = areaFinder(graph);
        const deps = customDependencies(graph);
        const drawn = graph.resources.filter((r) => r.custom && deps.has(r.urn));
        const env = environmentOf(graph);
        lines.push(`  subgraph ${prefix}["stack ${label(graph.stack)}"]`);
        for (const group of Object.keys(GROUP_TITLES) as Group[]) {
            const members = drawn.filter((r) => groupOf(r, areaOf) === group).sort((a, b) => a.name.localeCompare(b.name));
            if (members.length === 0) {
                continue;
            }
            lines.push(`    subgraph ${prefix}__${group}["${GROUP_TITLES[group]}"]`);
            for (const r of members) {
                const text = label(`${r.name}<br/><small>${shortType(r.type)}</small>`);
                lines.push(`      ${nodeId(r.urn)}${r.options.protect ? `[("${text}")]` : `["${text}"]`}`);
                classes.set(env, [...(classes.get(env) ?? []), nodeId(r.urn)]);
            }
            lines.push("    end");
        }
        lines.push("  end");
        for (const [from, to] of reducedEdges(deps)) {
            edges.push(`  ${nodeId(from)} --> ${nodeId(to)}`);
        }
    }
    lines.push(...edges);
    for (const [env, members] of [...classes.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        lines.push(`  classDef env_${env} ${CLASSES[env]}`, `  class ${members.join(",")} env_${env}`);
    }
    return `${lines.join("\n")}\n`;
}
