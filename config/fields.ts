/**
 * Field primitives of the stack config: one zod schema per kind of value (a pattern, a whole
 * number in a range, an IPv4 address, node and guest names, checksums, image references,
 * paths), each failing with one line in the project's words (`expected ..., got ...`).
 * Section schemas (schema.ts, hostSchema.ts, services.ts) are built from these.
 */
import { z } from "zod";
import { got, MISSING } from "./messages";
import { isIpv4, parseCidr } from "./net";

export const pattern = (re: RegExp, expected: string) =>
    z.string({ error: (iss) => (iss.input === undefined ? MISSING : `expected ${expected}, ${got(iss.input)}`) })
        .regex(re, { error: (iss) => `expected ${expected}, ${got(iss.input)}` });

export const int = (min: number, max: number, what = "a whole number") =>
    z.number({ error: (iss) => (iss.input === undefined ? MISSING : `expected ${what}, ${got(iss.input)}`) })
        .int({ error: (iss) => `expected ${what}, ${got(iss.input)}` })
        .min(min, { error: (iss) => `must be at least ${min}, ${got(iss.input)}` })
        .max(max, { error: (iss) => `must be at most ${max}, ${got(iss.input)}` });

export const ipv4 = z.string({ error: (iss) => (iss.input === undefined ? MISSING : `expected an IPv4 address, ${got(iss.input)}`) })
    .refine(isIpv4, { error: (iss) => `expected an IPv4 address like 10.10.0.10, ${got(iss.input)}` });

/** Proxmox node names are host names. */
export const nodeName = pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a Proxmox node name like pve");
/** Guest and resource names: DNS labels, so they work as host names and Proxmox names. */
export const guestName = pattern(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, "a lower-case DNS label like private-ai");
export const pciAddress = pattern(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/, "0000:01:00.0 form");
export const hexId = pattern(/^[0-9a-f]{4}$/, "a 4-digit lower-case hex PCI id like 10de");
export const subsystemId = pattern(/^[0-9a-f]{4}:[0-9a-f]{4}$/, "a subsystem id like 1462:397d");
export const sha256 = pattern(/^[0-9a-f]{64}$/, "a 64-digit hex sha256 checksum");
export const sha512 = pattern(/^[0-9a-f]{128}$/, "a 128-digit hex sha512 checksum");
export const httpsUrl = pattern(/^https:\/\/[^\s]+$/, "an https:// URL");
/** `10-15` or `0,2,4-7`: the cpuset syntax Proxmox takes for `affinity`. */
export const cpuSet = pattern(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, "a CPU set like 0-7 or 0,2,4-7");
export const sshPublicKey = pattern(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/, "an OpenSSH public key line");
/** A node's SSH host key as `ssh-keyscan` prints it, without the host name: `ssh-ed25519 AAAA...`. */
export const sshHostKey = pattern(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/,
    "the node's SSH host key like ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 <address>, without the host name; compare its fingerprint with ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the node's console)");

/**
 * A container mount point: absolute, and free of the `.`/`..` segments pve-container refuses
 * at apply time (`verify_lxc_mp_string` in src/PVE/LXC/Config.pm: "contains illegal character
 * sequences" for `/./`, `/../`, a trailing `/.` or `/..`).
 */
export const mountPath = pattern(/^\/[a-zA-Z0-9_./-]*$/, "an absolute path like /var/lib/postgresql")
    .refine((p) => !p.split("/").some((seg) => seg === "." || seg === ".."), {
        error: (iss) => `must not contain . or .. segments (Proxmox refuses them for mount points), ${got(iss.input)}`,
    });

/** `0-3,8` -> [0, 1, 2, 3, 8]: the CPUs of a Proxmox cpuset (`cpuSet`). */
export function cpuList(set: string): number[] {
    return set.split(",").flatMap((part) => {
        const [lo, hi] = part.split("-").map(Number);
        return hi === undefined ? [lo] : Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
    });
}

export const cidr = z.string().refine((v) => parseCidr(v) !== undefined || (isIpv4(v)), {
    error: (iss) => `expected an IPv4 address or CIDR block like 192.168.1.0/24, ${got(iss.input)}`,
});

/**
 * A container image with an explicit tag (or digest), never `latest`:
 * `[registry[:port]/]name[:tag][@sha256:digest]` with a tag other than latest, a digest, or
 * both (Docker's reference grammar, distribution/reference): a registry may carry a port,
 * so the tag is only what follows the last colon of the last path segment.
 */
export function isPinnedImage(ref: string): boolean {
    const [name, digest, ...rest] = ref.split("@");
    if (rest.length > 0 || (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))) {
        return false;
    }
    const slash = name.lastIndexOf("/");
    const lastSegment = name.slice(slash + 1);
    const colon = lastSegment.indexOf(":");
    const repository = colon < 0 ? name : name.slice(0, slash + 1 + colon);
    const tag = colon < 0 ? undefined : lastSegment.slice(colon + 1);
    const registryAndPath = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?\/)?[a-z0-9]+([._-][a-z0-9]+|__|\/[a-z0-9]+)*$/;
    if (!registryAndPath.test(repository)) {
        return false;
    }
    if (tag !== undefined && (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag) || tag === "latest")) {
        return false;
    }
    return tag !== undefined || digest !== undefined;
}
export const pinnedImage = z.string({ error: (iss) => (iss.input === undefined ? MISSING : `expected an image reference, ${got(iss.input)}`) })
    .refine(isPinnedImage, { error: (iss) => `expected an image with a pinned tag like ollama/ollama:0.9.6 (not latest), ${got(iss.input)}` });

export const envVarName = pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name");
export const urlPath = pattern(/^\/[A-Za-z0-9._~/?=&%-]*$/, "a URL path like /health");
export const hostPort = int(1, 65535, "a TCP port");
