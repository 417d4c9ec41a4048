/**
 * Each environment's identity for the isolation policy, read from the project's stack
 * files (Pulumi.<stack>.yaml), so the facts live in one place. Policy config can override.
 * It reads the YAML itself rather than through tools/lib/stackFile, which would load the
 * Pulumi SDK into the policy pack's process.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { backupVmids } from "../config/backups";
import type { BackupJobSpec } from "./rules/data";
import type { EnvironmentIdentity } from "./rules/isolation";
import { isRecord } from "./rules/model";

const PROJECT_DIR = path.resolve(__dirname, "..");

export function stackIdentities(dir: string = PROJECT_DIR): EnvironmentIdentity[] {
    const files = fs.readdirSync(dir).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f)).sort();
    const identities: EnvironmentIdentity[] = [];
    for (const file of files) {
        const doc: unknown = parse(fs.readFileSync(path.join(dir, file), "utf8"));
        const config = isRecord(doc) && isRecord(doc.config) ? doc.config : {};
        const at = (key: string): Record<string, unknown> => {
            const v = config[`ai-dualstack:${key}`];
            return isRecord(v) ? v : {};
        };
        const environment = config["ai-dualstack:environment"];
        const { pool } = at("storage");
        const { mappingName } = at("gpu");
        const { bridge, vlanId, subnet } = at("network");
        const { start, end } = at("vmidRange");
        const containers = config["ai-dualstack:containers"];
        const monitoring = (Array.isArray(containers) ? containers : []).filter(isRecord).find((ct) => ct.role === "monitoring");
        if (typeof environment === "string" && typeof pool === "string" && typeof mappingName === "string" && typeof bridge === "string"
            && typeof vlanId === "number" && typeof subnet === "string" && typeof start === "number" && typeof end === "number") {
            identities.push({
                environment, pool, gpuMapping: mappingName, bridge, vlanId, subnet, vmidStart: start, vmidEnd: end,
                ...(monitoring !== undefined && typeof monitoring.ip === "string" ? { monitoringSource: monitoring.ip } : {}),
            });
        }
    }
    return identities;
}

/**
 * The backup job the host stack creates for each environment (host stack file reads the
 * environment files; the VMIDs come from the same function), for backup-coverage in the
 * environment stacks, whose graphs do not hold the job.
 */
export function stackBackupJobs(dir: string = PROJECT_DIR): BackupJobSpec[] {
    const files = fs.readdirSync(dir).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f)).sort();
    const jobs: BackupJobSpec[] = [];
    for (const file of files) {
        const doc: unknown = parse(fs.readFileSync(path.join(dir, file), "utf8"));
        const config = isRecord(doc) && isRecord(doc.config) ? doc.config : {};
        const environment = config["ai-dualstack:environment"];
        const aiVm = config["ai-dualstack:aiVm"];
        const containers = config["ai-dualstack:containers"];
        if ((environment === "private" || environment === "public") && isRecord(aiVm) && typeof aiVm.vmid === "number") {
            const cts = (Array.isArray(containers) ? containers : []).filter(isRecord).filter((c) => typeof c.vmid === "number").map((c) => ({ vmid: Number(c.vmid) }));
            jobs.push({ environment, vmids: backupVmids({ aiVm: { vmid: aiVm.vmid }, containers: cts }) });
        }
    }
    return jobs;
}
