/**
 * Monitoring in the private monitoring container: Prometheus's scrape config and alert
 * rules, the rule tests (one `promtool test rules` case that fires each alert),
 * Alertmanager's config and Grafana's provisioning, all rendered from typed inputs. The
 * tests run the real promtool and amtool (Debian prometheus 2.42, alertmanager 0.25) on
 * the output.
 *
 * Formats: prometheus.io/docs/prometheus/latest/configuration/configuration/ and
 * .../recording_rules/, .../unit_testing_rules/; prometheus.io/docs/alerting/latest/configuration/;
 * grafana.com/docs/grafana/latest/administration/provisioning/.
 */
import { stringify } from "yaml";
import type { EnvironmentName } from "../../config/schema";
import { PORTS } from "../catalog";

/** One scrape target: an address:port (or a URL for probes) and the guest or node it belongs to. */
export interface ScrapeTarget {
    readonly address: string;
    readonly name: string;
}

/** A job's targets in one environment. The same job in both environments is one job with two label sets. */
export interface ScrapeJob {
    readonly job: string;
    readonly environment: EnvironmentName;
    readonly targets: readonly ScrapeTarget[];
    /** probe through the blackbox exporter with this module (targets are URLs) */
    readonly probeModule?: string;
    /**
     * scrape through prometheus-pve-exporter (targets are Proxmox nodes' API addresses):
     * `cluster` the cluster-wide collectors from one node, `node` each node's own
     */
    readonly pve?: "cluster" | "node";
}

export interface EnvironmentTargets {
    readonly environment: EnvironmentName;
    /** Proxmox nodes (node exporter on the host) */
    readonly nodes: readonly ScrapeTarget[];
    /** Proxmox nodes' API addresses, read through prometheus-pve-exporter (with its token) */
    readonly pve: readonly ScrapeTarget[];
    /** guests running the node exporter: the AI VM and every service container */
    readonly guests: readonly ScrapeTarget[];
    /** the AI VM's cAdvisor and NVIDIA GPU exporter */
    readonly containerMetrics: readonly ScrapeTarget[];
    readonly gpus: readonly ScrapeTarget[];
    readonly postgres: readonly ScrapeTarget[];
    readonly redis: readonly ScrapeTarget[];
    /** https endpoints whose certificates are watched */
    readonly certificates: readonly ScrapeTarget[];
}

/** The scrape jobs of one environment's targets. */
export function scrapeJobs(t: EnvironmentTargets): ScrapeJob[] {
    const job = (name: string, targets: readonly ScrapeTarget[], probeModule?: string): ScrapeJob[] =>
        targets.length > 0 ? [{ job: name, environment: t.environment, targets, ...(probeModule ? { probeModule } : {}) }] : [];
    return [
        ...job("proxmox-node", t.nodes),
        // Upstream's README ("Note on scraping large clusters"): the cluster collectors once
        // (any node answers for the whole cluster), the node collectors on every node.
        ...(t.pve.length > 0 ? [
            { job: "pve", environment: t.environment, targets: t.pve.slice(0, 1), pve: "cluster" as const },
            { job: "pve-node", environment: t.environment, targets: t.pve, pve: "node" as const },
        ] : []),
        ...job("node", t.guests),
        ...job("cadvisor", t.containerMetrics),
        ...job("nvidia-gpu", t.gpus),
        ...job("postgres", t.postgres),
        ...job("redis", t.redis),
        ...job("certificates", t.certificates, "http_2xx"),
    ];
}

export interface PrometheusInput {
    /** every environment's jobs: the monitoring container scrapes both */
    readonly jobs: readonly ScrapeJob[];
    /** where the rule file lives (promtool resolves it next to the config in the tests) */
    readonly ruleFiles: readonly string[];
    readonly scrapeInterval?: string;
}

export const PROMETHEUS_CONF = "/etc/prometheus/prometheus.yml";
export const PROMETHEUS_RULES = "/etc/prometheus/rules/ai-dualstack.yml";
/** the rule file as prometheus.yml names it: relative paths resolve against the config's directory */
export const PROMETHEUS_RULES_REF = "rules/ai-dualstack.yml";
/** Grafana Labs' apt signing key (apt.grafana.com/gpg.key), as published on apt.grafana.com */
export const GRAFANA_APT_KEY_FINGERPRINT = "B53AE77BADB630A683046005963FA27710458545";
export const ALERTMANAGER_CONF = "/etc/prometheus/alertmanager.yml";

