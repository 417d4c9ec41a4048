/**
 * Shape of a plan graph: how many resources Proxmox could create at once, and the longest
 * chain of resources that must wait on each other (the critical path of `pulumi up`).
 */
import type { PlanGraph, PlanResource } from "../../graph";

/** Custom resources each custom resource waits on, with component dependencies expanded to their custom descendants. */
export function customDependencies(graph: PlanGraph): Map<string, Set<string>> {
    const byUrn = new Map(graph.resources.map((r) => [r.urn, r]));
    const children = new Map<string, PlanResource[]>();
    graph.resources.forEach((r) => r.parent && children.set(r.parent, [...(children.get(r.parent) ?? []), r]));
    const customsUnder = (urn: string): string[] => {
        const r = byUrn.get(urn);
        if (!r) return [];
        if (r.custom) return [urn];
        return (children.get(urn) ?? []).flatMap((c) => customsUnder(c.urn));
    };
    const deps = new Map<string, Set<string>>();
    for (const r of graph.resources.filter((res) => res.custom)) {
        // A resource also waits for its provider (the Docker provider waits for the AI VM to be ready).
        const provider = r.provider !== null && byUrn.has(r.provider) ? [r.provider] : [];
        deps.set(r.urn, new Set([...r.dependencies, ...provider].flatMap(customsUnder).filter((u) => u !== r.urn)));
    }
    return deps;
}

export interface GraphShape {
    readonly customResources: number;
    /** resources on the longest wait chain */
    readonly criticalPath: number;
    /** the most resources that could be in flight at one level of the DAG */
    readonly widestLevel: number;
}

export function graphShape(graph: PlanGraph): GraphShape {
    const deps = customDependencies(graph);
    const level = new Map<string, number>();
    const levelOf = (urn: string, seen: Set<string> = new Set()): number => {
        const known = level.get(urn);
        if (known !== undefined) return known;
        if (seen.has(urn)) throw new Error(`dependency cycle at ${urn}`);
        seen.add(urn);
        const l = 1 + Math.max(0, ...[...(deps.get(urn) ?? [])].map((d) => levelOf(d, seen)));
        level.set(urn, l);
        return l;
    };
    [...deps.keys()].forEach((u) => levelOf(u));
    const perLevel = new Map<number, number>();
    level.forEach((l) => perLevel.set(l, (perLevel.get(l) ?? 0) + 1));
    return {
        customResources: deps.size,
        criticalPath: Math.max(0, ...level.values()),
        widestLevel: Math.max(0, ...perLevel.values()),
    };
}

export interface CriticalPath {
    /** the chain of provider resources that must be created one after another, first to last */
    readonly urns: string[];
    /** its estimated duration: the rebuild time with Pulumi's parallelism */
    readonly estimatedSeconds: number;
    /** every provider resource's create time added up: the rebuild time one at a time */
    readonly serialSeconds: number;
    /** types the create-time table has no row for (counted at a default) */
    readonly unknownTypes: string[];
}

/**
 * The critical path: the chain of waits with the longest estimated duration (create times
 * from one table, createTimes.ts), ties broken by more resources, then by URN.
 */
export function criticalPath(graph: PlanGraph, seconds: (resource: PlanResource) => number, known: (type: string) => boolean): CriticalPath {
    const deps = customDependencies(graph);
    const byUrn = new Map(graph.resources.map((r) => [r.urn, r]));
    const secondsOf = (urn: string) => {
        const r = byUrn.get(urn);
        return r ? seconds(r) : 0;
    };
    const best = new Map<string, { seconds: number; chain: string[] }>();
    const longest = (urn: string, seen: Set<string> = new Set()): { seconds: number; chain: string[] } => {
        const known = best.get(urn);
        if (known) return known;
        if (seen.has(urn)) throw new Error(`dependency cycle at ${urn}`);
        seen.add(urn);
        let before = { seconds: 0, chain: [] as string[] };
        for (const d of [...(deps.get(urn) ?? [])].sort()) {
            const c = longest(d, seen);
            if (c.seconds > before.seconds || (c.seconds === before.seconds && c.chain.length > before.chain.length)) before = c;
        }
        const result = { seconds: before.seconds + secondsOf(urn), chain: [...before.chain, urn] };
        best.set(urn, result);
        return result;
    };
    let top = { seconds: 0, chain: [] as string[] };
    for (const urn of [...deps.keys()].sort()) {
        const c = longest(urn);
        if (c.seconds > top.seconds || (c.seconds === top.seconds && c.chain.length > top.chain.length)) top = c;
    }
    const customUrns = [...deps.keys()];
    return {
        urns: top.chain,
        estimatedSeconds: top.seconds,
        serialSeconds: customUrns.reduce((sum, u) => sum + secondsOf(u), 0),
        unknownTypes: [...new Set(customUrns.map((u) => byUrn.get(u)?.type ?? ""))].filter((t) => !known(t)).sort(),
    };
}
