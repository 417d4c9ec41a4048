/**
 * Shape of a plan graph: how many resources Proxmox could create at once, and the longest
 * chain of resources that must wait on each other (the critical path of `pulumi up`).
 */
import type { PlanGraph, PlanResource } from "./graph";

/** Custom resources each custom resource waits on, with component dependencies expanded to their custom descendants. */
function customDependencies(graph: PlanGraph): Map<string, Set<string>> {
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
        deps.set(r.urn, new Set(r.dependencies.flatMap(customsUnder).filter((u) => u !== r.urn)));
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