export function prometheusConfig(input: PrometheusInput): string {
    const byJob = new Map<string, ScrapeJob[]>();
    for (const j of input.jobs) {
        byJob.set(j.job, [...(byJob.get(j.job) ?? []), j]);
    }
    const scrapeConfigs = [
        { job_name: "prometheus", static_configs: [{ targets: [`localhost:${PORTS.prometheus}`], labels: { environment: "private", name: "monitoring" } }] },
        { job_name: "alertmanager", static_configs: [{ targets: [`localhost:${PORTS.alertmanager}`], labels: { environment: "private", name: "monitoring" } }] },
        ...[...byJob].map(([jobName, jobs]) => {
            const probe = jobs[0].probeModule;
            const staticConfigs = jobs.flatMap((j) => j.targets.map((t) => ({ targets: [t.address], labels: { environment: j.environment, name: t.name } })));
            const pve = jobs[0].pve;
            if (pve !== undefined) {
                // prometheus-pve-exporter's README, "Example config for PVE exporter running on
                // Prometheus host": the node's address becomes ?target= (the exporter calls
                // ProxmoxAPI(target, **module), pve_exporter/collector/__init__.py); module
                // `default` is pve.yml's one section; cluster=1 for node/guest status (pve_up,
                // pve_guest_info), node=1 for the guests' onboot flag (pve_onboot_status).
                // No target labels: the exporter's series carry their own `name` and `node`
                // (a target label would push them aside as exported_name), and they describe
                // guests of every environment.
                return {
                    job_name: jobName,
                    metrics_path: "/pve",
                    params: { module: ["default"], cluster: [pve === "cluster" ? "1" : "0"], node: [pve === "node" ? "1" : "0"] },
                    static_configs: jobs.flatMap((j) => j.targets.map((t) => ({ targets: [t.address] }))),
                    relabel_configs: [
                        { source_labels: ["__address__"], target_label: "__param_target" },
                        { source_labels: ["__param_target"], target_label: "instance" },
                        { target_label: "__address__", replacement: `127.0.0.1:${PORTS.pveExporter}` },
                    ],
                };
            }
            return probe === undefined
                ? { job_name: jobName, static_configs: staticConfigs }
                : {
                    job_name: jobName,
                    metrics_path: "/probe",
                    params: { module: [probe] },
                    static_configs: staticConfigs,
                    // The target URL becomes the probe's parameter; the blackbox exporter is scraped.
                    relabel_configs: [
                        { source_labels: ["__address__"], target_label: "__param_target" },
                        { source_labels: ["__param_target"], target_label: "instance" },
                        { target_label: "__address__", replacement: `localhost:${PORTS.blackboxExporter}` },
                    ],
                };
        }),
    ];
    return `# ai-dualstack: written by the provisioning step; edits are overwritten.\n${stringify({
        global: { scrape_interval: input.scrapeInterval ?? "30s", evaluation_interval: "30s" },
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`localhost:${PORTS.alertmanager}`] }] }] },
        rule_files: [...input.ruleFiles],
        scrape_configs: scrapeConfigs,
    })}`;
}

/** One alert, with the series and time of a `promtool test rules` case that fires it. */
export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for: string;
    readonly severity: "warning" | "critical";
    /** may use {{ $labels.<name> }} */
    readonly summary: string;
    readonly test: {
        readonly series: readonly { readonly series: string; readonly values: string }[];
        readonly evalTime: string;
        /** the firing alert's labels, besides alertname and severity */
        readonly labels: Readonly<Record<string, string>>;
    };
}

export interface AlertSettings {
    readonly backupMaxAgeHours: number;
    readonly certificateWarningDays: number;
}

/**
 * Metrics the backup alerts read. Proxmox's vzdump has no exporter of its own; a vzdump
 * hook on the node (host stack) writes these to the node exporter's textfile collector.
 */
export const BACKUP_METRICS = {
    /** 1 when the guest's last backup succeeded, 0 when it failed; label vmid */
    lastStatus: "ai_dualstack_backup_last_status",
    /** unix time of the guest's last successful backup; label vmid */
    lastSuccess: "ai_dualstack_backup_last_success_timestamp_seconds",
} as const;

