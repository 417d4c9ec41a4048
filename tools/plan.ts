/**
 * npm run plan -- --stack <host|private|public> [--json] [--config FILE] [--pci-inventory FILE]
 *
 * Evaluates the real program offline (Pulumi mock runtime, no CLI, no Proxmox) with the
 * stack's config and prints the resource tree, the policy verdicts and a summary, or the
 * graph as JSON. Bad config: exit 1, one line per problem naming the config key; that
 * includes the checks across both environments (the host stack runs them itself; for an
 * environment they run against the host file and the other environment's file). A
 * mandatory policy violation: the plan is printed, then exit 2.
 * With --pci-inventory (pvesh's PCI list of the real node) the GPU preflight checks the
 * config against that host instead of against itself.
 */
import * as fs from "fs";
import { ConfigError } from "../config/load";
import { crossChecksFor } from "./lib/crossCheck";
import { evaluateStack } from "./lib/evaluate";
import { loadStackFile, PROCESS_IO, runMain, stackToolArgs, UsageError } from "./lib/cli";
import { inventoryFromPvesh } from "./lib/inventory";
import { renderPlan } from "./lib/render";
import { runPolicies } from "../policy/offline";

const USAGE = "usage: npm run plan -- --stack <host|private|public> [--json] [--config FILE] [--pci-inventory FILE]";

async function main(): Promise<number> {
    const args = stackToolArgs(process.argv.slice(2), {
        stack: { type: "string" },
        json: { type: "boolean" },
        config: { type: "string" },
        "pci-inventory": { type: "string" },
    }, USAGE, PROCESS_IO);
    if (typeof args === "number") {
        return args;
    }
    const { flags, stack } = args;
    const file = loadStackFile(stack, flags.config);
    const inventoryFile = flags["pci-inventory"];
    const inventory = inventoryFile === undefined ? undefined : inventoryFromPvesh(readJson(inventoryFile), inventoryFile);
    const progress = flags.json ? undefined : (message: string) => process.stderr.write(`${message}\n`);
    const { graph, validated } = await evaluateStack({ stack, file, inventory, progress });
    if (validated.kind === "environment") {
        const clashes = crossChecksFor(validated.stack, file.file);
        if (clashes.length > 0) {
            throw new ConfigError(clashes);
        }
    }
    graph.policy = runPolicies(graph);
    const mandatory = graph.policy.filter((f) => f.level === "mandatory");

    if (flags.json) {
        process.stdout.write(`${JSON.stringify(graph, null, 2)}\n`);
    } else {
        const notes = file.placeholders.map((k) => `${k} is not set in ${file.file}; a placeholder stands in (set it with pulumi config set --secret)`);
        process.stdout.write(renderPlan(graph, notes));
    }
    if (mandatory.length > 0) {
        // Scripts can tell "plan printed, but `pulumi up` would be refused" (2) from bad config (1).
        process.stderr.write(`${mandatory.length} mandatory policy violation${mandatory.length === 1 ? "" : "s"}: pulumi preview/up would be refused (exit 2)\n`);
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

runMain(main);
