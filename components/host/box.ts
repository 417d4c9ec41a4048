import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { backupVmids } from "../../config/backups";
import type { HostSecrets, HostStackConfig } from "../../config/load";
import { typeToken } from "../naming";
import { proxmoxProvider } from "../provider";
import { sshConnection } from "../remote";
import { ClusterFirewall } from "./clusterFirewall";
import { EnvironmentShare } from "./environmentShare";
import { hostPreparation, nodeMonitoring, VZDUMP_HOOK_PATH } from "./hostPrep";
import { SharedImages } from "./images";
import { imageFileIds } from "./names";
import { MonitoringAccess } from "../access/monitoringAccess";
import { environmentPool } from "../access/privileges";
import { tuneKeysInstall, tuneNodeInstall } from "../access/vmTune";
import type { HostOutputs } from "../outputs";

export interface BoxArgs {
    readonly config: HostStackConfig;
    readonly secrets: HostSecrets;
}

/**
 * The box: everything both environments share or only root may change, built by the host
 * stack. Per node one host preparation; the cluster firewall; the shared images; and per
 * environment its share (mirror, GPU mapping, network, pool, backup job).
 */
export class Box extends pulumi.ComponentResource {
    public readonly environments: ReadonlyMap<string, EnvironmentShare>;
    public readonly firewall: ClusterFirewall;
    public readonly preparation: ReadonlyMap<string, command.remote.Command>;
    /** stack outputs */
    public readonly summary: HostOutputs;

