/**
 * Human-readable plan: resources as a tree under their parents, counts by type, and the
 * policy verdicts.
 */
import type { PlanDocument, PlanResource } from "../../graph";
import { duration } from "./summary";

export function renderPlan(graph: PlanDocument, notes: readonly string[] = []): string {
    const lines: string[] = [];
    const children = new Map<string | null, PlanResource[]>();
    const urns = new Set(graph.resources.map((r) => r.urn));
    for (const r of graph.resources) {
        const parent = r.parent !== null && urns.has(r.parent) ? r.parent : null;
        children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const walk = (parent: string | null, indent: string) => {
        const kids = [...(children.get(parent) ?? [])].sort((a, b) => a.name.localeCompare(b.name));
        kids.forEach((r, i) => {
            const last = i === kids.length - 1;
            const flags = [
                r.options.protect ? "protected" : "",
                r.options.retainOnDelete ? "retained" : "",
                r.dependencies.length > 0 ? `waits on ${r.dependencies.length}` : "",
            ].filter(Boolean).join(", ");
            lines.push(`${indent}${last ? "└─" : "├─"} ${r.name}  (${r.type})${flags ? `  [${flags}]` : ""}`);
            walk(r.urn, `${indent}${last ? "   " : "│  "}`);
        });
    };
    lines.push(`stack ${graph.stack} (${graph.project})`);
    walk(null, "");

    lines.push("", "resources by type:");
    const counts = new Map<string, number>();
    graph.resources.forEach((r) => counts.set(r.type, (counts.get(r.type) ?? 0) + 1));
    const width = Math.max(...[...counts.keys()].map((t) => t.length));
    [...counts.entries()].sort(([a], [b]) => a.localeCompare(b))
        .forEach(([type, n]) => lines.push(`  ${type.padEnd(width)}  ${n}`));

    lines.push("", "policy:");
    if (graph.policy.length === 0) {
        lines.push("  all policies pass");
    }
    for (const f of graph.policy) {
        const where = f.urn ? ` ${f.urn.split("::").pop()}` : "";
        lines.push(`  ${f.level === "mandatory" ? "FAIL" : "warn"} ${f.policy}${where}: ${f.message}`);
    }

    const s = graph.summary;
    lines.push("", `summary: ${s.resources} resources (${s.providerResources} provider resources, ${s.protected} protected), ${s.mandatoryViolations} mandatory policy violations, ${s.advisories} advisories`);
    const path = s.criticalPath;
    lines.push(`  critical path: ${path.urns.length} resources, ~${duration(path.estimatedSeconds)}: ${path.urns.map((u) => u.split("::").pop()).join(" -> ")}`);
    lines.push(`  rebuild estimate: ~${duration(path.estimatedSeconds)} with Pulumi's parallelism (up to ${s.widestLevel} at once), ~${duration(s.serialSeconds)} one at a time (create times: tools/lib/createTimes.ts)`);
    if (s.unknownCreateTimes.length > 0) {
        lines.push(`  no create time known for ${s.unknownCreateTimes.join(", ")} (counted at a default)`);
    }
    for (const [key, value] of Object.entries(graph.outputs)) {
        lines.push(`  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
    }
    notes.forEach((n) => lines.push(`note: ${n}`));
    return `${lines.join("\n")}\n`;
}
