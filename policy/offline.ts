/**
 * Runs the policy pack against an offline plan graph: what `npm run policy` and the
 * `policy` array of `npm run plan --json` report. Same rules, same config, as the pack the
 * Pulumi CLI loads.
 */
import type { PlanGraph, PolicyFinding } from "../graph";
import { RULES } from "./rules";
import { PolicyResource, StackView, TYPES } from "./rules/model";
import { readPackConfig, settingsFor } from "./settings";

export function stackViewOf(graph: PlanGraph): StackView {
    const resources: PolicyResource[] = graph.resources.map((r) => ({
        urn: r.urn,
        type: r.type,
        name: r.name,
        props: r.inputs,
        protect: r.options.protect,
    }));
    return { resources, environment: environmentOf(resources) };
}

export function environmentOf(resources: readonly { type: string; name: string }[]): string | undefined {
    if (resources.some((r) => r.type === TYPES.box)) {
        return "host";
    }
    return resources.find((r) => r.type === TYPES.environment)?.name;
}

export function runPolicies(graph: PlanGraph, packConfig: unknown = undefined): PolicyFinding[] {
    const stack = stackViewOf(graph);
    const settings = settingsFor(RULES, packConfig ?? readPackConfig(stack.environment));
    const findings: PolicyFinding[] = [];
    for (const rule of RULES) {
        const setting = settings.get(rule.name);
        if (setting === undefined || setting.level === "disabled") {
            continue;
        }
        for (const f of rule.run(stack, setting.given)) {
            findings.push({ policy: rule.name, level: setting.level, urn: f.urn, message: f.message });
        }
    }
    return findings.sort((a, b) => a.policy.localeCompare(b.policy) || (a.urn ?? "").localeCompare(b.urn ?? "") || a.message.localeCompare(b.message));
}
