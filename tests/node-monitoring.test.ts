/**
 * The Proxmox nodes' side of monitoring, run for real against scratch roots: node-monitoring.sh
 * (node exporter, textfile directory, the vzdump hook, the node firewall rule through a
 * stubbed pvesh that keeps rules as Proxmox does), and the vzdump hook vzdump-metrics.sh
 * called with the arguments and environment vzdump gives it (pve-manager PVE/VZDump.pm
 * run_hook_script: `<script> <phase> [<mode> <vmid>]`, VMTYPE, STOREID ...), its output
 * checked by the real `promtool check metrics`. And in the host graph: one run per node,
 * the monitoring container's address admitted, the backup jobs naming the hook after it
 * is installed.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { nodeMonitoring, scriptCommand, scriptText, VZDUMP_HOOK_PATH } from "../components/host/hostPrep";
import { BACKUP_METRICS } from "../components/services/monitoring";
import { byName, evaluateHost, input, ofType, scriptEnv, TYPES } from "./helpers";

const SCRIPTS = path.join(__dirname, "..", "components", "host", "scripts");

function scratch(rules: object[] = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "node-monitoring-"));
    const root = path.join(dir, "root");
    const bin = path.join(dir, "bin");
    const state = path.join(dir, "state");
    for (const d of [root, bin, state]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(state, "calls"), "");
    fs.writeFileSync(path.join(state, "installed"), "");
    fs.writeFileSync(path.join(state, "rules.json"), JSON.stringify(rules));
    fs.writeFileSync(path.join(state, "now"), "1700000000\n");
    const stub = (tool: string, body: string) => fs.writeFileSync(path.join(bin, tool), `#!/usr/bin/env bash\nprintf '%s\\n' "$(basename "$0") $*" >>"${state}/calls"\n${body}\n`, { mode: 0o755 });
    stub("apt-get", `[ "$1" = install ] && echo prometheus-node-exporter >>"${state}/installed"; true`);
    stub("dpkg-query", `grep -qx "\${!#}" "${state}/installed" && echo "install ok installed"`);
    stub("systemctl", "true");
    stub("date", `cat "${state}/now"`);
    // pvesh as the node's API keeps the rules: get lists them with pos, create puts one on top
    // (pve-firewall API: without pos the rule is inserted first), delete removes one by pos.
    stub("pvesh", `exec perl -MJSON::PP -e '
        my ($file, $verb, $path, @args) = @ARGV;
        my $rules = decode_json(do { local (@ARGV, $/) = $file; <> });
        if ($verb eq "get") { my $i = 0; print encode_json([map { { %$_, pos => $i++ } } @$rules]); exit 0 }
        if ($verb eq "create") { my %r; while (@args) { my $k = shift @args; $k =~ s/^--//; $r{$k} = shift @args } unshift @$rules, \\%r }
        if ($verb eq "delete") { my ($pos) = $path =~ m{/(\\d+)$}; splice @$rules, $pos, 1 }
        open my $fh, ">", $file or die; print $fh encode_json($rules);
    ' "${state}/rules.json" "$@"`);
    const env = scriptEnv({ PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: root });
    return {
        root,
        calls: () => fs.readFileSync(path.join(state, "calls"), "utf8").split("\n").filter(Boolean),
        resetCalls: () => fs.writeFileSync(path.join(state, "calls"), ""),
        rules: () => JSON.parse(fs.readFileSync(path.join(state, "rules.json"), "utf8")) as Record<string, string>[],
        setNow: (t: number) => fs.writeFileSync(path.join(state, "now"), `${t}\n`),
        node: (args: string[]) => spawnSync("bash", ["-c", scriptCommand("node-monitoring.sh", args, false)], { encoding: "utf8", env }),
        /** vzdump calling the hook at the installed path, with its environment */
        hook: (args: string[], vmtype?: string) => spawnSync(path.join(root, VZDUMP_HOOK_PATH), args, { encoding: "utf8", env: { ...env, STOREID: "local", ...(vmtype ? { VMTYPE: vmtype } : {}) } }),
        metrics: () => fs.readFileSync(path.join(root, "var/lib/prometheus/node-exporter/ai_dualstack_backup.prom"), "utf8"),
    };
}

