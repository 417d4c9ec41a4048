/**
 * prometheus-pve-exporter in the monitoring container: how it is installed, its config
 * (/etc/prometheus/pve.yml, the host stack's read-only token) and its unit.
 *
 * Debian has no package of it (not in bookworm, bookworm-backports or trixie main), so
 * monitoring.sh puts it in a venv: its dependencies from upstream's own pip-compile lock
 * (`requirements.txt`, every package pinned with its sha256 hashes, generated for Python
 * 3.11, bookworm's python3) installed with `pip --require-hashes`, the lock itself checked
 * against the sha256 below; the exporter from the release's git commit, without
 * dependencies. Format of pve.yml and the flags: the project's README.rst ("Authentication",
 * "Usage"); the exporter passes a module's keys to proxmoxer.ProxmoxAPI(target, **module)
 * (src/pve_exporter/collector/__init__.py).
 */
import { stringify } from "yaml";
import { PLACEHOLDER_PREFIX } from "../../config/load";
import { PORTS } from "../catalog";

export const PVE_EXPORTER = {
    repository: "https://github.com/prometheus-pve/prometheus-pve-exporter",
    /** release v3.10.0 */
    version: "3.10.0",
    /** the commit tag v3.10.0 points at */
    commit: "316e9d912f2ea023bfb2866f9ea107537b91e528",
    /** sha256 of requirements.txt at that commit (pip-compile --generate-hashes, Python 3.11) */
    requirementsSha256: "073e7a38ddbf7dfebf404437ecbbe197554d356ce3dc0a27fd2a692486b3b698",
    venv: "/opt/prometheus-pve-exporter",
} as const;

export const PVE_EXPORTER_CONF = "/etc/prometheus/pve.yml";
export const PVE_EXPORTER_UNIT = "/etc/systemd/system/prometheus-pve-exporter.service";

/** what the offline plan renders for the token it cannot decrypt (a placeholder) */
const PLAN_STAND_IN = "ai-dualstack-monitoring@pve!metrics=00000000-0000-0000-0000-000000000000";

/** An API token `user@realm!tokenid=uuid` split as the exporter's config wants it. */
export function splitApiToken(token: string): { user: string; tokenName: string; tokenValue: string } {
    if (token.startsWith(PLACEHOLDER_PREFIX)) {
        return splitApiToken(PLAN_STAND_IN);
    }
    const m = /^([^\s@!]+@[^\s@!]+)!([A-Za-z][A-Za-z0-9._-]*)=([0-9a-f-]{36})$/.exec(token);
    if (m === null) {
        throw new Error("ai-dualstack:pveAuditToken: expected the form user@realm!tokenid=<uuid> (value not shown)");
    }
    return { user: m[1], tokenName: m[2], tokenValue: m[3] };
}

/**
 * pve.yml: one module, `default` (the scrape job's module=default). token_name is the
 * token id alone; the user goes in `user` (README.rst "Example pve.yml for token
 * authentication"). verify_ssl follows the stack's proxmox.insecure.
 */
export function pveExporterConfig(token: string, verifySsl: boolean): string {
    const t = splitApiToken(token);
    return `# ai-dualstack: written by the provisioning step; edits are overwritten.\n${stringify({
        default: { user: t.user, token_name: t.tokenName, token_value: t.tokenValue, verify_ssl: verifySsl },
    })}`;
}

/** The exporter's unit: as user prometheus, on localhost only (Prometheus runs next to it). */
export function pveExporterUnit(): string {
    return [
        "# ai-dualstack: prometheus-pve-exporter, installed by monitoring.sh",
        "[Unit]",
        "Description=Prometheus exporter for Proxmox VE (ai-dualstack)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "User=prometheus",
        "Group=prometheus",
        `ExecStart=${PVE_EXPORTER.venv}/bin/pve_exporter --config.file ${PVE_EXPORTER_CONF} --web.listen-address 127.0.0.1:${PORTS.pveExporter}`,
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}
