/**
 * npm run restore-drill -- --stack <name> --vmid N [--scratch-vmid M] [--json]
 *
 * Restores the newest backup of guest N into a scratch VMID of the same environment,
 * starts it with its network cut, checks it (the data mount holds files; the guest agent
 * answers for VMs), reports the time taken and removes the scratch guest. Refuses a VMID
 * outside the environment or not covered by its backup job; never touches the original.
 * See docs/restore-drill.md.
 */
import { performance } from "perf_hooks";
import { backupStorageOf, environmentOnly, validateRawConfig } from "../config/load";
import type { StackConfig } from "../config/schema";
import { loadStackFile, PROCESS_IO, runMain, stackToolArgs, ToolIO } from "./lib/cli";
import { proxmoxDrillApi } from "./lib/proxmoxApi";
import { DrillApi, DrillRefusal, planDrill, runDrill } from "./lib/restoreDrill";

const USAGE = "usage: npm run restore-drill -- --stack <name> --vmid N [--scratch-vmid M] [--json]";

export interface RestoreDrillDeps {
    readonly io: ToolIO;
    /** the stack's validated config */
    readonly configOf: (stack: string) => Promise<StackConfig>;
    /** the storage the environment's backups are on (default: the host stack file's backup.storage) */
    readonly backupStorageOf?: (config: StackConfig) => string;
    readonly api: (config: StackConfig) => DrillApi;
    readonly now?: () => number;
    readonly sleep?: (ms: number) => Promise<void>;
}

const vmidFlag = (text: string | undefined, flag: string): number | string => {
    if (text === undefined) return `--${flag} is required`;
    return /^\d+$/.test(text) ? Number(text) : `--${flag} must be a VMID (a whole number), got ${JSON.stringify(text)}`;
};

export async function runRestoreDrill(argv: string[], deps: RestoreDrillDeps): Promise<number> {
    const { io } = deps;
    const args = stackToolArgs(argv, { stack: { type: "string" }, vmid: { type: "string" }, "scratch-vmid": { type: "string" }, json: { type: "boolean" } }, USAGE, io);
    if (typeof args === "number") return args;
    const vmid = vmidFlag(args.flags.vmid, "vmid");
    const scratch = args.flags["scratch-vmid"] === undefined ? undefined : vmidFlag(args.flags["scratch-vmid"], "scratch-vmid");
    for (const v of [vmid, scratch]) {
        if (typeof v === "string") {
            io.err(`${v}\n${USAGE}\n`);
            return 1;
        }
    }
    try {
        const config = await deps.configOf(args.stack);
        const plan = planDrill(config, (deps.backupStorageOf ?? ((c: StackConfig) => backupStorageOf(c)))(config), vmid as number, scratch as number | undefined);
        io.out(`restore drill: ${plan.guest.name} (${plan.guest.vmid}) of ${config.environment}, from ${plan.backupStorage} to ${plan.storage}\n`);
        const report = await runDrill(plan, { api: deps.api(config), progress: (l) => io.out(`  ${l}\n`), now: deps.now ?? (() => performance.now()), sleep: deps.sleep });
        if (args.flags.json) {
            io.out(`${JSON.stringify(report, null, 2)}\n`);
        } else {
            report.checks.forEach((c) => io.out(`${c.ok ? "PASS" : "FAIL"} ${c.name}: ${c.detail}\n`));
            io.out(`${report.ok ? "restore drill passed" : "restore drill FAILED"} in ${report.seconds.toFixed(1)} s (archive ${report.archive}, scratch VMID ${report.scratchVmid}, removed)\n`);
        }
        return report.ok ? 0 : 2;
    } catch (err) {
        io.err(`restore-drill: ${err instanceof DrillRefusal ? "refusing: " : ""}${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
    }
}

/** The stack file's config, validated (secrets are not needed: the API credential comes from the environment). */
export async function stackConfigOf(stack: string): Promise<StackConfig> {
    const file = await loadStackFile(stack, undefined);
    const raw = Object.fromEntries(Object.entries(file.config).filter(([k]) => k.startsWith("ai-dualstack:")).map(([k, v]) => [k.slice("ai-dualstack:".length), v]));
    return environmentOnly(validateRawConfig(raw, undefined), "npm run restore-drill");
}

if (require.main === module) {
    runMain(() => runRestoreDrill(process.argv.slice(2), { io: PROCESS_IO, configOf: stackConfigOf, api: (c) => proxmoxDrillApi(c) }));
}
