/**
 * npm run rebuild -- --stack <name> [--yes] [--include-private] [--teardown-only]
 *
 * Tears one environment down and builds it again, keeping its data: everything that is
 * not protected (and not needed by what is) is destroyed, then `pulumi up` runs. Only the
 * named stack is opened; the other environment and the host stack are never touched,
 * and the host stack itself is refused.
 *
 * Refuses without --yes (it shows the plan instead), refuses a private environment
 * without --include-private, and refuses when a resource holding data is not protected.
 * --teardown-only stops after the destroy (decommissioning), still keeping protected data.
 */
import * as fs from "fs";
import { performance } from "perf_hooks";
import { Backend, CliMissingError, explainAutomationError, pulumiBackend } from "./lib/automation";
import { PROCESS_IO, runMain, stackToolArgs, ToolIO } from "./lib/cli";
import { planRebuild } from "./lib/rebuildPlan";
import { readStackFile, stackFilePath } from "./lib/stackFile";

const USAGE = "usage: npm run rebuild -- --stack <name> [--yes] [--include-private] [--teardown-only]";

export interface RebuildDeps {
    readonly backend: Backend;
    readonly io: ToolIO;
    /** the environment a stack builds (private/public), from its stack file */
    readonly environmentOf: (stack: string) => string | undefined;
    readonly now?: () => number;
}

export async function runRebuild(argv: string[], deps: RebuildDeps): Promise<number> {
    const { io } = deps;
    const now = deps.now ?? (() => performance.now());
    const args = stackToolArgs(argv, {
        stack: { type: "string" },
        yes: { type: "boolean" },
        "include-private": { type: "boolean" },
        "teardown-only": { type: "boolean" },
    }, USAGE, io);
    if (typeof args === "number") {
        return args;
    }
    const { flags, stack: stackName } = args;
    const environment = deps.environmentOf(stackName) ?? stackName;
    if (environment === "host") {
        io.err(`rebuild: stack ${stackName} is the host stack: it holds the box itself (mirrors, GPU mappings, firewall, backups) and is never torn down by this tool; rebuild private or public\n`);
        return 1;
    }
    if (environment === "private" && !flags["include-private"]) {
        io.err(`rebuild: refusing to touch the private environment (stack ${stackName}) without --include-private\n`);
        return 1;
    }

    const started = now();
    const phase = (name: string, since: number) => io.out(`phase ${name}: ${((now() - since) / 1000).toFixed(1)} s\n`);
    try {
        io.out(`preflight: reading the state of stack ${stackName} (no other stack is opened)\n`);
        const t0 = now();
        const stack = await deps.backend.open(stackName);
        const plan = planRebuild(await stack.resources());
        const custom = (list: typeof plan.keep) => list.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
        io.out(`will destroy ${custom(plan.destroy).length} resources:\n${custom(plan.destroy).map((r) => `  - ${r.urn.split("::").pop()} (${r.type})`).join("\n")}\n`);
        io.out(`will keep ${custom(plan.keep).length} resources (protected data and what it needs):\n${custom(plan.keep).map((r) => `  = ${r.urn.split("::").pop()} (${r.type})${r.protect ? " [protected]" : ""}`).join("\n")}\n`);
        phase("preflight", t0);
        if (plan.unprotectedStateful.length > 0) {
            io.err(`rebuild: refusing: these hold data but are not protected, a rebuild would delete them:\n${plan.unprotectedStateful.map((s) => `  ${s.urn} (${s.what})`).join("\n")}\n`);
            return 1;
        }
        if (!flags.yes) {
            io.err(`rebuild: nothing done. Re-run with --yes to ${flags["teardown-only"] ? "tear down" : "tear down and rebuild"} stack ${stackName}.\n`);
            return 1;
        }

        const t1 = now();
        const destroyed = await stack.destroy(plan.exclude, (line) => io.out(`  destroy| ${line.trimEnd()}\n`));
        io.out(`destroyed: ${JSON.stringify(destroyed)}\n`);
        phase("destroy", t1);
        if (!flags["teardown-only"]) {
            const t2 = now();
            const created = await stack.up((line) => io.out(`  up| ${line.trimEnd()}\n`));
            io.out(`up: ${JSON.stringify(created)}\n`);
            phase("up", t2);
        }
        io.out(`${flags["teardown-only"] ? "teardown" : "rebuild"} of ${stackName} done in ${((now() - started) / 1000).toFixed(1)} s (total)\n`);
        return 0;
    } catch (err) {
        io.err(`rebuild: ${err instanceof CliMissingError ? err.message : explainAutomationError(stackName, err)}\n`);
        return 1;
    }
}

/** The `environment` a stack file declares, if the file exists. */
export function environmentFromStackFile(stack: string): string | undefined {
    const file = stackFilePath(stack);
    return fs.existsSync(file) ? readStackFile(file).config["ai-dualstack:environment"] : undefined;
}

if (require.main === module) {
    runMain(() => runRebuild(process.argv.slice(2), {
        backend: pulumiBackend(),
        io: PROCESS_IO,
        environmentOf: environmentFromStackFile,
    }));
}
