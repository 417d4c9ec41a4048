import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { backupVmids } from "../../config/backups";
import type { HostStackParsed } from "../../config/hostSchema";
import type { HostConfig, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { BackupJob } from "../ops/backupJob";
import { GpuPassthrough } from "./gpuPassthrough";
import { EnvironmentAccess } from "../access/environmentAccess";
import { environmentPool } from "../access/privileges";
import { EnvironmentNetwork } from "./network";
import { ZfsMirror } from "./zfsMirror";

export interface EnvironmentShareArgs {
    /** the environment's validated stack file */
    readonly config: StackConfig;
    /** its file name, for messages */
    readonly file: string;
    readonly hosts: readonly HostConfig[];
    readonly backup: HostStackParsed["backup"];
    /** the shared image datastore (host file images.datastore): the token may read it */
    readonly imageDatastore: string;
    readonly access: HostStackParsed["access"];
    /** the vzdump hook the backup job names, and its installs on the nodes */
    readonly backupHook?: { readonly path: string; readonly installs: readonly pulumi.Resource[] };
}

/**
 * What the box keeps for one environment, owned by the host stack: its NVMe mirror, its
 * GPU mapping, its VLAN and bridge, its resource pool and its backup job. The environment
 * stack uses them by the names in its own file and cannot change them.
 *
 * And the environment's own credentials: its API user, roles and privilege-separated
 * token scoped to exactly these objects (EnvironmentAccess), and the tune key whose
 * public half root's authorized_keys restricts to the tune script (installed by the Box).
 */
export class EnvironmentShare extends pulumi.ComponentResource {
    public readonly storage: ZfsMirror;
    public readonly gpu: GpuPassthrough;
    public readonly network: EnvironmentNetwork;
    public readonly pool: proxmoxve.PoolLegacy;
    public readonly backup: BackupJob;
    public readonly access: EnvironmentAccess;
    /** the environment's forced-command key; the private half is the env stack's vmTuneKey */
    public readonly tuneKey: tls.PrivateKey;

    constructor(name: string, args: EnvironmentShareArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "EnvironmentShare"), name, {}, opts);
        const { config } = args;
        const env = config.environment;
        const child = { parent: this };

        this.storage = new ZfsMirror(`${name}-storage`, {
            node: config.storage.node,
            pool: config.storage.pool,
            devices: config.storage.devices,
            ashift: config.storage.ashift,
            compression: config.storage.compression,
        }, child);

        this.gpu = new GpuPassthrough(`${name}-gpu`, { environment: env, gpu: config.gpu, configFile: args.file }, child);

        this.network = new EnvironmentNetwork(`${name}-net`, { environment: env, hosts: args.hosts, network: config.network }, child);

        this.pool = new proxmoxve.PoolLegacy(`${name}-pool`, {
            poolId: environmentPool(env),
            comment: `ai-dualstack ${env}: its guests and its storage`,
        }, child);
        const storageMember = new proxmoxve.pool.MembershipLegacy(`${name}-pool-storage`, {
            poolId: this.pool.poolId,
            storageId: this.storage.storageId,
        }, child);

        // Its token reaches exactly its pool, storage, bridge and mapping (and reads the shared
        // images): the ACLs go on once those exist.
        this.access = new EnvironmentAccess(`${name}-access`, {
            environment: env,
            scope: {
                pool: environmentPool(env),
                storage: config.storage.pool,
                imageDatastore: args.imageDatastore,
                bridge: config.network.bridge,
                gpuMapping: config.gpu.mappingName,
            },
            pveMajor: args.access.pveMajor,
            auditToken: args.access.auditTokens,
        }, { parent: this, dependsOn: [this.pool, storageMember, this.gpu, this.network] });

        // Generated where Pulumi runs and kept (encrypted) in the host stack's state: a new
        // key is `pulumi up --replace` of this resource, and the installs follow it.
        this.tuneKey = new tls.PrivateKey(`${name}-tune-key`, { algorithm: "ED25519" }, { parent: this });

        // Never the data holder: its disk is backed up through the AI VM that uses it.
        this.backup = new BackupJob(`${name}-backup`, {
            environment: env,
            backup: args.backup,
            vmids: backupVmids(config),
            hookScript: args.backupHook?.path,
            hookInstalls: args.backupHook?.installs,
        }, child);

        this.registerOutputs({
            pool: environmentPool(env),
            storage: config.storage.pool,
            gpuMapping: config.gpu.mappingName,
            bridge: config.network.bridge,
        });
    }
}
