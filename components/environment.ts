import * as pulumi from "@pulumi/pulumi";
import type { Secrets } from "../config/load";
import type { StackConfig } from "../config/schema";
import { GpuPassthrough } from "./host/gpuPassthrough";
import { ProxmoxHost } from "./host/proxmoxHost";
import { ZfsMirror } from "./host/zfsMirror";
import { typeToken } from "./naming";
import { proxmoxProvider } from "./provider";

export interface EnvironmentArgs {
    readonly config: StackConfig;
    readonly secrets: Secrets;
}

/**
 * One environment (private or public) on the Proxmox box: everything a stack owns.
 * Children are named from the environment's name, so the two stacks never share a
 * resource name, a file on the host, or a Proxmox object.
 */
export class Environment extends pulumi.ComponentResource {
    public readonly host: ProxmoxHost;
    public readonly storage: ZfsMirror;
    public readonly gpu: GpuPassthrough;
    /** stack outputs: what a user needs to find this environment's parts */
    public readonly summary: Record<string, pulumi.Input<unknown>>;

    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("env", "Environment"), name, {}, opts);
        const { config, secrets } = args;
        const env = config.environment;

        const provider = proxmoxProvider(`${name}-proxmox`, config, secrets, { parent: this });
        const child: pulumi.ComponentResourceOptions = { parent: this, providers: [provider] };

        this.host = new ProxmoxHost(`${name}-host`, {
            environment: env,
            hosts: config.hosts,
            network: config.network,
            gpu: config.gpu,
            aiVm: config.aiVm,
            ssh: { user: config.proxmox.sshUser, port: config.proxmox.sshPort, privateKey: secrets.sshPrivateKey },
        }, child);

        this.storage = new ZfsMirror(`${name}-storage`, {
            node: config.storage.node,
            pool: config.storage.pool,
            devices: config.storage.devices,
            ashift: config.storage.ashift,
            compression: config.storage.compression,
        }, child);

        this.gpu = new GpuPassthrough(`${name}-gpu`, { environment: env, gpu: config.gpu }, child);

        this.summary = {
            environment: env,
            gpuMapping: this.gpu.mappingName,
            gpuNodes: this.gpu.nodes,
            zfsPool: this.storage.storageId,
            bridge: this.host.bridgeName,
            vlanId: config.network.vlanId,
            subnet: config.network.subnet,
            vmidRange: `${config.vmidRange.start}-${config.vmidRange.end}`,
        };
        this.registerOutputs(this.summary);
    }
}
