/**
 * The plan's summary: counts, policy verdicts, the critical path and the rebuild estimate.
 */
import { CREATE_TIMES, createSeconds } from "./createTimes";
import type { PlanGraph, PlanSummary } from "../../graph";
import { criticalPath, graphShape } from "./graphMetrics";

export function summarize(graph: PlanGraph): PlanSummary {
    const path = criticalPath(graph, createSeconds, (t) => t in CREATE_TIMES);
    const mandatory = graph.policy.filter((f) => f.level === "mandatory").length;
    return {
        resources: graph.resources.length,
        providerResources: graph.resources.filter((r) => r.custom).length,
        protected: graph.resources.filter((r) => r.options.protect).length,
        mandatoryViolations: mandatory,
        advisories: graph.policy.length - mandatory,
        widestLevel: graphShape(graph).widestLevel,
        criticalPath: { urns: path.urns, estimatedSeconds: path.estimatedSeconds },
        serialSeconds: path.serialSeconds,
        unknownCreateTimes: path.unknownTypes,
    };
}

/** Seconds as a person reads them: 540 -> "9 min", 75 -> "1 min 15 s". */
export function duration(seconds: number): string {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    return m === 0 ? `${s} s` : s === 0 ? `${m} min` : `${m} min ${s} s`;
}
