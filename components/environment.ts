import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { Secrets } from "../config/load";
import type { StackConfig } from "../config/schema";
import { AiVm } from "./compute/aiVm";
import type { AiServices } from "./compute/cloudInit";
import { ServiceContainer } from "./compute/serviceContainer";
import { imageFileIds, resourcePoolId } from "./host/names";
import { missingHostObjects } from "./hostObjects";
import { typeToken } from "./naming";
import { GuestFirewall } from "./ops/guestFirewall";
import { proxmoxProvider } from "./provider";

export interface EnvironmentArgs {
    readonly config: StackConfig;
    readonly secrets: Secrets;
}

/**
 * One environment (private or public) on the Proxmox box: its guests, their firewalls and
 * what runs in them. What the box shares (the pool, the GPU mapping, the bridge, the
 * images, the cluster firewall and its security groups, the backup job) is the host
 * stack's; this stack uses it by the names in its own config. Children are named from
 * the environment's name, so the two stacks never share a resource name.
 */
export class Environment extends pulumi.ComponentResource {
    public readonly aiVm: AiVm;
    public readonly containers: readonly ServiceContainer[];
    /**
     * The host objects this environment uses that do not exist (empty when the host stack
     * has run). The program awaits it and stops with one line; until it is empty no guest
     * is created, since their storage waits on it.
     */
    public readonly preflight: Promise<string[]>;
    /** stack outputs: what a user needs to find this environment's parts */
    public readonly summary: Record<string, pulumi.Input<unknown>>;

    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("env", "Environment"), name, {}, opts);
        const { config, secrets } = args;
        const env = config.environment;

        const provider = proxmoxProvider(`${name}-proxmox`, config, secrets, { parent: this });
        const child: pulumi.ComponentResourceOptions = { parent: this, providers: [provider] };

        this.preflight = missingHostObjects(config, { parent: this, provider });
        // Every guest's disks go to the pool: with the host objects missing, nothing is created.
        const storageId = pulumi.output(this.preflight.then((missing) => (missing.length > 0 ? new Promise<string>(() => undefined) : config.storage.pool)));
        const images = imageFileIds(config.images);
        const poolId = resourcePoolId(env);

        // Guests wait only for the preflight and never for each other, so Proxmox creates
        // them in parallel.
        this.aiVm = new AiVm(`${name}-ai`, {
            environment: env,
            vm: config.aiVm,
            services: aiServices(config),
            network: config.network,
            imageFileId: images.cloudImage,
            snippetDatastore: config.storage.snippetDatastore,
            storageId,
            bridge: config.network.bridge,
            gpuMapping: config.gpu.mappingName,
        }, child);

        this.containers = config.containers.map((ct) => new ServiceContainer(ct.name, {
            environment: env,
            container: ct,
            network: config.network,
            template: images.lxcTemplate,
            storageId,
            bridge: config.network.bridge,
            sshPublicKeys: config.aiVm.sshPublicKeys,
        }, child));

        new GuestFirewall(`${name}-ai-firewall`, {
            environment: env,
            node: config.aiVm.node,
            vmId: config.aiVm.vmid,
            guestKind: { kind: "ai" },
            ip: config.aiVm.ip,
            guest: this.aiVm.vm,
        }, child);
        config.containers.forEach((ct, i) => new GuestFirewall(`${ct.name}-firewall`, {
            environment: env,
            node: ct.node,
            containerId: ct.vmid,
            guestKind: { kind: "container", role: ct.role },
            ip: ct.ip,
            guest: this.containers[i].container,
        }, child));

        // Pool membership as its own resource: a container's pool_id forces a replacement
        // (QUIRKS.containerPoolId in quirks.ts), and a protected container cannot be replaced.
        const member = (memberName: string, vmId: number, guest: pulumi.Resource) =>
            new proxmoxve.pool.MembershipLegacy(memberName, { poolId, vmId }, { parent: this, provider, dependsOn: [guest] });
        member(`${name}-ai-vm-pool`, config.aiVm.vmid, this.aiVm.vm);
        member(`${name}-ai-data-pool`, config.aiVm.dataVmid, this.aiVm.dataHolder);
        config.containers.forEach((ct, i) => member(`${ct.name}-pool`, ct.vmid, this.containers[i].container));

        this.summary = {
            environment: env,
            pool: poolId,
            gpuMapping: config.gpu.mappingName,
            zfsPool: config.storage.pool,
            bridge: config.network.bridge,
            vlanId: config.network.vlanId,
            subnet: config.network.subnet,
            vmidRange: `${config.vmidRange.start}-${config.vmidRange.end}`,
            aiVm: { name: config.aiVm.name, vmid: config.aiVm.vmid, ip: config.aiVm.ip, dataVmid: config.aiVm.dataVmid },
            containers: config.containers.map((ct) => ({ name: ct.name, role: ct.role, vmid: ct.vmid, ip: ct.ip })),
            models: config.models.map((m) => m.name),
        };
        this.registerOutputs(this.summary);
    }
}

/** What the environment's AI VM serves, from its config. */
function aiServices(config: StackConfig): AiServices {
    return {
        environment: config.environment,
        gpuModel: config.gpu.model,
        vramGiB: config.gpu.vramGiB,
        models: config.models,
        ollamaImage: config.workloads.ollamaImage,
        vectorStore: config.workloads.vectorStore,
        vectorStoreImage: config.workloads.vectorStoreImage,
        kvCacheType: config.workloads.kvCacheType,
        keepAlive: config.workloads.keepAlive,
    };
}
