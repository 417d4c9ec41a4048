import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ContainerConfig, ContainerRole, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { pgHba, postgresConf, postgresConfDir, postgresExporterDefaults, postgresUrl } from "../services/postgres";
import { REDIS_DROPIN, REDIS_INCLUDE, redisConf, redisDropIn, redisExporterDefaults, redisUrl } from "../services/redis";
import { CADDY_READ_ONLY_DIRS, CADDYFILE, caddyCanWrite, caddyfile, ProxyRoute } from "../services/caddy";
import { RUNNER_UNIT, runnerUnit } from "../services/runner";
import * as fs from "fs";
import * as path from "path";
import {
    ALERTMANAGER_CONF, alertmanagerConfig, alertRules, alertRulesFile, EnvironmentTargets, GRAFANA_APT_KEY_FINGERPRINT, GRAFANA_DASHBOARD_DIR,
    GRAFANA_DASHBOARD_PROVIDER, GRAFANA_DATASOURCE, GRAFANA_DROPIN, GRAFANA_ENV_FILE, grafanaDashboardProvider, grafanaDatasource, grafanaDropIn,
    grafanaEnvironment, PROMETHEUS_CONF, PROMETHEUS_RULES, PROMETHEUS_RULES_REF, prometheusConfig, prometheusDefaults, ScrapeJob, scrapeJobs,
} from "../services/monitoring";
import { environmentTargets } from "../services/monitoringTargets";
import { clusterCaCertificate, PVE_CA_FILE, PVE_EXPORTER, PVE_EXPORTER_CONF, PVE_EXPORTER_UNIT, pveExporterConfig, pveExporterUnit } from "../services/pveExporter";
import { firstHost } from "../../config/services";
import { WIREGUARD_CONF, wireguardClientConf, wireguardPublicKey, wireguardServerConf } from "../services/wireguard";
import { ContainerProvisioning, StepWithBundle } from "./containerProvisioning";
import { BundleEntry, file, value } from "./steps";

export interface ServiceProvisioningArgs {
    readonly config: StackConfig;
    /** the environment's service containers, in config order */
    readonly guests: readonly proxmoxve.ContainerLegacy[];
    /** the SSH key root logs in with inside the containers */
    readonly sshPrivateKey: pulumi.Input<string>;
    /** the apps that use PostgreSQL and Redis, from the workload model (serviceUsers) */
    readonly apps: ServiceApps;
    /** the reverse proxy's routes, from the workload model (proxyRoutes) */
    readonly proxyRoutes: readonly ProxyRoute[];
    /** per container name: what must happen to it before it is provisioned (keyctl) */
    readonly containerSetup?: Readonly<Record<string, pulumi.Resource>>;
    /** the GitHub Actions runner's registration token (a secret), with a cicd container */
    readonly runnerToken?: pulumi.Input<string>;
    /** the read-only Proxmox token prometheus-pve-exporter uses (a secret), with a monitoring container */
    readonly pveAuditToken?: pulumi.Input<string>;
    /** the cluster's CA as read from a node (the tune key's `ca` request), with a monitoring container */
    readonly clusterCa?: pulumi.Input<string>;
    /**
     * what the monitoring container scrapes in the other environment (the public side's
     * exporters, from the public stack); without it, only this environment is scraped
     */
    readonly otherEnvironmentTargets?: readonly EnvironmentTargets[];
}

/** Which apps get a PostgreSQL database and role, and a Redis logical database, in this order. */
export interface ServiceApps {
    readonly postgres: readonly string[];
    readonly redis: readonly string[];
}

/** Connection strings per app, each a secret. */
export type ConnectionStrings = Record<string, pulumi.Output<string>>;

/**
 * What runs inside the environment's service containers: one ContainerProvisioning per
 * container, with the steps its role needs, and the secrets those services use.
 */
