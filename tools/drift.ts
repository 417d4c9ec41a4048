/**
 * npm run drift -- --stack <name> [--json]
 *
 * State-tracked drift check: a refresh preview of the stack (reads Proxmox, changes no
 * state), reported per resource with what changed. Known provider quirks are listed as
 * noise, not drift.
 *
 * Exit codes: 0 no drift, 2 drift, 1 error (no Pulumi CLI, no stack, no credentials...).
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { Backend, CliMissingError, explainAutomationError, pulumiBackend } from "./lib/automation";
import { PROCESS_IO, runMain, stackToolArgs, ToolIO } from "./lib/cli";
import { buildDriftReport, DriftReport, driftExitCode } from "./lib/driftReport";

const USAGE = "usage: npm run drift -- --stack <name> [--json]";

export async function runDrift(argv: string[], backend: Backend, io: ToolIO): Promise<number> {
    const args = stackToolArgs(argv, { stack: { type: "string" }, json: { type: "boolean" } }, USAGE, io);
    if (typeof args === "number") {
        return args;
    }
    const { flags, stack: stackName } = args;
    try {
        io.err(`drift check of stack ${stackName}: refreshing from Proxmox (preview only, state is not changed)...\n`);
        const stack = await backend.open(stackName);
        const events: EngineEvent[] = [];
        let seen = 0;
        await stack.previewRefresh((event) => {
            events.push(event);
            const meta = event.resourcePreEvent?.metadata;
            if (meta && !meta.type.startsWith("pulumi:")) {
                seen += 1;
                io.err(`  [${seen}] ${meta.urn.split("::").pop()} (${meta.type})\n`);
            }
        });
        const report = buildDriftReport(stackName, events);
        io.out(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrift(report));
        return driftExitCode(report);
    } catch (err) {
        io.err(`drift: ${err instanceof CliMissingError ? err.message : explainAutomationError(stackName, err)}\n`);
        return 1;
    }
}

export function renderDrift(report: DriftReport): string {
    const lines = [`stack ${report.stack}: checked ${report.checked} resources`];
    for (const d of report.drifted) {
        if (d.status === "deleted") {
            lines.push(`  - ${d.name} (${d.type}): deleted outside Pulumi`);
            continue;
        }
        lines.push(`  ~ ${d.name} (${d.type}):`);
        d.changes.forEach((c) => lines.push(`      ${c.path}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`));
    }
    for (const n of report.knownNoise) {
        lines.push(`  · ${n.name}: known provider noise only (${n.changes.map((c) => c.path).join(", ")}); see components/quirks.ts`);
    }
    const s = report.summary;
    lines.push(report.drifted.length === 0
        ? `no drift (${s.unchanged} unchanged, ${s.knownNoise} with known noise only)`
        : `DRIFT: ${s.drifted} changed, ${s.deleted} deleted, ${s.knownNoise} known noise only, ${s.unchanged} unchanged`);
    return `${lines.join("\n")}\n`;
}

if (require.main === module) {
    runMain(() => runDrift(process.argv.slice(2), pulumiBackend(), PROCESS_IO));
}