const FS = `fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"`;

/** The node exporter's metrics the alerts read, with where each comes from. */
const NODE_EXPORTER_METRICS = {
    node_filesystem_avail_bytes: "prometheus/node_exporter collector/filesystem_common.go",
    node_filesystem_size_bytes: "prometheus/node_exporter collector/filesystem_common.go",
    node_filesystem_readonly: "prometheus/node_exporter collector/filesystem_common.go",
} as const;

/**
 * Which scrape job's exporter produces which metric the alert rules read, and where the
 * name comes from. `up` is Prometheus's own, one per target of every job. A test checks
 * that every metric in the rules is here for a job the monitoring container scrapes.
 */
export const EXPORTER_METRICS: Readonly<Record<string, { readonly exporter: string; readonly metrics: Readonly<Record<string, string>> }>> = {
    "proxmox-node": {
        exporter: "Debian's prometheus-node-exporter on each node (components/host/scripts/node-monitoring.sh) with its textfile collector",
        metrics: {
            ...NODE_EXPORTER_METRICS,
            node_zfs_zpool_state: "prometheus/node_exporter collector/zfs_linux.go (one series per state, lower case)",
            [BACKUP_METRICS.lastStatus]: "components/host/scripts/vzdump-metrics.sh (the backup jobs' vzdump hook)",
            [BACKUP_METRICS.lastSuccess]: "components/host/scripts/vzdump-metrics.sh (the backup jobs' vzdump hook)",
        },
    },
    node: { exporter: "node exporter in every guest (base.sh; the AI VM's node-exporter workload)", metrics: NODE_EXPORTER_METRICS },
    "nvidia-gpu": {
        exporter: "utkuozdemir/nvidia_gpu_exporter on the AI VM",
        metrics: {
            nvidia_smi_temperature_gpu: "utkuozdemir/nvidia_gpu_exporter: nvidia-smi field temperature.gpu",
            nvidia_smi_memory_used_bytes: "utkuozdemir/nvidia_gpu_exporter: nvidia-smi field memory.used (MiB, scaled to bytes)",
            nvidia_smi_memory_total_bytes: "utkuozdemir/nvidia_gpu_exporter: nvidia-smi field memory.total (MiB, scaled to bytes)",
        },
    },
    postgres: { exporter: "Debian's prometheus-postgres-exporter (postgres.sh)", metrics: { pg_up: "prometheus-community/postgres_exporter cmd/postgres_exporter: pg_up" } },
    redis: { exporter: "Debian's prometheus-redis-exporter (redis.sh)", metrics: { redis_up: "oliver006/redis_exporter exporter/exporter.go: metricDescriptions[\"up\"] in namespace redis" } },
    certificates: {
        exporter: "Debian's prometheus-blackbox-exporter (monitoring.sh), module http_2xx",
        metrics: {
            probe_success: "prometheus/blackbox_exporter prober/handler.go",
            probe_ssl_earliest_cert_expiry: "prometheus/blackbox_exporter prober/tls.go",
        },
    },
    pve: {
        exporter: "prometheus-pve-exporter in the monitoring container (monitoring.sh) with the host stack's read-only PVEAuditor token, cluster=1",
        metrics: {
            pve_up: "prometheus-pve-exporter src/pve_exporter/collector/cluster.py StatusCollector (labels id)",
            pve_guest_info: "prometheus-pve-exporter src/pve_exporter/collector/cluster.py ClusterResourcesCollector (labels id, node, name, type, template, tags)",
        },
    },
    "pve-node": {
        exporter: "prometheus-pve-exporter, node=1, on every node",
        metrics: { pve_onboot_status: "prometheus-pve-exporter src/pve_exporter/collector/node.py NodeConfigCollector (labels id, node, type; guests with onboot set)" },
    },
};

/**
 * Alerts on the pve exporter's metrics: the jobs each one reads and the nodes it needs. A
 * node reports itself online whenever its API answers, and a node outside a cluster always
 * does (pve-manager PVE/API2/Cluster.pm `status`: the local node's entry is online => 1):
 * ProxmoxNodeDown can only see a cluster's other nodes. A node that does not answer is
 * TargetDown of jobs proxmox-node and pve-node.
 */
