import * as pulumi from "@pulumi/pulumi";
import type { Secrets } from "../config/load";
import type { StackConfig } from "../config/schema";
import { environmentPool } from "./access/privileges";
import { clusterCaCommand, containerKeyctlCommand, vmTuneCommand } from "./access/vmTune";
import { AiVm } from "./compute/aiVm";
import { needsKeyctl, ServiceContainer } from "./compute/serviceContainer";
import { imageFileIds } from "./host/names";
import { missingHostObjects } from "./hostObjects";
import { typeToken } from "./naming";
import { GuestFirewall } from "./ops/guestFirewall";
import { proxmoxProvider } from "./provider";
import { AiVmProvisioning } from "./provision/aiVmProvisioning";
import { ServiceProvisioning } from "./provision/serviceProvisioning";
import { monitoringHost, otherEnvironmentTargets } from "./services/monitoringTargets";
import { AiServices, generateSecrets } from "./workloads/aiServices";
import { environmentWorkloads } from "./workloads/catalog";
import { dataDirs, proxyRoutes, serviceUsers, withConnections, workloadFirewallPorts } from "./workloads/model";
import type { EnvironmentOutputs } from "./outputs";

export interface EnvironmentArgs {
    readonly config: StackConfig;
    readonly secrets: Secrets;
    /**
     * the other environments' validated stack files (config/load.ts otherEnvironmentsOf): the
     * private monitoring container scrapes their exporters, and their monitoring container's
     * address is the one source this environment's exporter ports admit
     */
    readonly otherEnvironments?: readonly StackConfig[];
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
    public readonly provisioning: AiVmProvisioning;
    public readonly ai: AiServices;
    public readonly containers: readonly ServiceContainer[];
    public readonly services: ServiceProvisioning;
    /**
     * The host objects this environment uses that do not exist (empty when the host stack
     * has run). The program awaits it and stops with one line; until it is empty no guest
     * is created, since their storage waits on it.
     */
    public readonly preflight: Promise<string[]>;
    /** stack outputs: what a user needs to find this environment's parts */
    public readonly summary: EnvironmentOutputs;

    constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("env", "Environment"), name, {}, opts);
        const { config, secrets } = args;
        const others = args.otherEnvironments ?? [];
        // The one monitoring container (private): exporters everywhere answer only its address.
        const monitoring = monitoringHost(config, others);
        const monitoringCt = config.containers.find((ct) => ct.role === "monitoring");
        const env = config.environment;

        const provider = proxmoxProvider(`${name}-proxmox`, config, secrets, { parent: this });
        const child: pulumi.ComponentResourceOptions = { parent: this, providers: [provider] };

        this.preflight = missingHostObjects(config, { parent: this, provider });
        // Every guest's disks go to the pool: with the host objects missing, nothing is created.
        const storageId = pulumi.output(this.preflight.then((missing) => (missing.length > 0 ? new Promise<string>(() => undefined) : config.storage.pool)));
        const images = imageFileIds(config.images);
        // The host stack's pool for this environment: its ACL is what the env's token holds.
        const poolId = environmentPool(env);

        // Guests wait only for the preflight and never for each other, so Proxmox creates
        // them in parallel.
        this.aiVm = new AiVm(`${name}-ai`, {
            environment: env,
            vm: config.aiVm,
            network: config.network,
            imageFileId: images.cloudImage,
            storageId,
            bridge: config.network.bridge,
            gpuMapping: config.gpu.mappingName,
            pool: poolId,
        }, child);
        // Hugepages, CPU affinity and boot order: through the env's forced-command tune key,
        // which also starts the VM (created stopped) once they are set.
        const tune = vmTuneCommand(`${name}-ai-tune`, {
            vm: config.aiVm,
            node: nodeOf(config, config.aiVm.node),
            sshPort: config.proxmox.sshPort,
            tuneKey: secrets.vmTuneKey,
            vmResource: this.aiVm.vm,
        }, { parent: this });

        // The AI layer: provisioning over SSH, then the workloads on the VM's Docker engine.
        const aiSecrets = generateSecrets(`${name}-ai`, config, this);
        const workloads = environmentWorkloads(config, aiSecrets);
        this.provisioning = new AiVmProvisioning(`${name}-ai-provision`, {
            vm: config.aiVm,
            gpu: config.gpu,
            guest: this.aiVm.vm,
            privateKey: secrets.sshPrivateKey,
            // The data-disk step creates exactly the directories the workloads mount.
            dataDirs: dataDirs(workloads),
            // The VM runs only once the tune step has set its hugepages and started it.
            after: [tune],
        }, { parent: this });

        this.containers = config.containers.map((ct) => new ServiceContainer(ct.name, {
            environment: env,
            container: ct,
            network: config.network,
            template: images.lxcTemplate,
            storageId,
            bridge: config.network.bridge,
            sshPublicKeys: config.aiVm.sshPublicKeys,
            pool: poolId,
        }, child));

        // keyctl (Docker in the CI container) is root@pam's: through the tune key, like the AI VM's options.
        const containerSetup = Object.fromEntries(config.containers.flatMap((ct, i) => needsKeyctl(ct.role)
            ? [[ct.name, containerKeyctlCommand(`${ct.name}-keyctl`, {
                vmid: ct.vmid,
                node: nodeOf(config, ct.node),
                sshPort: config.proxmox.sshPort,
                tuneKey: secrets.vmTuneKey,
                containerResource: this.containers[i].container,
            }, { parent: this })]]
            : []));

        // The cluster CA for the monitoring container's pve exporter: read through the tune
        // key from the node the monitoring container runs on (its host key pinned).
        const clusterCa = monitoringCt !== undefined
            ? clusterCaCommand(`${name}-cluster-ca`, { node: nodeOf(config, monitoringCt.node), sshPort: config.proxmox.sshPort, tuneKey: secrets.vmTuneKey }, { parent: this })
            : undefined;

        this.services = new ServiceProvisioning(`${name}-services`, {
            config,
            guests: this.containers.map((c) => c.container),
            containerSetup,
            sshPrivateKey: secrets.sshPrivateKey,
            // The app lists and the proxy's routes come from the workload model, not config lists.
            apps: serviceUsers(workloads),
            proxyRoutes: proxyRoutes(workloads, config.aiVm.ip),
            runnerToken: secrets.githubRunnerToken,
            pveAuditToken: secrets.pveAuditToken,
            ...(clusterCa !== undefined ? { clusterCa: clusterCa.stdout } : {}),
            // The monitoring container here also scrapes the other environments' exporters.
            ...(monitoringCt !== undefined && others.length > 0 ? { otherEnvironmentTargets: others.map(otherEnvironmentTargets) } : {}),
        }, { parent: this });

        this.ai = new AiServices(`${name}-ai-services`, {
            config,
            // Each app that uses PostgreSQL or Redis gets its own environment's connection string.
            workloads: withConnections(workloads, { postgres: this.services.postgresUrls, redis: this.services.redisUrls }),
            secrets: aiSecrets,
            provisioning: this.provisioning,
            privateKey: secrets.sshPrivateKey,
        }, { parent: this });

        // Named from the guest, like the containers' firewalls: guest names are unique, the
        // environment's name is not (a container called `<env>-ai` would collide).
        new GuestFirewall(`${config.aiVm.name}-firewall`, {
            environment: env,
            node: config.aiVm.node,
            target: { kind: "vm", vmId: config.aiVm.vmid },
            // Exactly the ports the workloads publish, from their declarations: rules of this
            // stack (an app added here needs no host-stack run); SSH and egress are the host's groups.
            guestKind: { kind: "ai", ports: workloadFirewallPorts(this.ai.workloads) },
            ip: config.aiVm.ip,
            ...(monitoring !== undefined ? { monitoringSource: monitoring.ip } : {}),
            guest: this.aiVm.vm,
        }, child);
        config.containers.forEach((ct, i) => new GuestFirewall(`${ct.name}-firewall`, {
            environment: env,
            node: ct.node,
            target: { kind: "container", containerId: ct.vmid },
            guestKind: { kind: "container", role: ct.role },
            ip: ct.ip,
            ...(monitoring !== undefined ? { monitoringSource: monitoring.ip } : {}),
            guest: this.containers[i].container,
        }, child));


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
            ...aiOutputs(this.ai),
            // The guests' pinned SSH host keys, for `npm run verify`'s probes over SSH.
            sshHostKeys: { [config.aiVm.name]: this.provisioning.hostKey, ...this.services.hostKeys },
            // secrets: shown as [secret], read with `pulumi stack output --show-secrets`
            postgresUrls: this.services.postgresUrls,
            redisUrls: this.services.redisUrls,
            // the same strings as lists, the shape `npm run verify` reads (tools/lib/verifyTargets.ts)
            postgres: connectionList(this.services.postgresUrls),
            redis: connectionList(this.services.redisUrls),
            ...(this.services.vpnPublicKey ? { vpnPublicKey: this.services.vpnPublicKey, vpnPeers: this.services.vpnPeers } : {}),
            ...(this.services.grafanaAdminPassword ? { grafanaAdminPassword: this.services.grafanaAdminPassword } : {}),
        };
        this.registerOutputs(this.summary);
    }
}

function nodeOf(config: StackConfig, name: string): StackConfig["hosts"][number] {
    const node = config.hosts.find((h) => h.name === name);
    if (node === undefined) {
        throw new Error(`node ${name} is not in ai-dualstack:hosts`);
    }
    return node;
}

/** `{ app: url }` -> `[{ app, connectionString }]`, the whole list a secret. */
function connectionList(urls: Readonly<Record<string, pulumi.Output<string>>>): pulumi.Output<{ app: string; connectionString: string }[]> {
    return pulumi.secret(pulumi.all(urls).apply((byApp) => Object.entries(byApp).map(([app, connectionString]) => ({ app, connectionString }))));
}

/** Stack outputs of the AI layer (`npm run verify` reads them); secrets stay secret. */
function aiOutputs(ai: AiServices) {
    const o = ai.outputs;
    return {
        ollama: o.ollama,
        vectorStore: o.vectorStore,
        workloads: o.workloads,
        ...(o.workbench !== undefined ? { workbench: o.workbench } : {}),
        dockerHost: o.dockerHost,
    };
}
