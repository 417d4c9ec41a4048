/**
 * npm run policy [-- --stack <name> [--config FILE]] [--json]
 *
 * Runs the policy pack offline against the plan graph of both stacks (or one), prints
 * every violation with its policy, level, resource and message, and exits 1 when any is
 * mandatory. The same rules run under the Pulumi CLI with --policy-pack policy.
 */
import { knownStacks, loadStackFile, PROCESS_IO, runMain, toolArgs, ToolIO, UsageError } from "./lib/cli";
import type { PolicyFinding } from "./lib/graph";

const USAGE = "usage: npm run policy [-- --stack <private|public> [--config FILE]] [--json]";

export async function runPolicy(argv: string[], io: ToolIO): Promise<number> {
    const flags = toolArgs(argv, {
        stack: { type: "string" },
        config: { type: "string" },
        json: { type: "boolean" },
    }, USAGE, io);
    if (typeof flags === "number") {
        return flags;
    }
    if (flags.config !== undefined && flags.stack === undefined) {
        throw new UsageError(`--config needs --stack\n${USAGE}`);
    }
    const stacks = flags.stack !== undefined ? [flags.stack] : knownStacks();
    const files = await Promise.all(stacks.map((name) => loadStackFile(name, flags.config)));
    const [{ evaluateStack }, { runPolicies }, { RULES }] = await Promise.all([import("./lib/evaluate"), import("../policy/offline"), import("../policy/rules")]);
    const report: Record<string, PolicyFinding[]> = {};
    const progress = flags.json ? undefined : (message: string) => io.err(`${message}\n`);
    progress?.(`checking ${stacks.join(", ")} against ${RULES.length} policies`);
    for (const [i, name] of stacks.entries()) {
        const { graph } = await evaluateStack({ stack: name, file: files[i], progress });
        report[name] = runPolicies(graph);
    }

    const all = Object.values(report).flat();
    const mandatory = all.filter((f) => f.level === "mandatory").length;
    if (flags.json) {
        io.out(`${JSON.stringify(report, null, 2)}\n`);
    } else {
        for (const [stack, findings] of Object.entries(report)) {
            io.out(`stack ${stack}: ${findings.length === 0 ? "all policies pass" : `${findings.length} finding(s)`}\n`);
            for (const f of findings) {
                const where = f.urn ? f.urn.split("::").pop() : "(stack)";
                io.out(`  ${f.level === "mandatory" ? "FAIL" : "warn"} [${f.level}] ${f.policy} ${where}: ${f.message}\n`);
            }
        }
        io.out(`${mandatory} mandatory violation(s), ${all.length - mandatory} advisory finding(s) across ${stacks.join(", ")}\n`);
    }
    return mandatory > 0 ? 1 : 0;
}

if (require.main === module) {
    runMain(() => runPolicy(process.argv.slice(2), PROCESS_IO));
}