const [pve] = nodeMonitoring([{ name: "pve", address: "192.168.1.10", cpuVendor: "intel", memoryGiB: 128, sshHostKey: "x", cores: 16, uplink: "eno1" }], "10.10.10.24", false);
const applyArgs = (ip: string) => ["apply", "pve", ip, Buffer.from(scriptText("vzdump-metrics.sh")).toString("base64")];

test("both node scripts pass shellcheck", () => {
    expect(execFileSync("shellcheck", ["--severity=style", path.join(SCRIPTS, "node-monitoring.sh"), path.join(SCRIPTS, "vzdump-metrics.sh")], { encoding: "utf8" })).toBe("");
});

describe("node-monitoring.sh", () => {
    test("installs the node exporter, its textfile directory and the hook, and admits the monitoring container to 9100 and the API (8006); a second run changes nothing", () => {
        const s = scratch([{ type: "in", action: "ACCEPT", proto: "tcp", dport: "8080", source: "192.168.1.50", comment: "the admin's own" }]);
        const r = s.node(applyArgs("10.10.10.24"));
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(s.calls()).toEqual(expect.arrayContaining(["apt-get install -y -q --no-install-recommends prometheus-node-exporter", "systemctl enable --now --quiet prometheus-node-exporter"]));
        expect(fs.statSync(path.join(s.root, "var/lib/prometheus/node-exporter")).isDirectory()).toBe(true);
        const hook = path.join(s.root, VZDUMP_HOOK_PATH);
        expect(fs.readFileSync(hook, "utf8")).toBe(scriptText("vzdump-metrics.sh"));
        expect(fs.statSync(hook).mode & 0o777).toBe(0o755);
        expect(s.rules()).toEqual([
            { type: "in", action: "ACCEPT", proto: "tcp", dport: "9100,8006", source: "10.10.10.24", enable: "1", comment: "ai-dualstack: node exporter and API for the monitoring container" },
            expect.objectContaining({ comment: "the admin's own" }),
        ]);
        s.resetCalls();
        const again = s.node(applyArgs("10.10.10.24"));
        expect(again.status).toBe(0);
        expect(again.stdout).toContain(`${VZDUMP_HOOK_PATH} unchanged`);
        expect(s.calls().filter((c) => /^(apt-get|pvesh (create|delete))/.test(c))).toEqual([]);
        expect(s.rules()).toHaveLength(2);
    });

    test("a new monitoring address replaces our rule only; revert removes our rule and the hook, the admin's rule stays", () => {
        const s = scratch([{ type: "in", action: "ACCEPT", proto: "tcp", dport: "8080", source: "192.168.1.50", comment: "the admin's own" }]);
        expect(s.node(applyArgs("10.10.10.24")).status).toBe(0);
        expect(s.node(applyArgs("10.10.10.30")).status).toBe(0);
        expect(s.rules().map((r) => [r.source, r.comment])).toEqual([
            ["10.10.10.30", "ai-dualstack: node exporter and API for the monitoring container"],
            ["192.168.1.50", "the admin's own"],
        ]);
        expect(s.node(["revert", "pve"]).status).toBe(0);
        expect(s.rules().map((r) => r.comment)).toEqual(["the admin's own"]);
        expect(fs.existsSync(path.join(s.root, VZDUMP_HOOK_PATH))).toBe(false);
    });

    test("an earlier rule for 9100 alone is replaced by the one that also admits the API", () => {
        const s = scratch([{ type: "in", action: "ACCEPT", proto: "tcp", dport: "9100", source: "10.10.10.24", enable: "1", comment: "ai-dualstack: node exporter for the monitoring container" }]);
        expect(s.node(applyArgs("10.10.10.24")).status).toBe(0);
        expect(s.rules().map((r) => [r.dport, r.source])).toEqual([["9100,8006", "10.10.10.24"]]);
    });

    test("refuses a bad monitoring address before touching the node", () => {
        const s = scratch();
        const r = s.node(applyArgs("10.10.10.24; reboot"));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("bad monitoring address");
        expect(s.calls()).toEqual([]);
    });
});

