/**
 * Monitoring: the rendered Prometheus config (both environments' targets), alert rules,
 * one promtool rule test per alert, Alertmanager's config and Grafana's provisioning, all
 * through the real promtool and amtool; monitoring.sh against a scratch root.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { dashboardFiles, monitoringBundle } from "../components/provision/serviceProvisioning";
import { file } from "../components/provision/steps";
import {
    alertmanagerConfig, alertRules, alertRulesFile, alertRuleTests, EXPORTER_METRICS, GRAFANA_APT_KEY_FINGERPRINT, GRAFANA_DATASOURCE_UID,
    grafanaDashboardProvider, grafanaDatasource, PROMETHEUS_CONF, PROMETHEUS_RULES, PROMETHEUS_RULES_REF, prometheusConfig, scrapeJobs,
} from "../components/services/monitoring";
import { environmentTargets, otherEnvironmentTargets } from "../components/services/monitoringTargets";
import { clusterCaCertificate, PVE_CA_BUNDLE, PVE_CA_FILE, PVE_EXPORTER, PVE_EXPORTER_CONF, PVE_EXPORTER_UNIT, pveExporterConfig } from "../components/services/pveExporter";
import { CLUSTER_CA_REQUEST } from "../components/access/vmTune";
import { STAND_IN_CLUSTER_CA } from "../tools/lib/offline/mocks";
import { evaluateStack } from "../tools/lib/evaluate";
import { byName, seedEnvironments, haveTool, input, stackFile, TYPES } from "./helpers";
import { scratch } from "./provisionHarness";

/** a made-up token of the monitoring user's form */
const TOKEN = "ai-dualstack-monitoring@pve!metrics=0b6a4d5e-1c2f-4a3b-9d8e-7f6a5b4c3d2e";
const PVE_YML = pveExporterConfig(TOKEN);
/** the exporter's lock in the stand-in upstream repository, and its sha256 */
const LOCK = "proxmoxer==2.3.0 --hash=sha256:0123";
const LOCK_SHA256 = createHash("sha256").update(LOCK).digest("hex");
/** stands in for Debian's /etc/ssl/certs/ca-certificates.crt in the scratch root */
const DEBIAN_CAS = "-----BEGIN CERTIFICATE-----\nMIIBpublic\n-----END CERTIFICATE-----\n";
/** the cluster CA the offline plan stands in with (a real PEM CA certificate) */
const CLUSTER_CA = clusterCaCertificate(fs.readFileSync(STAND_IN_CLUSTER_CA, "utf8"));

/**
 * A stand-in for upstream's repository: a real git repository with the lock and the
 * package's source tree, served over file:// (git's protocol v2 fetches a commit by id, as
 * from GitHub). Returns its URL and the commit id.
 */
function upstreamRepository(): { url: string; commit: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pve-exporter-upstream-"));
    fs.mkdirSync(path.join(dir, "src", "pve_exporter"), { recursive: true });
    fs.writeFileSync(path.join(dir, "requirements.txt"), LOCK);
    fs.writeFileSync(path.join(dir, "src", "pve_exporter", "__main__.py"), "from pve_exporter.cli import main\nmain()\n");
    const git = (...args: string[]) => spawnSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args], { encoding: "utf8" });
    git("init", "-q");
    git("add", ".");
    git("commit", "-q", "-m", "release");
    git("commit", "-q", "--allow-empty", "-m", "after the release");
    return { url: `file://${dir}`, commit: git("rev-parse", "HEAD~1").stdout.trim() };
}
const SETTINGS = { backupMaxAgeHours: 26, certificateWarningDays: 14 };
/** every rule, the pve exporter's too (as if a `pve` job were scraped), so each has its promtool case */
const rules = alertRules(SETTINGS, Object.keys(EXPORTER_METRICS), 2);

/** Writes files into a fresh directory and runs a tool there. */
function inDir(files: Record<string, string>, tool: string, args: string[]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "monitoring-"));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
    const r = spawnSync(tool, args, { cwd: dir, encoding: "utf8" });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const seed = seedEnvironments();

