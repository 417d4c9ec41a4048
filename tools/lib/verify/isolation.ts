/**
 * Isolation probes, run over SSH from guests inside the environments:
 * - public stack: from the public AI VM, every TCP service port of every private guest is
 *   unreachable, and so are the Proxmox API (8006) and SSH of each node, unless the
 *   public VM's address is one of the admin sources;
 * - private stack: the public exporters answer the private monitoring container, and do
 *   not answer another private guest (the AI VM).
 * Ports come from `components/catalog.ts`, addresses from both stacks' config, each guest's
 * pinned host key from the stack outputs (`sshHostKeys`).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isHostInCidr, isIpv4, parseCidr } from "../../../config/net";
import type { StackConfig } from "../../../config/schema";
import { BASE_PORTS, PORTS, roleProfile, ServicePort } from "../../../components/catalog";
import { publishedPorts } from "../../../components/workloads/catalog";
import { PROJECT_DIR } from "../stackFile";
import type { CommandRunner } from "../runner";
import type { Check } from "./report";

/** Proxmox VE's API and web UI port (pve-manager's pveproxy). */
const PROXMOX_API_PORT = 8006;

export const PROBE_SCRIPT = path.join(PROJECT_DIR, "tools", "scripts", "tcp-probe.sh");

export interface ProbeTarget {
    readonly host: string;
    readonly port: number;
    /** e.g. "private-ai Ollama API" */
    readonly label: string;
    readonly expect: "open" | "closed";
}

export interface ProbeSource {
    readonly name: string;
    readonly ip: string;
    readonly user: string;
    /** the pinned host key, `ssh-ed25519 AAAA...`; undefined when the outputs lack it */
    readonly hostKey: string | undefined;
}

export interface ProbeSet {
    readonly from: ProbeSource;
    /** what the set proves, for the report */
    readonly purpose: string;
    readonly targets: readonly ProbeTarget[];
}

const tcp = (ports: readonly ServicePort[]) => ports.filter((p) => p.proto === "tcp");

/** Every TCP port a guest of this config serves, with the guest's name and address. */
function guestPorts(config: StackConfig): { name: string; ip: string; ports: ServicePort[] }[] {
    return [
        { name: config.aiVm.name, ip: config.aiVm.ip, ports: tcp([...BASE_PORTS, ...publishedPorts(config)]) },
        ...config.containers.map((ct) => ({ name: ct.name, ip: ct.ip, ports: tcp([...BASE_PORTS, ...roleProfile(ct.role, config.environment).ports]) })),
    ];
}

/** Whether an address is inside one of the admin sources (a CIDR or a single address). */
function isAdminSource(ip: string, adminSources: readonly string[]): boolean {
    return adminSources.some((src) => {
        if (isIpv4(src)) {
            return src === ip;
        }
        const cidr = parseCidr(src);
        return cidr !== undefined && isHostInCidr(ip, cidr);
    });
}

function source(name: string, ip: string, user: string, hostKeys: Readonly<Record<string, string>>): ProbeSource {
    return { name, ip, user, hostKey: hostKeys[name] };
}

/**
 * The probes for this stack. `own` is the stack being verified, `other` the other
 * environment's config (from its stack file), `adminSources` the host stack's.
 */
export function plannedProbes(own: StackConfig, other: StackConfig, hostKeys: Readonly<Record<string, string>>, adminSources: readonly string[]): ProbeSet[] {
    if (own.environment === "public") {
        const from = source(own.aiVm.name, own.aiVm.ip, own.aiVm.user, hostKeys);
        const targets: ProbeTarget[] = guestPorts(other).flatMap((g) => g.ports.map((p) => ({ host: g.ip, port: p.port, label: `${g.name} ${p.comment}`, expect: "closed" as const })));
        const admin = isAdminSource(from.ip, adminSources);
        if (!admin) {
            for (const host of own.hosts) {
                targets.push({ host: host.address, port: PROXMOX_API_PORT, label: `node ${host.name} Proxmox API`, expect: "closed" });
                targets.push({ host: host.address, port: own.proxmox.sshPort, label: `node ${host.name} SSH`, expect: "closed" });
            }
        }
        return [{ from, purpose: `public reaches nothing private${admin ? "" : ", nor the Proxmox API and SSH"}`, targets }];
    }
    // Private: the public exporters answer the monitoring container only.
    // Every exporter port (`from: "monitoring"`): the firewall's monitoring rule opens exactly these.
    const exporters: ProbeTarget[] = guestPorts(other).flatMap((g) => g.ports
        .filter((p) => p.from === "monitoring")
        .map((p) => ({ host: g.ip, port: p.port, label: `${g.name} ${p.comment}`, expect: "open" as const })));
    const monitoring = own.containers.find((ct) => ct.role === "monitoring");
    const sets: ProbeSet[] = [];
    if (monitoring !== undefined) {
        sets.push({ from: source(monitoring.name, monitoring.ip, "root", hostKeys), purpose: "public exporters answer the monitoring address", targets: exporters });
    }
    sets.push({
        from: source(own.aiVm.name, own.aiVm.ip, own.aiVm.user, hostKeys),
        purpose: "public exporters answer no other private address",
        targets: exporters.map((t) => ({ ...t, expect: "closed" as const })),
    });
    return sets;
}