const PVE_ALERTS: Partial<Record<string, { readonly jobs: readonly string[]; readonly minNodes: number }>> = {
    ProxmoxNodeDown: { jobs: ["pve"], minNodes: 2 },
    GuestDown: { jobs: ["pve", "pve-node"], minNodes: 1 },
};

/**
 * The alerts the issue asks for, for the jobs the monitoring container scrapes. Metric
 * names and their sources: EXPORTER_METRICS. A rule on an exporter that is not scraped
 * could never fire, so the pve exporter's (node and guest down as Proxmox sees them) are
 * left out until their jobs are scraped, and ProxmoxNodeDown until the box has the nodes
 * it needs (PVE_ALERTS); TargetDown covers a node (job proxmox-node) and a guest (job node:
 * every guest runs the node exporter) in any case.
 */
export function alertRules(settings: AlertSettings, scrapedJobs: readonly string[], proxmoxNodes = 1): AlertRule[] {
    return allAlertRules(settings).filter((r) => {
        const needs = PVE_ALERTS[r.alert];
        return needs === undefined || (needs.jobs.every((j) => scrapedJobs.includes(j)) && proxmoxNodes >= needs.minNodes);
    });
}

function allAlertRules(settings: AlertSettings): AlertRule[] {
    const target = { job: "node", instance: "10.10.10.20:9100", environment: "private", name: "private-db" };
    const labelText = (labels: Record<string, string>) => Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",");
    const gpu = { job: "nvidia-gpu", instance: "10.10.10.10:9835", environment: "private", name: "private-ai", uuid: "GPU-1" };
    const pg = { job: "postgres", instance: "10.10.10.20:9187", environment: "private", name: "private-db" };
    const redis = { job: "redis", instance: "10.10.10.21:9121", environment: "private", name: "private-cache" };
    const site = { job: "certificates", instance: "https://chat.example.org", environment: "public", name: "chat.example.org" };
    return [
        {
            alert: "TargetDown",
            expr: "up == 0",
            for: "5m",
            severity: "critical",
            summary: "{{ $labels.job }} target {{ $labels.instance }} ({{ $labels.name }}, {{ $labels.environment }}) is down",
            test: { series: [{ series: `up{${labelText(target)}}`, values: "0x20" }], evalTime: "10m", labels: target },
        },
        {
            alert: "ProxmoxNodeDown",
            // Another node of the cluster, as the cluster sees it (rendered with more than one node).
            expr: `pve_up{id=~"node/.+"} == 0`,
            for: "2m",
            severity: "critical",
            summary: "Proxmox node {{ $labels.id }} is offline in the cluster",
            test: { series: [{ series: `pve_up{job="pve",instance="192.168.1.10",id="node/pve2"}`, values: "0x10" }], evalTime: "5m", labels: { job: "pve", instance: "192.168.1.10", id: "node/pve2" } },
        },
        {
            alert: "GuestDown",
            // Only guests that start on boot (data holder VMs are never started on purpose),
            // named from pve_guest_info, their environment from their tags (every guest is
            // tagged ai-dualstack;<env>;...: pve-guest-common GuestHelpers.pm get_unique_tags
            // stores tags joined by ';'). onboot comes from the guest's own node (pve-node),
            // status and names from the cluster view (pve): joined on id alone.
            expr: `label_replace((pve_up{id=~"(qemu|lxc)/.+"} == 0 and on (id) pve_onboot_status == 1) * on (id) group_left (name, node, tags) pve_guest_info, "environment", "$1", "tags", "(?:.*;)?(private|public)(?:;.*)?")`,
            for: "5m",
            severity: "critical",
            summary: "guest {{ $labels.name }} ({{ $labels.id }}, {{ $labels.environment }}) on {{ $labels.node }} is not running",
            test: {
                series: [
                    { series: `pve_up{job="pve",instance="192.168.1.10",id="lxc/110"}`, values: "0x20" },
                    { series: `pve_onboot_status{job="pve-node",instance="192.168.1.10",id="lxc/110",node="pve",type="lxc"}`, values: "1x20" },
                    { series: `pve_guest_info{job="pve",instance="192.168.1.10",id="lxc/110",node="pve",name="private-db",type="lxc",template="0",tags="ai-dualstack;private;database"}`, values: "1x20" },
                    // a stopped holder VM without onboot does not fire
                    { series: `pve_up{job="pve",instance="192.168.1.10",id="qemu/150"}`, values: "0x20" },
                    { series: `pve_onboot_status{job="pve-node",instance="192.168.1.10",id="qemu/150",node="pve",type="qemu"}`, values: "0x20" },
                    { series: `pve_guest_info{job="pve",instance="192.168.1.10",id="qemu/150",node="pve",name="private-ai-data",type="qemu",template="0",tags="ai-dualstack;data;private"}`, values: "1x20" },
                ],
                evalTime: "10m",
                labels: { job: "pve", instance: "192.168.1.10", id: "lxc/110", name: "private-db", node: "pve", tags: "ai-dualstack;private;database", environment: "private" },
            },
        },
        {
            alert: "ZfsPoolNotOnline",
            expr: `node_zfs_zpool_state{state!="online"} > 0`,
            for: "1m",
            severity: "critical",
            summary: "ZFS pool {{ $labels.zpool }} on {{ $labels.instance }} is {{ $labels.state }}",
            test: {
                series: [
                    { series: `node_zfs_zpool_state{job="proxmox-node",instance="192.168.1.10:9100",zpool="tank-private",state="degraded"}`, values: "1x10" },
                    { series: `node_zfs_zpool_state{job="proxmox-node",instance="192.168.1.10:9100",zpool="tank-private",state="online"}`, values: "0x10" },
                ],
                evalTime: "5m",
                labels: { job: "proxmox-node", instance: "192.168.1.10:9100", zpool: "tank-private", state: "degraded" },
            },
        },
        {
            alert: "DiskAlmostFull",
            expr: `node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}} < 0.10 and node_filesystem_readonly{${FS}} == 0`,
            for: "15m",
            severity: "warning",
            summary: "{{ $labels.mountpoint }} on {{ $labels.name }} has less than 10% free",
            test: {
                series: [
                    { series: `node_filesystem_avail_bytes{${labelText({ ...target, mountpoint: "/var/lib/postgresql", fstype: "zfs" })}}`, values: "5x30" },
                    { series: `node_filesystem_size_bytes{${labelText({ ...target, mountpoint: "/var/lib/postgresql", fstype: "zfs" })}}`, values: "100x30" },
                    { series: `node_filesystem_readonly{${labelText({ ...target, mountpoint: "/var/lib/postgresql", fstype: "zfs" })}}`, values: "0x30" },
                ],
                evalTime: "20m",
                labels: { ...target, mountpoint: "/var/lib/postgresql", fstype: "zfs" },
            },
        },
        {
            alert: "DiskFillsWithin24h",
            expr: `predict_linear(node_filesystem_avail_bytes{${FS}}[6h], 24 * 3600) < 0 and node_filesystem_readonly{${FS}} == 0`,
            for: "1h",
            severity: "warning",
            summary: "{{ $labels.mountpoint }} on {{ $labels.name }} fills up within a day at this rate",
            test: {
                series: [
                    // 1000 bytes free, losing 10 per minute: empty in 100 minutes
                    { series: `node_filesystem_avail_bytes{${labelText({ ...target, mountpoint: "/", fstype: "zfs" })}}`, values: "1000-10x90" },
                    { series: `node_filesystem_readonly{${labelText({ ...target, mountpoint: "/", fstype: "zfs" })}}`, values: "0x90" },
                ],
                evalTime: "80m",
                labels: { ...target, mountpoint: "/", fstype: "zfs" },
            },
        },
        {
            alert: "GpuTemperatureHigh",
            expr: "nvidia_smi_temperature_gpu > 83",
            for: "5m",
            severity: "warning",
            summary: "GPU {{ $labels.uuid }} on {{ $labels.name }} is above 83 °C",
            test: { series: [{ series: `nvidia_smi_temperature_gpu{${labelText(gpu)}}`, values: "88x20" }], evalTime: "10m", labels: gpu },
        },
        {
            alert: "GpuVramPressure",
            expr: "nvidia_smi_memory_used_bytes / nvidia_smi_memory_total_bytes > 0.95",
            for: "15m",
            severity: "warning",
            summary: "GPU {{ $labels.uuid }} on {{ $labels.name }} uses more than 95% of its VRAM",
            test: {
                series: [
                    { series: `nvidia_smi_memory_used_bytes{${labelText(gpu)}}`, values: "31x30" },
                    { series: `nvidia_smi_memory_total_bytes{${labelText(gpu)}}`, values: "32x30" },
                ],
                evalTime: "20m",
                labels: gpu,
            },
        },
        {
            alert: "BackupFailed",
            expr: `${BACKUP_METRICS.lastStatus} == 0`,
            for: "0m",
            severity: "critical",
            summary: "the last backup of guest {{ $labels.vmid }} failed",
            test: { series: [{ series: `${BACKUP_METRICS.lastStatus}{job="proxmox-node",instance="192.168.1.10:9100",vmid="110"}`, values: "0x5" }], evalTime: "2m", labels: { job: "proxmox-node", instance: "192.168.1.10:9100", vmid: "110" } },
        },
        {
            alert: "BackupMissed",
            expr: `time() - ${BACKUP_METRICS.lastSuccess} > ${settings.backupMaxAgeHours} * 3600`,
            for: "10m",
            severity: "critical",
            summary: `guest {{ $labels.vmid }} has had no good backup for more than ${settings.backupMaxAgeHours} hours`,
            test: {
                // last good backup at time 0; evaluated a few hours past the limit
                series: [{ series: `${BACKUP_METRICS.lastSuccess}{job="proxmox-node",instance="192.168.1.10:9100",vmid="110"}`, values: `0x${(settings.backupMaxAgeHours + 2) * 60}` }],
                evalTime: `${settings.backupMaxAgeHours + 1}h`,
                labels: { job: "proxmox-node", instance: "192.168.1.10:9100", vmid: "110" },
            },
        },
        {
            alert: "PostgresDown",
            // The exporter answers (else TargetDown) but cannot reach PostgreSQL.
            expr: "pg_up == 0",
            for: "2m",
            severity: "critical",
            summary: "PostgreSQL on {{ $labels.name }} ({{ $labels.environment }}) does not accept the exporter's connection",
            test: { series: [{ series: `pg_up{${labelText(pg)}}`, values: "0x10" }], evalTime: "5m", labels: pg },
        },
        {
            alert: "RedisDown",
            expr: "redis_up == 0",
            for: "2m",
            severity: "critical",
            summary: "Redis on {{ $labels.name }} ({{ $labels.environment }}) does not answer its exporter",
            test: { series: [{ series: `redis_up{${labelText(redis)}}`, values: "0x10" }], evalTime: "5m", labels: redis },
        },
        {
            alert: "SiteProbeFailed",
            // The published site (or the Proxmox API) does not answer over HTTPS with a valid
            // certificate: its expiry can then not be watched either.
            expr: `probe_success{job="certificates"} == 0`,
            for: "10m",
            severity: "warning",
            summary: "{{ $labels.instance }} does not answer over HTTPS (its certificate cannot be checked)",
            test: { series: [{ series: `probe_success{${labelText(site)}}`, values: "0x20" }], evalTime: "15m", labels: site },
        },
        {
            alert: "CertificateExpiresSoon",
            expr: `probe_ssl_earliest_cert_expiry - time() < ${settings.certificateWarningDays} * 86400`,
            for: "30m",
            severity: "warning",
            summary: `the certificate of {{ $labels.instance }} expires within ${settings.certificateWarningDays} days`,
            test: {
                // expires 5 days after time 0
                series: [{ series: `probe_ssl_earliest_cert_expiry{job="certificates",instance="https://chat.example.org",environment="public",name="chat.example.org"}`, values: `${5 * 86400}x90` }],
                evalTime: "1h",
                labels: { job: "certificates", instance: "https://chat.example.org", environment: "public", name: "chat.example.org" },
            },
        },
    ];
}