describe("Prometheus", () => {
    const both = () => [...scrapeJobs(environmentTargets(seed.private.config)), ...scrapeJobs(environmentTargets(seed.public.config))];

    test("the config with both environments' targets passes the real promtool check config", () => {
        expect(haveTool("promtool")).toBe(true);
        const r = inDir({ "prometheus.yml": prometheusConfig({ jobs: both(), ruleFiles: [PROMETHEUS_RULES_REF] }), [PROMETHEUS_RULES_REF]: alertRulesFile(rules) }, "promtool", ["check", "config", "prometheus.yml"]);
        expect(r.out).toContain("SUCCESS: prometheus.yml is valid prometheus config file syntax");
        expect(r.status).toBe(0);
    });

    test("Proxmox itself is scraped through prometheus-pve-exporter on localhost as its README relabels: the cluster view once, each node's own view per node, no target labels", () => {
        const twoNodes = { ...seed.private.config, hosts: [...seed.private.config.hosts, { ...seed.private.config.hosts[0], name: "pve2", address: "192.168.1.11", apiName: "pve2.example.org" }] };
        const conf = parse(prometheusConfig({ jobs: scrapeJobs(environmentTargets(twoNodes)), ruleFiles: [PROMETHEUS_RULES_REF] })) as { scrape_configs: Record<string, unknown>[] };
        const relabel = [
            { source_labels: ["__address__"], target_label: "__param_target" },
            { source_labels: ["__param_target"], target_label: "instance" },
            // the README writes 127.0.0.1: the exporter listens there, not on ::1
            { target_label: "__address__", replacement: "127.0.0.1:9221" },
        ];
        // Upstream README "Note on scraping large clusters": cluster collectors from one node only.
        expect(conf.scrape_configs.find((c) => c.job_name === "pve")).toEqual({
            job_name: "pve", metrics_path: "/pve", params: { module: ["default"], cluster: ["1"], node: ["0"] },
            static_configs: [{ targets: [twoNodes.hosts[0].address] }], relabel_configs: relabel,
        });
        // A node with its own certificate is read by the name in it (hosts[].apiName).
        expect(conf.scrape_configs.find((c) => c.job_name === "pve-node")).toEqual({
            job_name: "pve-node", metrics_path: "/pve", params: { module: ["default"], cluster: ["0"], node: ["1"] },
            static_configs: [{ targets: [twoNodes.hosts[0].address] }, { targets: ["pve2.example.org"] }], relabel_configs: relabel,
        });
        // The public side's nodes are the same box: scraped once, from the private side.
        expect(scrapeJobs(otherEnvironmentTargets(seed.public.config)).map((j) => j.job)).not.toContain("pve");
    });

    test("pve.yml: the token split as the exporter wants it (user, token_name = the token id, token_value = the uuid)", () => {
        expect(parse(PVE_YML)).toEqual({ default: { user: "ai-dualstack-monitoring@pve", token_name: "metrics", token_value: "0b6a4d5e-1c2f-4a3b-9d8e-7f6a5b4c3d2e", verify_ssl: true } });
        expect(() => pveExporterConfig("root@pam:hunter2")).toThrow("ai-dualstack:pveAuditToken: expected the form user@realm!tokenid=<uuid> (value not shown)");
    });

    test("it scrapes every exporter of both environments, labelled with the environment", () => {
        const conf = parse(prometheusConfig({ jobs: both(), ruleFiles: [PROMETHEUS_RULES_REF] })) as { scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: { environment: string; name: string } }[] }[] };
        const targets = (job: string, env: string) => conf.scrape_configs.find((c) => c.job_name === job)?.static_configs.filter((s) => s.labels.environment === env).flatMap((s) => s.targets) ?? [];
        for (const [env, e] of [["private", seed.private], ["public", seed.public]] as const) {
            const { aiVm, containers } = e.config;
            expect(targets("node", env).sort()).toEqual([aiVm.ip, ...containers.map((c) => c.ip)].map((ip) => `${ip}:9100`).sort());
            expect(targets("nvidia-gpu", env)).toEqual([`${aiVm.ip}:9835`]);
            expect(targets("cadvisor", env)).toEqual([`${aiVm.ip}:8080`]);
            expect(targets("postgres", env)).toEqual([`${containers.find((c) => c.role === "database")?.ip}:9187`]);
            expect(targets("redis", env)).toEqual([`${containers.find((c) => c.role === "cache")?.ip}:9121`]);
        }
        // one per published app (apps[].publicHost)
        expect(targets("certificates", "public")).toEqual(["https://chat.example.org", "https://hello.example.org"]);
        expect(targets("certificates", "private")).toEqual(["https://192.168.1.10:8006"]);
    });
});

