/**
 * The `ai-dualstack:services` section: what runs inside the service LXCs (PostgreSQL,
 * Redis, WireGuard, the reverse proxy, the CI runner, monitoring), and the small named
 * checks that relate it to the rest of the stack config.
 *
 * Versions are the ones Debian 12 (the containers' template) ships, so they are pinned by
 * the release rather than by a third-party repository.
 */
import { z } from "zod";
import { pattern } from "./fields";
import { got } from "./messages";
import { isHostInCidr, isIpv4, parseCidr } from "./net";

const port = z.number().int().min(1).max(65535);

const ipv4 = z.string().refine(isIpv4, { error: (iss) => `expected an IPv4 address, ${got(iss.input)}` });
const cidrBlock = z.string().refine((s) => parseCidr(s) !== undefined, { error: (iss) => `expected a CIDR block like 10.99.10.0/24, ${got(iss.input)}` });
/** A WireGuard key: 32 bytes, base64 (what `wg genkey | wg pubkey` prints). */
const wireguardKey = pattern(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, "a WireGuard public key (44 characters of base64, from wg pubkey)");
/** A public DNS name (the reverse proxy gets a certificate for it). */
export const hostName = pattern(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a DNS name like chat.example.org");

/** PostgreSQL major versions Debian 12 ships. */
const POSTGRES_MAJORS = [15] as const;
/** Redis major versions Debian 12 ships (redis-server 5:7.0.x). */
const REDIS_MAJORS = [7] as const;

const postgresSchema = z.strictObject({
    /** pinned major version (Debian 12: 15) */
    version: z.literal(POSTGRES_MAJORS, { error: (iss) => `expected ${POSTGRES_MAJORS.join(" or ")} (what Debian 12 ships), ${got(iss.input)}` }).default(15),
});

const redisSchema = z.strictObject({
    /** pinned major version (Debian 12: 7) */
    version: z.literal(REDIS_MAJORS, { error: (iss) => `expected ${REDIS_MAJORS.join(" or ")} (what Debian 12 ships), ${got(iss.input)}` }).default(7),
    /** memory cap before Redis evicts least-recently-used keys */
    maxMemoryMiB: z.number().int().min(16).max(1_048_576).default(256),
});

const peerSchema = z.strictObject({
    /** device name, e.g. laptop */
    name: pattern(/^[a-z][a-z0-9-]{0,30}$/, "a peer name like laptop"),
    /** the peer's tunnel address, inside wireguard.subnet */
    address: ipv4,
    /**
     * the peer's public key; without it the program generates the peer's key pair and
     * exports a ready client config as a secret
     */
    publicKey: wireguardKey.optional(),
});

const wireguardSchema = z.strictObject({
    /** UDP port the VPN entry listens on */
    port: port.default(51820),
    /** tunnel subnet; the server takes its first address */
    subnet: cidrBlock.default("10.99.10.0/24"),
    /** the name or address peers dial (your public IP or DNS name), for the client configs */
    endpoint: z.string().regex(/^[A-Za-z0-9.-]+$/, { error: (iss) => `expected a host name or IPv4 address, ${got(iss.input)}` }).optional(),
    peers: z.array(peerSchema).default([]),
});

const proxySchema = z.strictObject({
    /** ACME account e-mail (certificate expiry notices) */
    email: z.email({ error: (iss) => `expected an e-mail address, ${got(iss.input)}` }).optional(),
});

const runnerSchema = z.strictObject({
    /** the repository (or organisation) the runner registers with */
    url: pattern(/^https:\/\/github\.com\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)?$/, "https://github.com/<owner>[/<repo>]"),
    /** labels added to the defaults (self-hosted, Linux, X64); the workflows' runs-on uses them */
    labels: z.array(pattern(/^[A-Za-z0-9_.-]+$/, "a runner label")).default(["ai-dualstack"]),
    /** actions/runner release, pinned with the sha256 of actions-runner-linux-x64-<version>.tar.gz */
    version: pattern(/^\d+\.\d+\.\d+$/, "a release like 2.336.0"),
    sha256: pattern(/^[0-9a-f]{64}$/, "the 64-digit sha256 from the release notes"),
});