const fill = (template: string, labels: Readonly<Record<string, string>>) =>
    template.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_m, name: string) => labels[name] ?? "");

/** The rule file Prometheus loads. */
export function alertRulesFile(rules: readonly AlertRule[]): string {
    return stringify({
        groups: [{
            name: "ai-dualstack",
            rules: rules.map((r) => ({ alert: r.alert, expr: r.expr, for: r.for, labels: { severity: r.severity }, annotations: { summary: r.summary } })),
        }],
    });
}

/** `promtool test rules` input: one test per alert, each firing it. */
export function alertRuleTests(rules: readonly AlertRule[], ruleFile: string): string {
    return stringify({
        rule_files: [ruleFile],
        evaluation_interval: "1m",
        tests: rules.map((r) => ({
            interval: "1m",
            input_series: r.test.series.map((s) => ({ series: s.series, values: s.values })),
            alert_rule_test: [{
                eval_time: r.test.evalTime,
                alertname: r.alert,
                exp_alerts: [{ exp_labels: { ...r.test.labels, severity: r.severity }, exp_annotations: { summary: fill(r.summary, r.test.labels) } }],
            }],
        })),
    });
}

export interface AlertmanagerInput {
    /** a webhook receiver; without one, alerts are only shown in Alertmanager and Grafana */
    readonly webhookUrl?: string;
}