describe("alert rules", () => {
    test("cover the issue's list: target, node and guest down, ZFS, disk, GPU heat and VRAM, backups, certificates", () => {
        expect(rules.map((r) => r.alert)).toEqual([
            "TargetDown", "ProxmoxNodeDown", "GuestDown", "ZfsPoolNotOnline", "DiskAlmostFull", "DiskFillsWithin24h",
            "GpuTemperatureHigh", "GpuVramPressure", "BackupFailed", "BackupMissed", "PostgresDown", "RedisDown", "SiteProbeFailed", "CertificateExpiresSoon",
        ]);
        expect(rules.find((r) => r.alert === "SiteProbeFailed")?.expr).toBe(`probe_success{job="certificates"} == 0`);
        expect(rules.find((r) => r.alert === "PostgresDown")?.expr).toBe("pg_up == 0");
        expect(rules.find((r) => r.alert === "RedisDown")?.expr).toBe("redis_up == 0");
    });

    /** The metric names a PromQL expression reads (label matchers, strings, ranges, label lists and functions taken out). */
    const metricsOf = (expr: string): string[] => {
        const bare = expr.replace(/\{[^}]*\}/g, "").replace(/"[^"]*"/g, "").replace(/\[[^\]]*\]/g, "").replace(/\b(on|by|ignoring|without|group_left|group_right)\s*\([^)]*\)/g, "");
        const words = bare.replace(/[a-zA-Z_]+\s*\(/g, "(").match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
        return [...new Set(words.filter((w) => !["and", "or", "unless"].includes(w)))];
    };
    const jobOf = (expr: string) => /job="([^"]+)"/.exec(expr)?.[1];

    test("every metric the rendered rules read is produced by the exporter of a job the monitoring container scrapes", () => {
        const jobs = [...scrapeJobs(environmentTargets(seed.private.config)), ...scrapeJobs(environmentTargets(seed.public.config))];
        const scraped = new Set(["prometheus", "alertmanager", ...jobs.map((j) => j.job)]);
        // The rule file exactly as the program sends it.
        const bundle = monitoringBundle({ jobs, settings: seed.private.config.services.monitoring, dataMountPath: "/var/lib/prometheus", grafanaAdminPassword: "x".repeat(32), pveExporterConfig: PVE_YML, clusterCa: CLUSTER_CA });
        const ruleFile = bundle.find((e) => e.kind === "file" && e.path === PROMETHEUS_RULES);
        const rendered = (parse(ruleFile?.kind === "file" ? ruleFile.content : "") as { groups: { rules: { alert: string; expr: string }[] }[] }).groups[0].rules;
        expect(rendered.length).toBeGreaterThan(0);
        const problems: string[] = [];
        for (const rule of rendered) {
            for (const metric of metricsOf(rule.expr)) {
                const producers = metric === "up" ? [...scraped] : Object.entries(EXPORTER_METRICS).filter(([, e]) => metric in e.metrics).map(([job]) => job);
                const wanted = jobOf(rule.expr);
                const live = producers.filter((job) => scraped.has(job) && (wanted === undefined || wanted === job));
                if (live.length === 0) problems.push(`${rule.alert}: ${metric} (from ${producers.join(", ") || "no exporter"}) is not scraped`);
            }
        }
        expect(problems).toEqual([]);
        // The pve jobs are scraped, so Proxmox's own view of the guests is alerted on; the
        // seed box is one node, which reports itself online whenever it answers: no
        // ProxmoxNodeDown (TargetDown covers it), which a cluster of two or more gets.
        expect(jobs.some((j) => j.job === "pve")).toBe(true);
        expect(rendered.map((r) => r.alert)).toContain("GuestDown");
        expect(rendered.map((r) => r.alert)).not.toContain("ProxmoxNodeDown");
        expect(alertRules(SETTINGS, [...scraped], 2).map((r) => r.alert)).toContain("ProxmoxNodeDown");
        // Without a pve job its rules are not rendered (they could never fire).
        expect(alertRules(SETTINGS, jobs.filter((j) => j.job !== "pve").map((j) => j.job), 2).map((r) => r.alert)).not.toContain("GuestDown");
        expect(alertRules(SETTINGS, jobs.filter((j) => j.job !== "pve-node").map((j) => j.job), 2).map((r) => r.alert)).not.toContain("GuestDown");
        expect(metricsOf(rules.find((r) => r.alert === "GuestDown")?.expr ?? "")).toEqual(["pve_up", "pve_onboot_status", "pve_guest_info"]);
        expect(metricsOf(rules.find((r) => r.alert === "DiskFillsWithin24h")?.expr ?? "")).toEqual(["node_filesystem_avail_bytes", "node_filesystem_readonly"]);
    });

    test("pass the real promtool check rules", () => {
        const r = inDir({ "rules.yml": alertRulesFile(rules) }, "promtool", ["check", "rules", "rules.yml"]);
        expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
        expect(r.status).toBe(0);
    });

    test("each alert has a promtool test rules case that fires it, and all pass", () => {
        const tests = parse(alertRuleTests(rules, "rules.yml")) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
        expect(tests.tests.map((t) => t.alert_rule_test[0].alertname)).toEqual(rules.map((r) => r.alert));
        tests.tests.forEach((t) => expect(t.alert_rule_test[0].exp_alerts).toHaveLength(1));
        const r = inDir({ "rules.yml": alertRulesFile(rules), "tests.yml": alertRuleTests(rules, "rules.yml") }, "promtool", ["test", "rules", "tests.yml"]);
        expect(r.out).toContain("SUCCESS");
        expect(r.status).toBe(0);
    });

    test("the rule tests can fail: a GPU threshold above the test's temperature does not fire", () => {
        const hotter = rules.map((r) => (r.alert === "GpuTemperatureHigh" ? { ...r, expr: "nvidia_smi_temperature_gpu > 95" } : r));
        const r = inDir({ "rules.yml": alertRulesFile(hotter), "tests.yml": alertRuleTests(rules, "rules.yml") }, "promtool", ["test", "rules", "tests.yml"]);
        expect(r.status).not.toBe(0);
        expect(r.out).toContain("GpuTemperatureHigh");
    });

    test("the backup and certificate limits come from config", () => {
        const custom = alertRules({ backupMaxAgeHours: 50, certificateWarningDays: 30 }, Object.keys(EXPORTER_METRICS), 2);
        expect(custom.find((r) => r.alert === "BackupMissed")?.expr).toContain("> 50 * 3600");
        expect(custom.find((r) => r.alert === "CertificateExpiresSoon")?.expr).toContain("< 30 * 86400");
        const r = inDir({ "rules.yml": alertRulesFile(custom), "tests.yml": alertRuleTests(custom, "rules.yml") }, "promtool", ["test", "rules", "tests.yml"]);
        expect(r.status).toBe(0);
    });
});

