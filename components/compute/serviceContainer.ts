import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerConfig, ContainerRole, EnvironmentName, StackConfig } from "../../config/schema";
import { roleProfile } from "../catalog";
import { typeToken } from "../naming";
import { GUEST_TIMEOUTS, quirkOptions } from "../quirks";
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
            features: containerFeatures(),
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
            ...quirkOptions("fixedVmid", "containerDisk", "containerUserAccount", "containerPool", "containerRootOnlyFeatures"),
        });

        this.registerOutputs({ vmId: ct.vmid, ip: ct.ip, role: ct.role });
    }
}

/**
 * LXC feature flags of a service container from the Debian 12 template.
 *
 * - nesting, always: Debian 12 runs systemd 252, and its services' sandboxing (PrivateTmp,
 *   ProtectSystem, ...) needs it in an unprivileged container. pve-container warns
 *   "Systemd $sdver detected. You may need to enable nesting." for any systemd newer than
 *   241 without nesting (src/PVE/LXC/Setup/Base.pm, check_systemd_nesting); with nesting it
 *   sets lxc.apparmor.allow_nesting (src/PVE/LXC.pm, make_apparmor_config).
 * - keyctl, only for the CI/CD container: "required to use docker inside a container"
 *   (src/PVE/LXC/Config.pm, the keyctl feature's description). Proxmox lets only root@pam
 *   set flags other than nesting (src/PVE/LXC.pm, check_ct_modify_config_perm), so it is
 *   not sent here: the tune key turns it on (quirk containerRootOnlyFeatures).
 */
function containerFeatures(): { nesting: boolean } {
    return { nesting: true };
}

/** Whether a container of the role needs keyctl (set through the tune key, not the resource). */
export function needsKeyctl(role: ContainerRole): boolean {
    return role === "cicd";
}
