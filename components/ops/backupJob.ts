import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { HostStackParsed } from "../../config/hostSchema";
import type { EnvironmentName } from "../../config/schema";
import { backupJobId } from "../host/names";
import { typeToken } from "../naming";

export interface BackupJobArgs {
    readonly environment: EnvironmentName;
    /** the box's backup target and retention (host file `backup`) */
    readonly backup: HostStackParsed["backup"];
    /** the guests to back up: the AI VM and the containers, never a data holder */
    readonly vmids: readonly number[];
    /**
     * the vzdump hook on every node (components/host/scripts/vzdump-metrics.sh), which
     * writes the backup metrics; setting `script` is root@pam's alone (pve-manager
     * PVE/API2/Backup.pm $assert_param_permission: tmpdir, dumpdir, script), which the host
     * stack logs in as
     */
    readonly hookScript?: string;
    /** what must exist before the job may name the hook (its installs on every node) */
    readonly hookInstalls?: readonly pulumi.Resource[];
}

/**
 * An environment's scheduled vzdump job, in snapshot mode.
 *
 * What it covers, and why (qemu-server PVE/QemuConfig.pm get_backup_volumes and
 * PVE/VZDump/QemuServer.pm): vzdump includes every disk of a guest unless that disk says
 * `backup=0`. The AI VM is listed with its OS disk off and its attached data disk on, so
 * the data is read through the running VM, consistent after the guest agent's fs-freeze
 * (snapshot mode, `agent` enabled). The never-started holder VM that owns the data disk is
 * not listed: backing it up would start a paused QEMU on a disk the running VM writes.
 * Containers are listed with their data mount points (`backup=1`).
 *
 * The job may name VMIDs whose guests the environment stack has not created yet: Proxmox
 * accepts them and lists them as not found in the job's included volumes
 * (pve-manager PVE/API2/Backup.pm).
 */
export class BackupJob extends pulumi.ComponentResource {
    public readonly job: proxmoxve.backup.Job;

    constructor(name: string, args: BackupJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("ops", "BackupJob"), name, {}, opts);
        const { backup } = args;
        this.job = new proxmoxve.backup.Job(`${name}-job`, {
            resourceId: backupJobId(args.environment),
            enabled: true,
            schedule: backup.schedule,
            storage: backup.storage,
            vmids: [...args.vmids].sort((a, b) => a - b).map(String),
            mode: "snapshot",
            compress: "zstd",
            pruneBackups: {
                "keep-daily": String(backup.keepDaily),
                "keep-weekly": String(backup.keepWeekly),
                "keep-monthly": String(backup.keepMonthly),
            },
            notesTemplate: `ai-dualstack ${args.environment} {{guestname}}`,
            ...(args.hookScript !== undefined ? { script: args.hookScript } : {}),
        }, { parent: this, dependsOn: [...(args.hookInstalls ?? [])] });
        this.registerOutputs({ vmids: args.vmids });
    }
}
