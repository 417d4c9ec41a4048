import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerConfig, EnvironmentName, StackConfig } from "../../config/schema";
import { roleProfile } from "../catalog";
import { typeToken } from "../naming";
import { GUEST_TIMEOUTS, ignoredPaths } from "../quirks";
import { prefixLength } from "./aiVm";

export interface ServiceContainerArgs {
    readonly environment: EnvironmentName;
    readonly container: ContainerConfig;
    readonly network: StackConfig["network"];
    /** the Debian template on this container's node */
    readonly template: pulumi.Input<string>;
    /** the environment's ZFS storage id: an Output, so the container waits for the pool */
    readonly storageId: pulumi.Input<string>;
    /** the environment's bridge on this container's node */
    readonly bridge: pulumi.Input<string>;
    /** root's SSH keys: the AI VM user's keys */
    readonly sshPublicKeys: readonly string[];
    /** the environment's resource pool (host stack): its ACL is what lets the env's token manage the container */
    readonly pool: string;
}

/**
 * One service LXC of an environment (database, cache, security, CI/CD, monitoring,
 * backup): unprivileged, static IP on the environment's bridge, root disk and a separate
 * data mount point on the environment's pool.
 *
 * Proxmox keeps a mount point's volume inside its container, so the container itself is
 * the unit of data protection: protected in Pulumi and in Proxmox, retained on delete.
 */
export class ServiceContainer extends pulumi.ComponentResource {
    public readonly container: proxmoxve.ContainerLegacy;

    constructor(name: string, args: ServiceContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("compute", "ServiceContainer"), name, {}, opts);
        const { container: ct, environment: env } = args;
        const profile = roleProfile(ct.role, env);

        this.container = new proxmoxve.ContainerLegacy(`${name}-ct`, {
            nodeName: ct.node,
            vmId: ct.vmid,
            poolId: args.pool,
            description: `ai-dualstack ${env}: ${profile.description}`,
            tags: ["ai-dualstack", env, ct.role],
            unprivileged: true,
            // Nesting only for containers that run containers themselves (the CI runner).
            features: { nesting: ct.nesting },
            operatingSystem: { templateFileId: args.template, type: "debian" },
            cpu: { cores: ct.cores },
            memory: { dedicated: ct.memoryMiB, swap: Math.min(ct.memoryMiB, 1024) },
            // An explicit disk block: without it the container is replaced on every up.
            disk: { datastoreId: args.storageId, size: ct.rootDiskGiB },
            mountPoints: [{
                volume: args.storageId,
                size: `${ct.dataDiskGiB}G`,
                path: ct.dataMountPath,
                backup: true,
            }],
            networkInterfaces: [{ name: "eth0", bridge: args.bridge, firewall: true }],
            initialization: {
                hostname: ct.name,
                ipConfigs: [{ ipv4: { address: `${ct.ip}/${prefixLength(args.network.subnet)}`, gateway: args.network.gateway } }],
                dns: { servers: [...args.network.dns] },
                userAccount: { keys: [...args.sshPublicKeys] },
            },
            startOnBoot: true,
            started: true,
            startup: { order: ct.startupOrder, upDelay: 10 },
            protection: true,
            timeoutCreate: GUEST_TIMEOUTS.create,
        }, {
            parent: this,
            protect: true,
            retainOnDelete: true,
            deleteBeforeReplace: true,
            ignoreChanges: ignoredPaths("containerDisk", "containerUserAccount", "containerPool"),
        });

        this.registerOutputs({ vmId: ct.vmid, ip: ct.ip, role: ct.role });
    }
}
