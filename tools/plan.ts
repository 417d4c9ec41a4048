/**
 * npm run plan -- --stack <host|private|public|all> [--format text|json|mermaid] [--json] [--config FILE] [--pci-inventory FILE]
 *
 * Evaluates the real program offline (Pulumi mock runtime, no CLI, no Proxmox) with the
 * stack's config and prints the resource tree, the policy verdicts and a summary (with the
 * critical path and rebuild estimate), the graph as JSON (contract: docs/plan-json.md), or
 * a Mermaid flowchart of it. `--stack all` (Mermaid only) draws every stack that has a
 * Pulumi.<stack>.yaml together. Bad config: exit 1, one line per problem naming the
 * config key; that includes the checks across both environments (the host stack runs them
 * itself; for an environment they run against the host file and the other environment's
 * file). A mandatory policy violation: the plan is printed, then exit 2. With
 * --pci-inventory (pvesh's PCI list of the real node) the GPU preflight checks the
 * config against that host instead of against itself.
 */
import * as fs from "fs";
import { knownStacks, loadStackFile, PROCESS_IO, runMain, stackToolArgs, ToolIO, UsageError } from "./lib/cli";
import type { PlanDocument } from "../graph";

const USAGE = "usage: npm run plan -- --stack <host|private|public|all> [--format text|json|mermaid] [--json] [--config FILE] [--pci-inventory FILE]";
const FORMATS = ["text", "json", "mermaid"] as const;
type Format = (typeof FORMATS)[number];

/** The plan of one stack: evaluated, policies run, summarised. */
export async function planStack(stack: string, options: { configFile?: string; inventoryFile?: string; progress?: (m: string) => void } = {}): Promise<{ plan: PlanDocument; notes: string[] }> {
    const file = await loadStackFile(stack, options.configFile);
    // Loaded only now: --help, a bad flag or an unknown stack never load the SDK or the program.
    const [{ evaluateStack }, { inventoryFromPvesh }, { runPolicies }, { summarize }, { crossChecksFor }, { ConfigError }] = await Promise.all([
        import("./lib/evaluate"), import("./lib/inventory"), import("../policy/offline"), import("./lib/summary"),
        import("./lib/crossCheck"), import("../config/load"),
    ]);
    const inventory = options.inventoryFile === undefined ? undefined : inventoryFromPvesh(readJson(options.inventoryFile), options.inventoryFile);
    const { graph, validated } = await evaluateStack({ stack, file, inventory, progress: options.progress });
    if (validated.kind === "environment") {
        // The checks across both environments: against the host file and the other environment's file.
        const clashes = crossChecksFor(validated.stack, file.file);
        if (clashes.length > 0) {
            throw new ConfigError(clashes);
        }
    }
    graph.policy = runPolicies(graph);
    const notes = file.placeholders.map((k) => `${k} is not set in ${file.file}; a placeholder stands in (set it with pulumi config set --secret)`);
    return { plan: { ...graph, summary: summarize(graph) }, notes };
}

export async function runPlan(argv: string[], io: ToolIO): Promise<number> {
    const args = stackToolArgs(argv, {
        stack: { type: "string" },
        format: { type: "string" },
        json: { type: "boolean" },
        config: { type: "string" },
        "pci-inventory": { type: "string" },
    }, USAGE, io);
    if (typeof args === "number") {
        return args;
    }
    const { flags, stack } = args;
    const format = (flags.json ? "json" : flags.format ?? "text") as Format;
    if (!FORMATS.includes(format) || (flags.json && flags.format !== undefined && flags.format !== "json")) {
        throw new UsageError(`--format must be one of ${FORMATS.join(", ")} (--json is --format json)\n${USAGE}`);
    }
    const all = stack === "all";
    if (all && (format !== "mermaid" || flags.config !== undefined || flags["pci-inventory"] !== undefined)) {
        throw new UsageError(`--stack all draws every stack's diagram: use it with --format mermaid, without --config or --pci-inventory\n${USAGE}`);
    }
    const progress = format === "text" ? (message: string) => io.err(`${message}\n`) : undefined;
    const plans: PlanDocument[] = [];
    let notes: string[] = [];
    for (const name of all ? knownStacks() : [stack]) {
        const result = await planStack(name, { configFile: flags.config, inventoryFile: flags["pci-inventory"], progress });
        plans.push(result.plan);
        notes = result.notes;
    }
    const mandatory = plans.flatMap((p) => p.policy).filter((f) => f.level === "mandatory");

    if (format === "json") {
        io.out(`${JSON.stringify(plans[0], null, 2)}\n`);
    } else if (format === "mermaid") {
        const { renderMermaid } = await import("./lib/mermaid");
        io.out(renderMermaid(plans));
    } else {
        const { renderPlan } = await import("./lib/render");
        io.out(renderPlan(plans[0], notes));
    }
    if (mandatory.length > 0) {
        // Scripts can tell "plan printed, but `pulumi up` would be refused" (2) from bad config (1).
        io.err(`${mandatory.length} mandatory policy violation${mandatory.length === 1 ? "" : "s"}: pulumi preview/up would be refused (exit 2)\n`);
        return 2;
    }
    return 0;
}

function readJson(file: string): unknown {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new UsageError(`--pci-inventory ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
}

if (require.main === module) {
    runMain(() => runPlan(process.argv.slice(2), PROCESS_IO));
}
