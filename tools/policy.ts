/**
 * npm run policy [-- --stack <name> [--config FILE]] [--json]
 *
 * Runs the policy pack offline against the plan graph of every stack (or one), prints
 * every violation with its policy, level, resource and message, and exits 1 when any is
 * mandatory. The same rules run under the Pulumi CLI with --policy-pack policy.
 */
import { knownStacks, loadStackFile, PROCESS_IO, runMain, toolArgs, ToolIO, UsageError } from "./lib/cli";
import type { PolicyFinding } from "../graph";
import type { StackConfigFile } from "./lib/stackFile";

const USAGE = "usage: npm run policy [-- --stack <host|private|public> [--config FILE]] [--json]";

/**
 * A stack's findings: its config problems (the checks across both environments among
 * them) as "valid-config" findings, else the policies on its graph plus, for an
 * environment, the checks across both environments.
 */
async function stackFindings(name: string, file: StackConfigFile, progress: ((m: string) => void) | undefined): Promise<PolicyFinding[]> {
    // Loaded only here: --help or a bad flag never load the SDK or the program.
    const [{ evaluateStack }, { runPolicies }, { crossChecksFor }, { ConfigError }] = await Promise.all([
        import("./lib/evaluate"), import("../policy/offline"), import("./lib/crossCheck"), import("../config/load"),
    ]);
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
    const { RULES } = await import("../policy/rules");
    const report: Record<string, PolicyFinding[]> = {};
    const progress = flags.json ? undefined : (message: string) => io.err(`${message}\n`);
    progress?.(`checking ${stacks.join(", ")} against ${RULES.length} policies`);
    for (const [i, name] of stacks.entries()) {
        report[name] = await stackFindings(name, files[i], progress);
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