describe("Alertmanager and Grafana", () => {
    test.each([["with a webhook", "https://ntfy.example.org/ai-dualstack"], ["without one", undefined]])("Alertmanager's config %s passes the real amtool check-config", (_t, webhookUrl) => {
        expect(haveTool("amtool")).toBe(true);
        const r = inDir({ "alertmanager.yml": alertmanagerConfig({ webhookUrl }) }, "amtool", ["check-config", "alertmanager.yml"]);
        expect(r.out).toContain("SUCCESS");
        expect(r.status).toBe(0);
    });

    test("amtool can fail: a route to a receiver that does not exist", () => {
        const r = inDir({ "alertmanager.yml": alertmanagerConfig({}).replace("receiver: default\n", "receiver: nobody\n") }, "amtool", ["check-config", "alertmanager.yml"]);
        expect(r.status).not.toBe(0);
    });

    test("Grafana's datasource and dashboards are provisioned from the repository's files, all on the one datasource", () => {
        const ds = parse(grafanaDatasource()) as { datasources: { uid: string; url: string; type: string }[] };
        expect(ds.datasources).toEqual([expect.objectContaining({ uid: GRAFANA_DATASOURCE_UID, type: "prometheus", url: "http://localhost:9090" })]);
        expect((parse(grafanaDashboardProvider()) as { providers: { options: { path: string } }[] }).providers[0].options.path).toBe("/var/lib/grafana/dashboards/ai-dualstack");
        const dashboards = dashboardFiles();
        expect(dashboards.length).toBeGreaterThan(0);
        for (const d of dashboards) {
            const json = JSON.parse(d.content) as { uid: string; panels: { datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[] };
            expect(json.uid).toMatch(/^ai-dualstack-/);
            for (const panel of json.panels) {
                expect(panel.datasource.uid).toBe(GRAFANA_DATASOURCE_UID);
                panel.targets.forEach((t) => expect(t.datasource.uid).toBe(GRAFANA_DATASOURCE_UID));
            }
        }
    });
});

describe("monitoring.sh against a scratch root", () => {
    const upstream = upstreamRepository();
    const ARGS = ["/var/lib/prometheus", GRAFANA_APT_KEY_FINGERPRINT, upstream.commit, LOCK_SHA256];
    const jobs = () => scrapeJobs(environmentTargets(seed.private.config));
    /** the bundle the program sends (serviceProvisioning.ts), its prometheus.yml optionally replaced */
    const bundle = (prometheusYml?: string) => monitoringBundle({ jobs: jobs(), settings: seed.private.config.services.monitoring, dataMountPath: "/var/lib/prometheus", grafanaAdminPassword: "s3cretGrafanaPassw0rd", pveExporterConfig: PVE_YML, clusterCa: CLUSTER_CA })
        .map((e) => (prometheusYml !== undefined && e.kind === "file" && e.path === PROMETHEUS_CONF ? file(PROMETHEUS_CONF, prometheusYml) : e));
    const setup = (fingerprint = GRAFANA_APT_KEY_FINGERPRINT) => {
        const s = scratch({ mounts: ["/var/lib/prometheus"] });
        s.stub("curl", `while [ "$1" != -o ]; do shift; done; echo key >"$2"`);
        // Debian's ca-certificates bundle, as update-ca-certificates leaves it
        fs.mkdirSync(path.join(s.root, "etc", "ssl", "certs"), { recursive: true });
        fs.writeFileSync(path.join(s.root, "etc", "ssl", "certs", "ca-certificates.crt"), DEBIAN_CAS);
        // the real git, with upstream's URL pointing at the stand-in repository
        s.stub("git", `exec /usr/bin/git -c "url.${upstream.url}.insteadOf=${PVE_EXPORTER.repository}" "$@"`);
        // python3 -m venv <dir>: a venv whose pip records its calls
        s.stub("python3", `[ "$1 $2" = "-m venv" ] || exit 1; mkdir -p "$3/bin"; printf '#!/usr/bin/env bash\\nprintf "%%s\\\\n" "pip $*" >>"${s.state}/calls"\\n' >"$3/bin/pip"; chmod +x "$3/bin/pip"`);
        s.stub("gpg", `echo "pub:-:4096:1:963FA27710458545:::::::scESC::::::23::0:"; echo "fpr:::::::::${fingerprint}:"`);
        return s;
    };

    test("checks the configs with the real promtool and amtool, restarts once; a second run changes nothing", () => {
        const s = setup();
        const first = s.run("monitoring.sh", ARGS, bundle());
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(s.read("etc/apt/sources.list.d/grafana.list")).toBe("deb [signed-by=/etc/apt/keyrings/grafana.asc] https://apt.grafana.com stable main\n");
        expect(s.calls()).toEqual(expect.arrayContaining(["systemctl restart prometheus", "systemctl start prometheus-alertmanager"]));
        s.resetCalls();
        expect(s.run("monitoring.sh", ARGS, bundle()).status).toBe(0);
        expect(s.calls().filter((c) => /^(apt-get|curl|systemctl (restart|start|reload))/.test(c))).toEqual([]);
    });

    test("prometheus-pve-exporter: fetched by commit id with git, the lock checked, dependencies by hash and never built, run from source; once", () => {
        const s = setup();
        const r = s.run("monitoring.sh", ARGS, bundle());
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(s.calls().filter((c) => c.startsWith("git ") && c.includes(" fetch "))).toEqual([
            expect.stringMatching(new RegExp(`^git -C \\S+ fetch -q --depth 1 ${PVE_EXPORTER.repository} ${upstream.commit}$`)),
        ]);
        const pip = s.calls().filter((c) => c.startsWith("pip "));
        expect(pip).toEqual([expect.stringMatching(/^pip install .*--require-hashes --only-binary :all: -r \S+\/requirements.txt$/)]);
        // The source tree of the pinned commit, where the unit's PYTHONPATH points.
        expect(s.read("opt/prometheus-pve-exporter/src/pve_exporter/__main__.py")).toContain("from pve_exporter.cli import main");
        expect(s.read("opt/prometheus-pve-exporter/ai-dualstack-commit")).toBe(`${upstream.commit}\n`);
        expect(s.exists("opt/prometheus-pve-exporter.new")).toBe(false);
        const unit = s.read(PVE_EXPORTER_UNIT.slice(1));
        expect(unit).toContain("Environment=PYTHONPATH=/opt/prometheus-pve-exporter/src\n");
        expect(unit).toContain(`Environment=REQUESTS_CA_BUNDLE=${PVE_CA_BUNDLE}\n`);
        expect(unit).toContain(`ExecStart=/opt/prometheus-pve-exporter/venv/bin/python -m pve_exporter --config.file ${PVE_EXPORTER_CONF} --web.listen-address 127.0.0.1:9221\n`);
        expect(s.read(PVE_EXPORTER_CONF.slice(1))).toBe(PVE_YML);
        expect(fs.statSync(path.join(s.root, PVE_EXPORTER_CONF)).mode & 0o777).toBe(0o640);
        expect(s.read(PVE_CA_FILE.slice(1))).toBe(CLUSTER_CA);
        // what the exporter trusts: the cluster CA, then Debian's public CAs
        expect(s.read(PVE_CA_BUNDLE.slice(1))).toBe(`${CLUSTER_CA}${DEBIAN_CAS}`);
        expect(s.calls()).toContain("systemctl restart prometheus-pve-exporter");
        s.resetCalls();
        expect(s.run("monitoring.sh", ARGS, bundle()).status).toBe(0);
        expect(s.calls().filter((c) => /^(pip|python3|git|curl)|restart prometheus-pve-exporter$/.test(c))).toEqual([]);
    });

    test("prometheus-pve-exporter: another commit is fetched into a new tree and swapped in; a new CA restarts it", () => {
        const s = setup();
        expect(s.run("monitoring.sh", ARGS, bundle()).status).toBe(0);
        const next = spawnSync("git", ["-C", upstream.url.slice("file://".length), "rev-parse", "HEAD"], { encoding: "utf8" }).stdout.trim();
        s.resetCalls();
        expect(s.run("monitoring.sh", [...ARGS.slice(0, 2), next, LOCK_SHA256], bundle()).status).toBe(0);
        expect(s.read("opt/prometheus-pve-exporter/ai-dualstack-commit")).toBe(`${next}\n`);
        expect(s.calls()).toContain("systemctl restart prometheus-pve-exporter");
        s.resetCalls();
        const otherCa = bundle().map((e) => (e.kind === "file" && e.path === PVE_CA_FILE ? file(PVE_CA_FILE, `${CLUSTER_CA}\n`) : e));
        expect(s.run("monitoring.sh", [...ARGS.slice(0, 2), next, LOCK_SHA256], otherCa).status).toBe(0);
        expect(s.calls().filter((c) => c.startsWith("git "))).toEqual([]);
        expect(s.calls()).toContain("systemctl restart prometheus-pve-exporter");
    });

    test("prometheus-pve-exporter: a lock with another checksum, or a commit upstream does not have, is refused before pip runs; the running tree stays", () => {
        const s = setup();
        const r = s.run("monitoring.sh", [...ARGS.slice(0, 3), "0".repeat(64)], bundle());
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`prometheus-pve-exporter's requirements.txt has sha256 ${LOCK_SHA256}, expected ${"0".repeat(64)}`);
        expect(s.calls().filter((c) => /^(pip|python3)/.test(c))).toEqual([]);
        expect(s.exists("opt/prometheus-pve-exporter")).toBe(false);

        expect(s.run("monitoring.sh", ARGS, bundle()).status).toBe(0);
        s.resetCalls();
        const missing = s.run("monitoring.sh", [...ARGS.slice(0, 2), "f".repeat(40), LOCK_SHA256], bundle());
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain(`cannot fetch prometheus-pve-exporter ${"f".repeat(40)} from ${PVE_EXPORTER.repository}`);
        expect(s.read("opt/prometheus-pve-exporter/ai-dualstack-commit")).toBe(`${upstream.commit}\n`);
        expect(s.calls().filter((c) => /^(pip|python3)/.test(c))).toEqual([]);
    });

    test("new scrape targets or rules reload Prometheus (SIGHUP through the unit), never restart it", () => {
        const s = setup();
        expect(s.run("monitoring.sh", ARGS, bundle()).status).toBe(0);
        s.resetCalls();
        const fewer = prometheusConfig({ jobs: jobs().slice(1), ruleFiles: [PROMETHEUS_RULES_REF] });
        expect(s.run("monitoring.sh", ARGS, bundle(fewer)).status).toBe(0);
        expect(s.calls().filter((c) => /^systemctl (restart|start|reload)/.test(c))).toEqual(["systemctl reload prometheus"]);
    });

    /** the deb package's own file (grafana/grafana packaging/deb/default/grafana-server): its unit's ExecStart reads these */
    const PACKAGE_DEFAULTS = "GRAFANA_USER=grafana\nGRAFANA_GROUP=grafana\nGRAFANA_HOME=/usr/share/grafana\nLOG_DIR=/var/log/grafana\nDATA_DIR=/var/lib/grafana\n"
        + "MAX_OPEN_FILES=10000\nCONF_DIR=/etc/grafana\nCONF_FILE=/etc/grafana/grafana.ini\nRESTART_ON_UPGRADE=true\nPLUGINS_DIR=/var/lib/grafana/plugins\n"
        + "PROVISIONING_CFG_DIR=/etc/grafana/provisioning\nPID_FILE_DIR=/run/grafana\n";

    test("Grafana: the package's /etc/default/grafana-server is left alone; our settings come through a drop-in EnvironmentFile (0600) and daemon-reload", () => {
        const s = setup();
        fs.mkdirSync(path.join(s.root, "etc", "default"), { recursive: true });
        fs.writeFileSync(path.join(s.root, "etc", "default", "grafana-server"), PACKAGE_DEFAULTS);
        const r = s.run("monitoring.sh", ARGS, bundle());
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(s.read("etc/default/grafana-server")).toBe(PACKAGE_DEFAULTS);
        expect(s.read("etc/systemd/system/grafana-server.service.d/ai-dualstack.conf")).toContain("[Service]\nEnvironmentFile=/etc/grafana/ai-dualstack.env\n");
        const env = path.join(s.root, "etc", "grafana", "ai-dualstack.env");
        expect(fs.statSync(env).mode & 0o777).toBe(0o600);
        expect(fs.readFileSync(env, "utf8")).toMatch(/^GF_SECURITY_ADMIN_PASSWORD=s3cretGrafanaPassw0rd$/m);
        const calls = s.calls();
        expect(calls.indexOf("systemctl daemon-reload")).toBeGreaterThan(-1);
        expect(calls.indexOf("systemctl daemon-reload")).toBeLessThan(calls.indexOf("systemctl restart grafana-server"));
        // a second run: no reload, no restart
        s.resetCalls();
        expect(s.run("monitoring.sh", ARGS, bundle()).status).toBe(0);
        expect(s.calls().filter((c) => /^systemctl (daemon-reload|restart)/.test(c))).toEqual([]);
    });

    test("refuses a Grafana key with another fingerprint, and a config promtool rejects, before restarting", () => {
        const wrongKey = setup("0".repeat(40));
        const r = wrongKey.run("monitoring.sh", ARGS, bundle());
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`Grafana's signing key has fingerprint ${"0".repeat(40)}, expected ${GRAFANA_APT_KEY_FINGERPRINT}`);
        expect(wrongKey.exists("etc/apt/keyrings/grafana.asc")).toBe(false);

        const badConfig = setup();
        const b = badConfig.run("monitoring.sh", ARGS, bundle("global:\n  scrape_interval: often\n"));
        expect(b).toMatchObject({ status: 1, stderr: expect.stringContaining("prometheus.yml does not pass promtool check config") });
        expect(badConfig.calls().filter((c) => c.startsWith("systemctl restart"))).toEqual([]);
    });
});

