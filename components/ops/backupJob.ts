import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";

export interface BackupJobArgs {
    readonly environment: EnvironmentName;
    readonly backup: StackConfig["backup"];
    /** the stateful guests to back up */
    readonly vmids: readonly number[];
    /** the guests must exist before the job names them */
    readonly guests: readonly pulumi.Resource[];
}

/**
 * The environment's scheduled vzdump job over its stateful guests (the AI VM's data
 * holder and every service container), with retention. Restores are drilled with
 * `docs/restore-drill.md`.
 */
export class BackupJob extends pulumi.ComponentResource {
    public readonly job: proxmoxve.backup.Job;

    constructor(name: string, args: BackupJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("ops", "BackupJob"), name, {}, opts);
        const { backup } = args;
        this.job = new proxmoxve.backup.Job(`${name}-job`, {
            resourceId: `ai-dualstack-${args.environment}`,
            enabled: true,
            schedule: backup.schedule,
            storage: backup.storage,
            vmids: [...args.vmids].sort((a, b) => a - b).map(String),
            mode: backup.mode,
            compress: "zstd",
            pruneBackups: {
                "keep-daily": String(backup.keepDaily),
                "keep-weekly": String(backup.keepWeekly),
                "keep-monthly": String(backup.keepMonthly),
            },
            notesTemplate: `ai-dualstack ${args.environment} {{guestname}}`,
        }, { parent: this, dependsOn: [...args.guests] });
        this.registerOutputs({ vmids: args.vmids });
    }
}