export function alertmanagerConfig(input: AlertmanagerInput): string {
    return `# ai-dualstack: written by the provisioning step; edits are overwritten.\n${stringify({
        route: {
            receiver: "default",
            group_by: ["alertname", "environment"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [{ receiver: "default", matchers: ['severity="critical"'], repeat_interval: "1h" }],
        },
        receivers: [input.webhookUrl ? { name: "default", webhook_configs: [{ url: input.webhookUrl, send_resolved: true }] } : { name: "default" }],
    })}`;
}

/** Grafana's datasource, provisioned: the local Prometheus under a fixed uid the dashboards use. */
export const GRAFANA_DATASOURCE_UID = "ai-dualstack-prometheus";
export const GRAFANA_DATASOURCE = "/etc/grafana/provisioning/datasources/ai-dualstack.yaml";
export const GRAFANA_DASHBOARD_PROVIDER = "/etc/grafana/provisioning/dashboards/ai-dualstack.yaml";
export const GRAFANA_DASHBOARD_DIR = "/var/lib/grafana/dashboards/ai-dualstack";

export function grafanaDatasource(): string {
    return stringify({
        apiVersion: 1,
        datasources: [{ name: "Prometheus", type: "prometheus", uid: GRAFANA_DATASOURCE_UID, access: "proxy", url: `http://localhost:${PORTS.prometheus}`, isDefault: true, editable: false }],
    });
}