export class ServiceProvisioning extends pulumi.ComponentResource {
    public readonly containers: readonly ContainerProvisioning[];
    /** per container name: its SSH host key, read on first contact */
    public readonly hostKeys: Readonly<Record<string, pulumi.Output<string>>>;
    /** per app: its PostgreSQL URL, in this environment's database container */
    public readonly postgresUrls: ConnectionStrings;
    /** per app: its Redis URL (own logical database), in this environment's cache container */
    public readonly redisUrls: ConnectionStrings;
    /** per generated VPN peer: its wg-quick client config (a secret) */
    public readonly vpnPeers: ConnectionStrings;
    /** the VPN entry's public key, for peers that bring their own keys */
    public readonly vpnPublicKey: pulumi.Output<string> | undefined;
    /** Grafana's admin password (a secret), with a monitoring container */
    public readonly grafanaAdminPassword: pulumi.Output<string> | undefined;

    constructor(name: string, args: ServiceProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("provision", "ServiceProvisioning"), name, {}, opts);
        const { config } = args;
        const { services } = config;
        // Secret explicitly: everything built from a password (bundles, URLs) stays secret
        // whether or not the provider's own secret marking reaches it.
        const password = (id: string) => pulumi.secret(new random.RandomPassword(`${name}-${id}`, {
            length: 32,
            // Letters and digits only: safe in URLs, config files and SQL literals.
            special: false,
        }, { parent: this }).result);

        const db = firstOf(config, "database");
        const cache = firstOf(config, "cache");
        const apps = args.apps;
        const pgPasswords = new Map(db ? apps.postgres.map((app) => [app, password(`postgres-${app}`)]) : []);
        const redisPassword = cache ? password("redis") : undefined;

        const targets = serviceTargets(config, apps);
        this.postgresUrls = Object.fromEntries(targets.postgres.map(({ app, host }) =>
            [app, pulumi.secret((pgPasswords.get(app) as pulumi.Output<string>).apply((p) => postgresUrl(app, p, host)))]));
        this.redisUrls = Object.fromEntries(redisPassword ? targets.redis.map(({ app, host, db: index }) =>
            [app, pulumi.secret(redisPassword.apply((p) => redisUrl(p, host, index)))]) : []);

        // WireGuard keys: 32 random bytes each; Curve25519 clamps them as `wg genkey` does.
        const key = (id: string) => pulumi.secret(new random.RandomBytes(`${name}-${id}`, { length: 32 }, { parent: this }).base64);
        const vpn = config.environment === "private" ? firstOf(config, "security") : undefined;
        const wg = services.wireguard;
        const serverKey = vpn ? key("wireguard-server") : undefined;
        const peers = vpn ? wg.peers.map((peer) => {
            const privateKey = peer.publicKey === undefined ? key(`wireguard-peer-${peer.name}`) : undefined;
            return {
                name: peer.name,
                address: peer.address,
                privateKey,
                publicKey: privateKey ? privateKey.apply(wireguardPublicKey) : pulumi.output(peer.publicKey as string),
                presharedKey: key(`wireguard-psk-${peer.name}`),
            };
        }) : [];
        // A public key is public: derived from the secret private key, unmarked on purpose.
        this.vpnPublicKey = serverKey ? pulumi.unsecret(serverKey.apply(wireguardPublicKey)) : undefined;
        this.vpnPeers = Object.fromEntries(peers.filter((p) => p.privateKey !== undefined).map((p) => [p.name,
            pulumi.secret(pulumi.all([p.privateKey as pulumi.Output<string>, serverKey as pulumi.Output<string>, p.presharedKey]).apply(([priv, server, psk]) => wireguardClientConf({
                privateKey: priv,
                address: p.address,
                serverPublicKey: wireguardPublicKey(server),
                presharedKey: psk,
                endpoint: `${wg.endpoint ?? vpn?.ip}:${wg.port}`,
                allowedIps: [config.network.subnet],
                dns: config.network.dns,
            })))]));

        const monitoring = firstOf(config, "monitoring");
        const grafanaPassword = monitoring ? password("grafana-admin") : undefined;
        this.grafanaAdminPassword = grafanaPassword;

