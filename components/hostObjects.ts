/**
 * An environment stack's preflight: the host stack's objects it uses must exist, or the
 * run stops with one line saying to run the host stack first (instead of a guest failing
 * half-way with a storage or mapping error from Proxmox).
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { environmentPool } from "./access/privileges";

/** What is missing, in the user's words; empty when everything is there. */
export async function missingHostObjects(config: StackConfig, opts: pulumi.InvokeOptions): Promise<string[]> {
    const env = config.environment;
    const exists = (p: Promise<unknown>) => p.then(() => true, () => false);
    const [pool, mapping, storage] = await Promise.all([
        exists(proxmoxve.getPoolLegacy({ poolId: environmentPool(env) }, opts)),
        exists(proxmoxve.hardware.mapping.getPci({ name: config.gpu.mappingName }, opts)),
        proxmoxve.getDatastores({ nodeName: config.storage.node, filters: { id: config.storage.pool } }, opts)
            .then((r) => (r.datastores ?? []).some((d) => d.id === config.storage.pool), () => false),
    ]);
    return [
        ...(pool ? [] : [`resource pool ${environmentPool(env)}`]),
        ...(mapping ? [] : [`PCI mapping ${config.gpu.mappingName}`]),
        ...(storage ? [] : [`storage ${config.storage.pool} on node ${config.storage.node}`]),
    ];
}

/** The host stack has not built what this environment uses yet. */
export class HostStackMissingError extends pulumi.RunError {
    constructor(public readonly environment: string, public readonly missing: readonly string[]) {
        super(`run the host stack first (pulumi up --stack host): the ${environment} environment needs ${missing.join(", ")}, which do not exist yet`);
        this.name = "HostStackMissingError";
    }
}