describe("vzdump-metrics.sh, called as vzdump calls it", () => {
    const installed = () => {
        const s = scratch();
        expect(s.node(applyArgs("10.10.10.24")).status).toBe(0);
        return s;
    };
    const checkMetrics = (text: string) => spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });

    test("a job with one good and one failed guest: the metrics BACKUP_METRICS names, valid for the real promtool", () => {
        const s = installed();
        for (const [args, type] of [
            [["job-init"]], [["job-start"]],
            [["backup-start", "snapshot", "110"], "lxc"], [["pre-stop", "snapshot", "110"], "lxc"], [["backup-end", "snapshot", "110"], "lxc"], [["log-end", "snapshot", "110"], "lxc"],
            [["backup-start", "snapshot", "111"], "lxc"], [["backup-abort", "snapshot", "111"], "lxc"], [["log-end", "snapshot", "111"], "lxc"],
            [["job-end"]],
        ] as [string[], string?][]) {
            const r = s.hook(args, type);
            expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: "" });
        }
        const text = s.metrics();
        const check = checkMetrics(text);
        expect(check.stdout + check.stderr).toBe("");
        expect(check.status).toBe(0);
        const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
        expect(samples).toEqual([
            `${BACKUP_METRICS.lastStatus}{vmid="110"} 1`,
            `${BACKUP_METRICS.lastStatus}{vmid="111"} 0`,
            `${BACKUP_METRICS.lastSuccess}{vmid="110"} 1700000000`,
        ]);
    });

    test("a later failure keeps the last success time, so BackupMissed still counts from it", () => {
        const s = installed();
        s.hook(["backup-end", "snapshot", "110"], "lxc");
        s.setNow(1700086400);
        s.hook(["backup-abort", "snapshot", "110"], "lxc");
        expect(s.metrics()).toContain(`${BACKUP_METRICS.lastStatus}{vmid="110"} 0\n`);
        expect(s.metrics()).toContain(`${BACKUP_METRICS.lastSuccess}{vmid="110"} 1700000000\n`);
        s.hook(["backup-end", "snapshot", "110"], "lxc");
        expect(s.metrics()).toContain(`${BACKUP_METRICS.lastSuccess}{vmid="110"} 1700086400\n`);
    });

    test("never fails a backup: an unwritable textfile directory is logged, and the hook exits 0", () => {
        const s = installed();
        fs.rmSync(path.join(s.root, "var/lib/prometheus/node-exporter"), { recursive: true });
        fs.writeFileSync(path.join(s.root, "var/lib/prometheus/node-exporter"), "not a directory");
        const r = s.hook(["backup-end", "snapshot", "110"], "lxc");
        expect(r.status).toBe(0);
        expect(r.stderr).toContain("could not update");
    });
});

describe("in the host graph", () => {
    test("one node-monitoring run per node, admitting the private monitoring container; the backup jobs name the hook after it is installed", async () => {
        const { graph } = await evaluateHost();
        const runs = ofType(graph.resources, TYPES.command).filter((c) => c.name.startsWith("host-monitoring-"));
        expect(runs.map((c) => c.name)).toEqual(["host-monitoring-pve"]);
        const create = String(input(runs[0], "create"));
        expect(create.split("\n")[0]).toBe(pve.create.split("\n")[0]);
        expect(create.split("\n")[0]).toContain("apply pve 10.10.10.24 ");
        for (const env of ["private", "public"]) {
            const job = byName(graph.resources, `${env}-backup-job`);
            expect(input(job, "script")).toBe(VZDUMP_HOOK_PATH);
            expect(job.dependencies).toContain(runs[0].urn);
        }
    });
});