        const roleSteps = (ct: ContainerConfig): StepWithBundle[] => {
            if (ct === monitoring && grafanaPassword) {
                if (args.pveAuditToken === undefined || args.clusterCa === undefined) {
                    throw new pulumi.ResourceError("the monitoring container needs the secret pveAuditToken and the cluster CA", this);
                }
                const jobs = [...scrapeJobs(environmentTargets(config)), ...(args.otherEnvironmentTargets ?? []).flatMap(scrapeJobs)];
                return [{
                    step: {
                        id: "monitoring",
                        description: `${ct.name}: Prometheus (${jobs.length} jobs), Alertmanager, Grafana, prometheus-pve-exporter ${PVE_EXPORTER.version}`,
                        script: "monitoring.sh",
                        args: [ct.dataMountPath, GRAFANA_APT_KEY_FINGERPRINT, PVE_EXPORTER.commit, PVE_EXPORTER.requirementsSha256],
                    },
                    bundle: pulumi.secret(pulumi.all([grafanaPassword, args.pveAuditToken, args.clusterCa]).apply(([p, token, ca]) => monitoringBundle({
                        jobs, settings: services.monitoring, dataMountPath: ct.dataMountPath, grafanaAdminPassword: p,
                        pveExporterConfig: pveExporterConfig(token),
                        clusterCa: clusterCaCertificate(ca),
                    }))),
                }];
            }
            if (ct === vpn && serverKey) {
                const peerKeys: pulumi.Output<{ publicKey: string; presharedKey: string }[]> = pulumi.all(peers.map((p) =>
                    pulumi.all([p.publicKey, p.presharedKey]).apply(([publicKey, presharedKey]) => ({ publicKey, presharedKey }))));
                const conf = pulumi.all([serverKey, peerKeys]).apply(([server, keys]) => wireguardServerConf({
                    privateKey: server,
                    address: `${firstHost(wg.subnet)}/${wg.subnet.split("/")[1]}`,
                    port: wg.port,
                    tunnelSubnet: wg.subnet,
                    peers: peers.map((p, i) => ({ name: p.name, address: p.address, ...keys[i] })),
                }));
                return [{
                    step: { id: "wireguard", description: `${ct.name}: WireGuard on UDP ${wg.port}, ${peers.length} peer(s)`, script: "wireguard.sh", args: [] },
                    bundle: [conf.apply((c): BundleEntry => file(WIREGUARD_CONF, c, "0600"))],
                }];
            }
            if (ct.role === "cicd" && services.runner) {
                const runner = services.runner;
                if (args.runnerToken === undefined) {
                    throw new pulumi.ResourceError("the cicd container needs the secret githubRunnerToken", this);
                }
                const token = pulumi.secret(args.runnerToken);
                const root = `${ct.dataMountPath}/actions-runner`;
                return [{
                    step: {
                        id: "runner",
                        description: `${ct.name}: GitHub Actions runner ${runner.version} for ${runner.url}, labels ${runner.labels.join(",")}`,
                        script: "runner.sh",
                        args: [runner.version, runner.sha256, runner.url, ct.name, runner.labels.join(","), ct.dataMountPath],
                    },
                    bundle: [token.apply((t): BundleEntry => value("token", t)), file(RUNNER_UNIT, runnerUnit(root))],
                }];
            }
            if (ct.role === "security" && config.environment === "public") {
                const storage = `${ct.dataMountPath}/certificates`;
                if (!caddyCanWrite(storage)) {
                    throw new pulumi.ResourceError(`containers[${config.containers.indexOf(ct)}].dataMountPath: ${ct.dataMountPath} is read-only for Caddy (caddy.service has ProtectSystem=full: ${CADDY_READ_ONLY_DIRS.join(", ")}); use /var/lib/caddy`, this);
                }
                return [{
                    step: { id: "caddy", description: `${ct.name}: Caddy for ${args.proxyRoutes.map((r) => r.host).join(", ") || "(no routes)"}`, script: "caddy.sh", args: [ct.dataMountPath, storage] },
                    bundle: [file(CADDYFILE, caddyfile({ email: services.proxy.email, storageRoot: storage, routes: args.proxyRoutes }))],
                }];
            }
            if (ct === db) {
                const input = { major: services.postgres.version, listenAddress: ct.ip, subnet: config.network.subnet, databases: apps.postgres.map((app) => ({ app })) };
                const dir = postgresConfDir(input.major);
                return [{
                    step: { id: "postgres", description: `${ct.name}: PostgreSQL ${input.major}, databases ${apps.postgres.join(", ") || "(none)"}`, script: "postgres.sh", args: [String(input.major), ct.dataMountPath, ...apps.postgres] },
                    bundle: [
                        file(`${dir}/conf.d/ai-dualstack.conf`, postgresConf(input), "0644", "postgres:postgres"),
                        file(`${dir}/pg_hba.conf`, pgHba(input), "0640", "postgres:postgres"),
                        file("/etc/default/prometheus-postgres-exporter", postgresExporterDefaults()),
                        ...[...pgPasswords].map(([app, pw]) => pw.apply((p): BundleEntry => value(`password.${app}`, p))),
                    ],
                }];
            }
            if (ct === cache && redisPassword) {
                return [{
                    step: { id: "redis", description: `${ct.name}: Redis ${services.redis.version}`, script: "redis.sh", args: [String(services.redis.version), ct.dataMountPath] },
                    bundle: [
                        redisPassword.apply((p): BundleEntry => file(REDIS_INCLUDE, redisConf({ listenAddress: ct.ip, dataDir: ct.dataMountPath, maxMemoryMiB: services.redis.maxMemoryMiB, password: p }), "0640", "root:redis")),
                        file(REDIS_DROPIN, redisDropIn(ct.dataMountPath)),
                        redisPassword.apply((p): BundleEntry => file("/etc/default/prometheus-redis-exporter", redisExporterDefaults(p), "0640", "root:prometheus")),
                    ],
                }];
            }
            return [];
        };

