/**
 * The public environment's reverse proxy: a Caddyfile with one site per published app.
 * Caddy obtains and renews each site's certificate (automatic HTTPS, ACME HTTP-01/TLS-ALPN
 * on ports 80/443) and redirects HTTP to HTTPS (caddyserver.com/docs/automatic-https).
 * Certificates are stored on the container's data volume (the `storage file_system`
 * global option), so a rebuilt container does not ask Let's Encrypt again.
 * The tests run the real `caddy validate` on the output.
 */
export interface ProxyRoute {
    /** public DNS name */
    readonly host: string;
    /** address:port of the app inside the environment */
    readonly upstream: string;
}

export interface CaddyInput {
    /** ACME account e-mail */
    readonly email?: string;
    /** where certificates and ACME state live (on the data volume) */
    readonly storageRoot: string;
    readonly routes: readonly ProxyRoute[];
}

export const CADDYFILE = "/etc/caddy/Caddyfile";

/**
 * Directories Debian's caddy.service cannot write: it sets `ProtectSystem=full`
 * (caddyserver/dist init/caddy.service, shipped as /lib/systemd/system/caddy.service by
 * Debian's caddy 2.6.2), which systemd.exec(5) defines as /usr, /boot, /efi and /etc
 * mounted read-only, recursively, for the service. Caddy's certificate storage (ACME
 * account, keys, certificates) must therefore live elsewhere: the public proxy's data
 * volume is /var/lib/caddy, the caddy user's home (Debian's caddy.postinst).
 */
export const CADDY_READ_ONLY_DIRS = ["/usr", "/boot", "/efi", "/etc"] as const;

/** Whether Caddy, run by Debian's unit, can write under this directory. */
export function caddyCanWrite(dir: string): boolean {
    return !CADDY_READ_ONLY_DIRS.some((ro) => dir === ro || dir.startsWith(`${ro}/`));
}

export function caddyfile(input: CaddyInput): string {
    const global = [
        "{",
        ...(input.email ? [`\temail ${input.email}`] : []),
        "\tstorage file_system {",
        `\t\troot ${input.storageRoot}`,
        "\t}",
        "}",
    ];
    const sites = [...input.routes].sort((a, b) => a.host.localeCompare(b.host)).flatMap((r) => [
        "",
        `${r.host} {`,
        "\tencode zstd gzip",
        `\treverse_proxy ${r.upstream}`,
        "}",
    ]);
    return [`# ai-dualstack: written by the provisioning step; edits are overwritten.`, ...global, ...sites, ""].join("\n");
}