/** The known_hosts line that pins a guest's host key (`[ip]:port` form for a port other than 22). */
export function knownHostsLine(ip: string, port: number, hostKey: string): string {
    return `${port === 22 ? ip : `[${ip}]:${port}`} ${hostKey}`;
}

/** ssh options every verify connection uses: the pinned key only, no prompts, no agent, no other known_hosts. */
export function pinnedSshOptions(knownHostsFile: string, identityFile: string): string[] {
    return [
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${knownHostsFile}`,
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-o", "ConnectTimeout=10",
        "-i", identityFile,
    ];
}

/** ssh arguments of a probe run: the pinned options, then the guest and the probe script's arguments. */
export function sshArgs(from: ProbeSource, knownHostsFile: string, identityFile: string, remoteArgs: readonly string[]): string[] {
    return [
        ...pinnedSshOptions(knownHostsFile, identityFile),
        "-p", String(PORTS.ssh),
        "-l", from.user,
        from.ip,
        "--",
        "bash", "-s", "--", ...remoteArgs,
    ];
}

/** Parses the probe script's lines: target -> open/closed. */
export function parseProbeOutput(stdout: string): Map<string, "open" | "closed"> {
    const seen = new Map<string, "open" | "closed">();
    for (const line of stdout.split("\n")) {
        const m = /^(open|closed) (\S+)$/.exec(line.trim());
        if (m) {
            seen.set(m[2], m[1] as "open" | "closed");
        }
    }
    return seen;
}

/** Runs each probe set over SSH from its source guest; one check per target. */
export async function runProbes(sets: readonly ProbeSet[], privateKey: string, runner: CommandRunner, progress: (line: string) => void): Promise<Check[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-dualstack-verify-"));
    const identity = path.join(dir, "id");
    fs.writeFileSync(identity, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    const script = fs.readFileSync(PROBE_SCRIPT, "utf8");
    const checks: Check[] = [];
    try {
        for (const set of sets) {
            const fromName = `from ${set.from.name}`;
            if (set.from.hostKey === undefined) {
                checks.push({ group: "isolation", name: fromName, status: "error", detail: `no pinned host key for ${set.from.name} in the stack output sshHostKeys: refusing to SSH to an unverified host` });
                continue;
            }
            const knownHosts = path.join(dir, `known_hosts-${set.from.name}`);
            fs.writeFileSync(knownHosts, `${knownHostsLine(set.from.ip, PORTS.ssh, set.from.hostKey)}\n`, { mode: 0o600 });
            progress(`isolation: ${set.targets.length} probes from ${set.from.name} (${set.from.ip}): ${set.purpose}`);
            const targets = set.targets.map((t) => `${t.host}:${t.port}`);
            const r = await runner.run("ssh", sshArgs(set.from, knownHosts, identity, targets), { input: script, timeoutMs: 30_000 + set.targets.length * 5_000 });
            if (r.code !== 0) {
                const said = r.stderr.split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? `exit ${r.code}`;
                checks.push({ group: "isolation", name: fromName, status: "error", detail: `could not run the probes over SSH (${set.from.user}@${set.from.ip}): ${said}` });
                continue;
            }
            const seen = parseProbeOutput(r.stdout);
            for (const t of set.targets) {
                const key = `${t.host}:${t.port}`;
                const state = seen.get(key);
                const name = `${set.from.name} -> ${key}`;
                if (state === undefined) {
                    checks.push({ group: "isolation", name, status: "error", detail: `${t.label}: the probe printed nothing for it` });
                } else if (state === t.expect) {
                    checks.push({ group: "isolation", name, status: "pass", detail: `${t.label}: ${state}, as it must be` });
                } else {
                    checks.push({
                        group: "isolation", name, status: "fail",
                        detail: t.expect === "closed" ? `BREACH: ${t.label} accepts connections from ${set.from.name}` : `${t.label} does not answer ${set.from.name}: monitoring cannot scrape it`,
                    });
                }
            }
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return checks;
}