        this.containers = config.containers.map((ct, i) => new ContainerProvisioning(`${ct.name}-provision`, {
            container: ct,
            guest: args.guests[i],
            privateKey: args.sshPrivateKey,
            steps: [baseStep(ct), ...roleSteps(ct)],
            after: args.containerSetup?.[ct.name] !== undefined ? [args.containerSetup[ct.name]] : [],
        }, { parent: this }));
        // A connection string resolves once its service is provisioned, so an app given it
        // (a Docker container) is created after its database exists, not before.
        const ready = (urls: ConnectionStrings, container: ContainerConfig | undefined, stepId: string): ConnectionStrings => {
            const done = container ? this.containers[config.containers.indexOf(container)]?.step(stepId) : undefined;
            return done ? Object.fromEntries(Object.entries(urls).map(([app, url]) => [app, pulumi.secret(pulumi.all([url, done.id]).apply(([u]) => u))])) : urls;
        };
        this.postgresUrls = ready(this.postgresUrls, db, "postgres");
        this.redisUrls = ready(this.redisUrls, cache, "redis");
        this.hostKeys = Object.fromEntries(config.containers.map((ct, i) => [ct.name, this.containers[i].hostKey]));
        this.registerOutputs({ postgresUrls: this.postgresUrls, redisUrls: this.redisUrls, vpnPeers: this.vpnPeers, vpnPublicKey: this.vpnPublicKey, grafanaAdminPassword: this.grafanaAdminPassword });
    }
}

/** What the monitoring step installs: Prometheus, Alertmanager and Grafana's files. */
export interface MonitoringBundleInput {
    readonly jobs: readonly ScrapeJob[];
    readonly settings: StackConfig["services"]["monitoring"];
    readonly dataMountPath: string;
    readonly grafanaAdminPassword: string;
    /** the rendered /etc/prometheus/pve.yml (it holds the read-only API token) */
    readonly pveExporterConfig: string;
    /** the cluster's CA certificate (PEM), which the exporter verifies the API with */
    readonly clusterCa: string;
}