    constructor(name: string, args: BoxArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "Box"), name, {}, opts);
        const { config, secrets } = args;
        const { box } = config;
        const envs = config.environments.map((e) => e.config);

        const provider = proxmoxProvider(`${name}-proxmox`, { proxmox: box.proxmox, hosts: box.hosts }, secrets, { parent: this });
        const child: pulumi.ComponentResourceOptions = { parent: this, providers: [provider] };

        // One writer per node: both environments' IOMMU, vfio and hugepages in one run.
        const addressOf = new Map(box.hosts.map((h) => [h.name, h.address]));
        const hostKeyOf = new Map(box.hosts.map((h) => [h.name, h.sshHostKey]));
        const preparation = new Map<string, command.remote.Command>();
        for (const prep of hostPreparation(box.hosts, envs, box.proxmox.sshUser !== "root")) {
            preparation.set(prep.node, new command.remote.Command(`${name}-prep-${prep.node}`, {
                connection: sshConnection({
                    host: addressOf.get(prep.node) ?? prep.node,
                    port: box.proxmox.sshPort,
                    user: box.proxmox.sshUser,
                    privateKey: secrets.sshPrivateKey,
                    // The node's pinned host key; a different key is refused.
                    hostKey: hostKeyOf.get(prep.node),
                }),
                create: prep.create,
                // A changed state re-runs apply, which converges to it (the script is idempotent);
                // revert only when the node leaves the stack.
                update: prep.create,
                delete: prep.delete,
            }, { parent: this }));
        }
        this.preparation = preparation;

        // Per node: the node exporter the monitoring container scrapes (job proxmox-node), the
        // vzdump hook that writes the backup metrics for it, and the node firewall rule that
        // admits the monitoring container (the private one: Pulumi.private.yaml) to 9100.
        const monitoringIp = envs.flatMap((e) => e.containers).find((ct) => ct.role === "monitoring")?.ip;
        const monitoringInstalls = nodeMonitoring(box.hosts, monitoringIp, box.proxmox.sshUser !== "root").map((m) => new command.remote.Command(`${name}-monitoring-${m.node}`, {
            connection: sshConnection({
                host: addressOf.get(m.node) ?? m.node,
                port: box.proxmox.sshPort,
                user: box.proxmox.sshUser,
                privateKey: secrets.sshPrivateKey,
                hostKey: hostKeyOf.get(m.node),
            }),
            create: m.create,
            // A changed hook or monitoring address converges in place; revert only when the node leaves.
            update: m.create,
            delete: m.delete,
        }, { parent: this }));

        // The read-only token prometheus-pve-exporter scrapes Proxmox with, when a monitoring container exists.
        const monitoringAccess = monitoringIp !== undefined ? new MonitoringAccess(`${name}-monitoring-access`, child) : undefined;

        new SharedImages(`${name}-images`, { hosts: box.hosts, images: box.images }, child);

        this.firewall = new ClusterFirewall(`${name}-firewall`, {
            hosts: box.hosts,
            adminSources: box.firewall.adminSources,
            logLevelIn: box.firewall.logLevelIn,
            environments: envs,
        }, child);

        const shares = new Map<string, EnvironmentShare>();
        for (const env of config.environments) {
            shares.set(env.environment, new EnvironmentShare(env.environment, {
                config: env.config,
                file: env.file,
                hosts: box.hosts,
                backup: box.backup,
                imageDatastore: box.images.datastore,
                access: box.access,
                backupHook: { path: VZDUMP_HOOK_PATH, installs: monitoringInstalls },
            }, child));
        }
        this.environments = shares;

        // The tune path: per node the script and both environments' limits; once for the
        // cluster the restricted key lines (root's authorized_keys is one file in /etc/pve).
        const sudo = box.proxmox.sshUser !== "root";
        const connectionTo = (node: string) => sshConnection({
            host: addressOf.get(node) ?? node,
            port: box.proxmox.sshPort,
            user: box.proxmox.sshUser,
            privateKey: secrets.sshPrivateKey,
            hostKey: hostKeyOf.get(node),
        });
        const nodeInstall = tuneNodeInstall(envs, sudo);
        const tuneInstalls = box.hosts.map((h) => new command.remote.Command(`${name}-tune-${h.name}`, {
            connection: connectionTo(h.name),
            create: nodeInstall.create,
            // A changed script or limit converges in place; revert only when the node leaves.
            update: nodeInstall.create,
            delete: nodeInstall.delete,
        }, { parent: this }));
        const keys = pulumi.all(config.environments.map((e) => (shares.get(e.environment) as EnvironmentShare).tuneKey.publicKeyOpenssh))
            .apply((publicKeys) => tuneKeysInstall(config.environments.map((e, i) => ({ environment: e.environment, publicKey: publicKeys[i] })), sudo));
        new command.remote.Command(`${name}-tune-keys`, {
            connection: connectionTo(box.hosts[0].name),
            create: keys.create,
            update: keys.create,
            delete: keys.delete,
        }, {
            parent: this,
            dependsOn: tuneInstalls,
            // One shared file: an old copy's revert must never run after the new one's apply.
            deleteBeforeReplace: true,
        });

        const files = imageFileIds(box.images);
        this.summary = {
            nodes: box.hosts.map((h) => h.name),
            hostPreparation: hostPreparation(box.hosts, envs, false).map((p) => `${p.node}: ${p.description}`),
            images: files,
            firewall: { enabled: true, ipSets: [...this.firewall.ipSets.keys()], securityGroups: [...this.firewall.groups.keys()] },
            environments: Object.fromEntries(config.environments.map((e) => [e.environment, {
                file: e.file,
                pool: environmentPool(e.environment),
                zfsPool: e.config.storage.pool,
                gpuMapping: e.config.gpu.mappingName,
                bridge: e.config.network.bridge,
                backupVmids: backupVmids(e.config),
                apiUser: (shares.get(e.environment) as EnvironmentShare).access.userId,
            }])),
            // What each environment stack sets as its secrets (README "Order of operations").
            ...Object.fromEntries(config.environments.flatMap((e): (readonly [string, pulumi.Output<string>])[] => {
                const share = shares.get(e.environment) as EnvironmentShare;
                return [
                    [`${e.environment}ApiToken`, pulumi.secret(share.access.apiToken)],
                    [`${e.environment}VmTuneKey`, pulumi.secret(share.tuneKey.privateKeyOpenssh)],
                    ...(share.access.auditApiToken !== undefined ? [[`${e.environment}AuditApiToken`, pulumi.secret(share.access.auditApiToken)] as const] : []),
                ];
            })),
            // The private stack's pveAuditToken (README "Order of operations").
            ...(monitoringAccess !== undefined ? { monitoringAuditToken: pulumi.secret(monitoringAccess.apiToken) } : {}),
        };
        this.registerOutputs(this.summary);
    }
}