export function grafanaDashboardProvider(): string {
    return stringify({
        apiVersion: 1,
        providers: [{ name: "ai-dualstack", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: GRAFANA_DASHBOARD_DIR } }],
    });
}

/**
 * Grafana's settings as GF_<SECTION>_<KEY> variables (they override grafana.ini), in a file
 * of our own. Not /etc/default/grafana-server: Grafana's deb unit
 * (grafana/grafana packaging/deb/systemd/grafana-server.service) reads that file as its
 * EnvironmentFile and builds its command line from it (--config=${CONF_FILE},
 * --pidfile=${PID_FILE_DIR}/..., cfg:default.paths.data=${DATA_DIR}, logs, plugins,
 * provisioning; packaging/deb/default/grafana-server): replacing it leaves those empty. A
 * drop-in adds our file as a second EnvironmentFile; systemd.exec(5): a variable set again
 * by a later file overrides the earlier one.
 */
export const GRAFANA_ENV_FILE = "/etc/grafana/ai-dualstack.env";
export const GRAFANA_DROPIN = "/etc/systemd/system/grafana-server.service.d/ai-dualstack.conf";

export function grafanaDropIn(): string {
    return `# ai-dualstack: Grafana's settings, after the package's /etc/default/grafana-server\n[Service]\nEnvironmentFile=${GRAFANA_ENV_FILE}\n`;
}

/** Grafana's own settings through our environment file (GF_<SECTION>_<KEY> overrides grafana.ini). */
export function grafanaEnvironment(adminPassword: string): string {
    return [`GF_SERVER_HTTP_PORT=${PORTS.grafana}`, "GF_SECURITY_ADMIN_USER=admin", `GF_SECURITY_ADMIN_PASSWORD=${adminPassword}`, "GF_ANALYTICS_REPORTING_ENABLED=false", ""].join("\n");
}

/** Prometheus's command-line arguments (Debian's /etc/default/prometheus). */
export function prometheusDefaults(dataDir: string, retention: string): string {
    return `ARGS="--storage.tsdb.path=${dataDir}/metrics2 --storage.tsdb.retention.time=${retention}"\n`;
}
