/**
 * prometheus-pve-exporter in the monitoring container: how it is installed, its config
 * (/etc/prometheus/pve.yml, the host stack's read-only token), the cluster CA it verifies
 * the API with, and its unit.
 *
 * Debian has no package of it (not in bookworm, bookworm-backports or trixie main), so
 * monitoring.sh fetches the release commit with git and runs it from source (`python -m
 * pve_exporter`, src/pve_exporter/__main__.py; nothing is built, so no unpinned build
 * tool is downloaded: with bookworm's venv, which has setuptools but no `wheel`, building
 * the package without isolation fails, "invalid command 'bdist_wheel'", run here), with
 * its dependencies in a venv from upstream's own pip-compile lock (`requirements.txt`,
 * every package pinned with its sha256 hashes, generated for Python 3.11, bookworm's
 * python3; pyproject.toml requires-python >= 3.11) installed with `pip --require-hashes`,
 * the lock itself checked against the sha256 below. Format of pve.yml and the flags: the
 * project's README.rst ("Authentication", "Usage"); the exporter passes a module's keys to
 * proxmoxer.ProxmoxAPI(target, **module) (src/pve_exporter/collector/__init__.py).
 *
 * TLS: proxmoxer hands verify_ssl to requests as `verify` (proxmoxer/backends/https.py),
 * and requests, when verify is True, uses the bundle named by REQUESTS_CA_BUNDLE
 * (requests/sessions.py merge_environment_settings). The unit points it at a bundle of the
 * cluster's CA and Debian's public CAs; the cluster CA signs every node's API certificate with the node's IP address in its
 * subjectAltName (pve-cluster src/PVE/Cluster/Setup.pm gen_pve_ssl_cert), so the exporter
 * verifies `https://<hosts[].address>:8006` without turning the check off. A test runs
 * this for real: our pve.yml through Debian's proxmoxer and requests against a server with
 * a certificate made as Setup.pm makes it.
 */
import { X509Certificate } from "crypto";
import { stringify } from "yaml";
import { API_TOKEN, PLACEHOLDER_PREFIX } from "../../config/load";
import { PORTS } from "../catalog";

export const PVE_EXPORTER = {
    repository: "https://github.com/prometheus-pve/prometheus-pve-exporter",
    /** release v3.10.0 */
    version: "3.10.0",
    /** the commit tag v3.10.0 points at */
    commit: "316e9d912f2ea023bfb2866f9ea107537b91e528",
    /** sha256 of requirements.txt at that commit (pip-compile --generate-hashes, Python 3.11) */
    requirementsSha256: "073e7a38ddbf7dfebf404437ecbbe197554d356ce3dc0a27fd2a692486b3b698",
    /** where monitoring.sh puts it: the venv and the source tree */
    home: "/opt/prometheus-pve-exporter",
} as const;

export const PVE_EXPORTER_CONF = "/etc/prometheus/pve.yml";
export const PVE_EXPORTER_UNIT = "/etc/systemd/system/prometheus-pve-exporter.service";
/** the cluster's CA (/etc/pve/pve-root-ca.pem on the nodes), read through the tune key */
export const PVE_CA_FILE = "/etc/prometheus/pve-root-ca.pem";
/**
 * what the exporter trusts, written by monitoring.sh: the cluster CA, then Debian's public
 * CAs (/etc/ssl/certs/ca-certificates.crt) for a node with a certificate of its own (ACME),
 * read by its hosts[].apiName. A public CA cannot vouch for a node's private address.
 */
export const PVE_CA_BUNDLE = "/etc/prometheus/pve-ca-bundle.pem";

/** what the offline plan renders for the token it cannot decrypt (a placeholder) */
const PLAN_STAND_IN = "ai-dualstack-monitoring@pve!metrics=00000000-0000-0000-0000-000000000000";

/** An API token `user@realm!tokenid=uuid` split as the exporter's config wants it. */
export function splitApiToken(token: string): { user: string; tokenName: string; tokenValue: string } {
    if (token.startsWith(PLACEHOLDER_PREFIX)) {
        return splitApiToken(PLAN_STAND_IN);
    }
    const m = API_TOKEN.exec(token);
    if (m === null) {
        throw new Error("ai-dualstack:pveAuditToken: expected the form user@realm!tokenid=<uuid> (value not shown)");
    }
    return { user: m[1], tokenName: m[2], tokenValue: m[3] };
}

/**
 * pve.yml: one module, `default` (the scrape job's module=default). token_name is the
 * token id alone; the user goes in `user` (README.rst "Example pve.yml for token
 * authentication"). verify_ssl is always true, whatever proxmox.insecure says: the exporter
 * sends its token to whatever `?target=` a local client names (src/pve_exporter/http.py),
 * so an unverified connection could hand the token to any host; it verifies with the CA
 * bundle the unit names, which holds the cluster CA read over the pinned SSH channel.
 */
export function pveExporterConfig(token: string): string {
    const t = splitApiToken(token);
    return `# ai-dualstack: written by the provisioning step; edits are overwritten.\n${stringify({
        default: { user: t.user, token_name: t.tokenName, token_value: t.tokenValue, verify_ssl: true },
    })}`;
}

/**
 * The cluster CA as read from a node (the tune key's `ca` request), checked to be one PEM
 * X.509 CA certificate (Node's own parser), so a wrong file fails the deployment here with
 * its reason instead of as a failing scrape in Prometheus (the exporter answers any
 * error during collection with HTTP 500 for the whole scrape, src/pve_exporter/http.py).
 */
export function clusterCaCertificate(read: string): string {
    const pems = read.match(/-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (pems.length !== 1) {
        throw new Error(`the cluster CA read from /etc/pve/pve-root-ca.pem holds ${pems.length} PEM certificates, expected one`);
    }
    let cert: X509Certificate;
    try {
        cert = new X509Certificate(pems[0]);
    } catch (err) {
        throw new Error(`the cluster CA read from /etc/pve/pve-root-ca.pem does not parse: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!cert.ca) {
        throw new Error(`the certificate in /etc/pve/pve-root-ca.pem (${cert.subject.replace(/\n/g, ", ")}) is not a CA certificate`);
    }
    return `${pems[0]}\n`;
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
        // run from the pinned source tree with the venv's dependencies (nothing was built or installed as a package)
        `Environment=PYTHONPATH=${PVE_EXPORTER.home}/src`,
        // requests verifies the API against this bundle (verify_ssl: true in pve.yml)
        `Environment=REQUESTS_CA_BUNDLE=${PVE_CA_BUNDLE}`,
        `ExecStart=${PVE_EXPORTER.home}/venv/bin/python -m pve_exporter --config.file ${PVE_EXPORTER_CONF} --web.listen-address 127.0.0.1:${PORTS.pveExporter}`,
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
