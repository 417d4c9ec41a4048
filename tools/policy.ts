/**
 * npm run policy [-- --stack <name> [--config FILE]] [--json]
 *
 * Runs the policy pack offline against the plan graph of both stacks (or one), prints
 * every violation with its policy, level, resource and message, and exits 1 when any is
 * mandatory. The same rules run under the Pulumi CLI with --policy-pack policy.
 */
import { ConfigError } from "../config/load";
import { crossChecksFor } from "./lib/crossCheck";
import { evaluateStack } from "./lib/evaluate";
import type { StackConfigFile } from "./lib/stackFile";
import { knownStacks, loadStackFile, PROCESS_IO, runMain, toolArgs, UsageError } from "./lib/cli";
import type { PolicyFinding } from "./lib/graph";
import { runPolicies } from "../policy/offline";
import { RULES } from "../policy/rules";

const USAGE = "usage: npm run policy [-- --stack <host|private|public> [--config FILE]] [--json]";

/**
 * A stack's findings: its config problems (the checks across both environments among
 * them) as "valid-config" findings, else the policies on its graph plus, for an
 * environment, the checks across both environments.
 */
async function stackFindings(name: string, file: StackConfigFile, progress: ((m: string) => void) | undefined): Promise<PolicyFinding[]> {
    const asFindings = (policy: string, lines: readonly string[]): PolicyFinding[] =>
        lines.map((message) => ({ policy, level: "mandatory", urn: null, message }));
    try {
        const { graph, validated } = await evaluateStack({ stack: name, file, progress });
        const cross = validated.kind === "environment" ? crossChecksFor(validated.stack, file.file) : [];
        return [...asFindings("cross-environment", cross), ...runPolicies(graph)];
    } catch (err) {
        if (err instanceof ConfigError) {
            return asFindings("valid-config", err.problems);
        }
        throw err;
    }
}

async function main(): Promise<number> {
    const flags = toolArgs(process.argv.slice(2), {
        stack: { type: "string" },
        config: { type: "string" },
        json: { type: "boolean" },
    }, USAGE, PROCESS_IO);
    if (typeof flags === "number") {
        return flags;
    }
    if (flags.config !== undefined && flags.stack === undefined) {
        throw new UsageError(`--config needs --stack\n${USAGE}`);
    }
    const stacks = flags.stack !== undefined ? [flags.stack] : knownStacks();
    const report: Record<string, PolicyFinding[]> = {};
    const progress = flags.json ? undefined : (message: string) => process.stderr.write(`${message}\n`);
    progress?.(`checking ${stacks.join(", ")} against ${RULES.length} policies`);
    for (const name of stacks) {
        const file = loadStackFile(name, flags.config);
        report[name] = await stackFindings(name, file, progress);
    }

    const all = Object.values(report).flat();
    const mandatory = all.filter((f) => f.level === "mandatory").length;
    if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
        for (const [stack, findings] of Object.entries(report)) {
            process.stdout.write(`stack ${stack}: ${findings.length === 0 ? "all policies pass" : `${findings.length} finding(s)`}\n`);
            for (const f of findings) {
                const where = f.urn ? f.urn.split("::").pop() : "(stack)";
                process.stdout.write(`  ${f.level === "mandatory" ? "FAIL" : "warn"} [${f.level}] ${f.policy} ${where}: ${f.message}\n`);
            }
        }
        process.stdout.write(`${mandatory} mandatory violation(s), ${all.length - mandatory} advisory finding(s) across ${stacks.join(", ")}\n`);
    }
    return mandatory > 0 ? 1 : 0;
}

runMain(main);