describe("in the graph", () => {
    /** What the engine receives as one input of a private-stack command, a secret unwrapped. */
    const engineInput = async (name: string, key: string): Promise<unknown> => {
        let value: unknown;
        await evaluateStack({
            stack: "private",
            file: stackFile("private"),
            onMockResource: (a) => {
                if (a.type === TYPES.command && a.name === name) {
                    // The engine receives a secret input wrapped: { <signature>: ..., value: ... }.
                    const v: unknown = a.inputs[key];
                    value = v !== null && typeof v === "object" && "value" in v ? v.value : v;
                }
                return undefined;
            },
        });
        return value;
    };

    test("the cluster CA is read through the environment's tune key from the monitoring container's node, its host key pinned; only where monitoring runs", async () => {
        const connection = await engineInput("private-cluster-ca", "connection");
        const node = seed.private.config.hosts.find((h) => h.name === seed.private.config.containers.find((ct) => ct.role === "monitoring")?.node);
        expect(connection).toMatchObject({ host: node?.address, user: "root", hostKey: node?.sshHostKey });
        const read = byName(seed.private.graph.resources, "private-cluster-ca");
        expect(input(read, "create")).toBe(CLUSTER_CA_REQUEST);
        // and the plan never shows the connection: the tune key stays a secret
        expect(input(read, "connection")).toBe("[secret]");
        // The monitoring step runs only with the CA read.
        expect(byName(seed.private.graph.resources, "private-monitoring-provision-monitoring").dependencies).toContain(read.urn);
        expect(seed.public.graph.resources.some((r) => r.name.endsWith("-cluster-ca"))).toBe(false);
    });

    test("the private monitoring container is provisioned with the rendered stack and a secret Grafana password", () => {
        const step = byName(seed.private.graph.resources, "private-monitoring-provision-monitoring");
        expect(input(step, "stdin")).toBe("[secret]");
        expect(String(input(step, "create"))).toContain(`monitoring /var/lib/prometheus ${GRAFANA_APT_KEY_FINGERPRINT}`);
        expect(seed.private.graph.outputs.grafanaAdminPassword).toBe("[secret]");
        expect(seed.public.graph.resources.some((r) => r.name.endsWith("-provision-monitoring"))).toBe(false);
    });

    test("the monitoring step's secret bundle holds pve.yml (0640 root:prometheus, the pveAuditToken's user and id) and the prometheus.yml with the pve job", async () => {
        const stdin = await engineInput("private-monitoring-provision-monitoring", "stdin");
        const records = String(stdin).split("\n").filter((l) => l.startsWith("file "))
            .map((l) => l.split(" ")).map(([, p, mode, owner, b64]) => ({ path: p, mode, owner, content: Buffer.from(b64, "base64").toString("utf8") }));
        const pveYml = records.find((r) => r.path === PVE_EXPORTER_CONF);
        expect(pveYml).toMatchObject({ mode: "0640", owner: "root:prometheus" });
        // The offline plan cannot decrypt the token: it renders a stand-in of the same form.
        expect(parse(pveYml?.content ?? "")).toEqual({ default: expect.objectContaining({ user: "ai-dualstack-monitoring@pve", token_name: "metrics" }) });
        // The cluster CA the tune key read (offline: the stand-in), checked and installed for REQUESTS_CA_BUNDLE.
        expect(records.find((r) => r.path === PVE_CA_FILE)).toMatchObject({ mode: "0644", content: CLUSTER_CA });
        const prom = parse(records.find((r) => r.path === PROMETHEUS_CONF)?.content ?? "") as { scrape_configs: { job_name: string }[] };
        expect(prom.scrape_configs.map((c) => c.job_name)).toContain("pve");
    });
});