export function monitoringBundle(input: MonitoringBundleInput): BundleEntry[] {
    const { settings } = input;
    return [
        file(PROMETHEUS_CONF, prometheusConfig({ jobs: input.jobs, ruleFiles: [PROMETHEUS_RULES_REF] })),
        file(PROMETHEUS_RULES, alertRulesFile(alertRules(settings, [...new Set(input.jobs.map((j) => j.job))], input.jobs.find((j) => j.job === "pve-node")?.targets.length ?? 0))),
        file("/etc/default/prometheus", prometheusDefaults(input.dataMountPath, settings.retention)),
        file(ALERTMANAGER_CONF, alertmanagerConfig({ webhookUrl: settings.webhookUrl })),
        file(GRAFANA_DATASOURCE, grafanaDatasource(), "0640", "root:grafana"),
        file(GRAFANA_DASHBOARD_PROVIDER, grafanaDashboardProvider(), "0640", "root:grafana"),
        ...dashboardFiles().map((d) => file(`${GRAFANA_DASHBOARD_DIR}/${d.name}`, d.content)),
        // The package's /etc/default/grafana-server stays as it is: its unit builds the command
        // line from it. Our settings (the admin password among them) come in through a drop-in's
        // second EnvironmentFile, read by systemd as root, so the file is root's alone.
        file(GRAFANA_ENV_FILE, grafanaEnvironment(input.grafanaAdminPassword), "0600"),
        file(GRAFANA_DROPIN, grafanaDropIn()),
        // The exporter runs as prometheus and reads its token from here; nobody else may.
        file(PVE_EXPORTER_CONF, input.pveExporterConfig, "0640", "root:prometheus"),
        file(PVE_CA_FILE, input.clusterCa),
        file(PVE_EXPORTER_UNIT, pveExporterUnit()),
    ];
}

/** Every container: the data volume is mounted, the node exporter runs. */
function baseStep(ct: ContainerConfig): StepWithBundle {
    return {
        step: { id: "base", description: `${ct.name}: data volume at ${ct.dataMountPath}, node exporter`, script: "base.sh", args: [ct.dataMountPath] },
        bundle: [],
    };
}

/** Where each app's PostgreSQL database and Redis logical database are, in this environment. */
export interface ServiceTargets {
    readonly postgres: readonly { app: string; host: string }[];
    readonly redis: readonly { app: string; host: string; db: number }[];
}

/**
 * Each app's database in this environment's database container, and its Redis logical
 * database (0, 1, ... in app order: appending an app keeps the others' slots) in this
 * environment's cache container. Redis has 16 logical databases.
 */
export function serviceTargets(config: StackConfig, apps: ServiceApps): ServiceTargets {
    const db = firstOf(config, "database");
    const cache = firstOf(config, "cache");
    if (cache && apps.redis.length > 16) {
        throw new Error(`ai-dualstack:apps: ${apps.redis.length} apps use Redis, but Redis has 16 logical databases`);
    }
    return {
        postgres: db ? apps.postgres.map((app) => ({ app, host: db.ip })) : [],
        redis: cache ? apps.redis.map((app, index) => ({ app, host: cache.ip, db: index })) : [],
    };
}

/** The environment's container for a role (the first, if the config lists several). */
function firstOf(config: StackConfig, role: ContainerRole): ContainerConfig | undefined {
    return config.containers.find((ct) => ct.role === role);
}

const DASHBOARD_DIR = path.join(__dirname, "..", "services", "grafana", "dashboards");

/** Grafana dashboards kept in the repository, provisioned as they are. */
export function dashboardFiles(): { name: string; content: string }[] {
    return fs.readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith(".json")).sort()
        .map((name) => ({ name, content: fs.readFileSync(path.join(DASHBOARD_DIR, name), "utf8") }));
}