const monitoringSchema = z.strictObject({
    /** how long Prometheus keeps samples */
    retention: pattern(/^\d+[dwy]$/, "a duration like 30d").default("30d"),
    /** where Alertmanager posts alerts (a webhook receiver: ntfy, Gotify, a chat bridge) */
    webhookUrl: pattern(/^https?:\/\/\S+$/, "an http(s) URL").optional(),
    /** a backup counts as missed when the last good one is older than this many hours */
    backupMaxAgeHours: z.number().int().min(1).max(24 * 31).default(26),
    /** a certificate alerts when it expires within this many days */
    certificateWarningDays: z.number().int().min(1).max(90).default(14),
});

export const servicesSchema = z.strictObject({
    postgres: postgresSchema.prefault({}),
    redis: redisSchema.prefault({}),
    /** the VPN entry on the private security container */
    wireguard: wireguardSchema.prefault({}),
    /** the reverse proxy on the public security container */
    proxy: proxySchema.prefault({}),
    /** the CI/CD container's GitHub Actions runner (required when a cicd container exists) */
    runner: runnerSchema.optional(),
    monitoring: monitoringSchema.prefault({}),
});

export type ServicesConfig = z.output<typeof servicesSchema>;

type Path = (string | number)[];
type Problem = (path: Path, message: string) => void;

interface StackView {
    readonly environment: string;
    readonly network: { readonly subnet: string };
    readonly containers: readonly { readonly role: string }[];
    readonly proxmox: { readonly auth: string; readonly username: string };
    readonly services: ServicesConfig;
    readonly apps: readonly ({ readonly publicHost?: string } | object)[];
}

/** The checks that relate `services` to the containers, network and credentials. */
export function serviceRules(c: StackView, problem: Problem): void {
    const roles = new Set(c.containers.map((ct) => ct.role));
    const { wireguard, runner } = c.services;

    const tunnel = parseCidr(wireguard.subnet);
    const envSubnet = parseCidr(c.network.subnet);
    if (tunnel && envSubnet && overlaps(tunnel, envSubnet)) {
        problem(["services", "wireguard", "subnet"], `${wireguard.subnet} overlaps the environment's subnet ${c.network.subnet}: the tunnel needs its own block`);
    }
    const seen = new Map<string, number>();
    wireguard.peers.forEach((peer, i) => {
        if (tunnel && isIpv4(peer.address) && !isHostInCidr(peer.address, tunnel)) {
            problem(["services", "wireguard", "peers", i, "address"], `${peer.address} is not a host address inside services.wireguard.subnet ${wireguard.subnet}`);
        } else if (tunnel && peer.address === firstHost(wireguard.subnet)) {
            problem(["services", "wireguard", "peers", i, "address"], `${peer.address} is the VPN server's own address`);
        }
        for (const [what, value] of [["name", peer.name], ["address", peer.address]] as const) {
            const key = `${what}:${value}`;
            const first = seen.get(key);
            if (first !== undefined) {
                problem(["services", "wireguard", "peers", i, what], `duplicate peer ${what} "${value}", already used at services.wireguard.peers[${first}]`);
            } else {
                seen.set(key, i);
            }
        }
    });
    if (wireguard.peers.length > 0 && c.environment !== "private") {
        problem(["services", "wireguard", "peers"], "WireGuard is the private environment's entry; the public side publishes through the proxy");
    }
    // Published apps (apps[].publicHost): the public security container runs the proxy.
    const hosts = new Map<string, number>();
    c.apps.forEach((app, i) => {
        if (!("publicHost" in app) || app.publicHost === undefined) {
            return;
        }
        const first = hosts.get(app.publicHost);
        if (first !== undefined) {
            problem(["apps", i, "publicHost"], `duplicate host "${app.publicHost}", already used at apps[${first}].publicHost`);
        } else {
            hosts.set(app.publicHost, i);
        }
        if (!roles.has("security")) {
            problem(["apps", i, "publicHost"], "needs a security container: the reverse proxy that publishes it runs there");
        }
    });

    if (roles.has("cicd")) {
        if (runner === undefined) {
            problem(["services", "runner"], "is required: the cicd container runs a GitHub Actions runner (url, version, sha256)");
        }
    }
}

/** The first host address of a block: the VPN server's tunnel address. */
export function firstHost(cidr: string): string {
    const block = parseCidr(cidr);
    if (block === undefined) {
        throw new Error(`not a CIDR block: ${cidr}`);
    }
    const n = block.network + 1;
    return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

function overlaps(a: { network: number; size: number }, b: { network: number; size: number }): boolean {
    return a.network < b.network + b.size && b.network < a.network + a.size;
}
