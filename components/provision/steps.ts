/**
 * Provisioning steps as plain data, for the AI VM and the service containers alike: which
 * script runs with which arguments, and the bundle (files to install, values such as
 * passwords and keys) it reads on stdin. Pure, so the tests run the exact command a
 * `command.remote.Command` would run, against a scratch root with stub tools.
 *
 * One mechanism for every step (see remoteStep.ts for the resource):
 * - the command runs lib.sh + the script with `bash -c` from a quoted heredoc, so nothing is
 *   left behind on the guest and stdin stays free for the bundle;
 * - small non-secret parameters are arguments; files and secrets are bundle records on
 *   stdin, which is always a secret and never appears on a command line (ps);
 * - a step re-runs when its command (script text or arguments) or its bundle changes: both
 *   are inputs of the remote command, and `@pulumi/command` runs `create` again on any input
 *   change when no `update` is given; and when the guest it runs on is replaced (its id is a
 *   trigger). Running it again changes nothing (see scripts/lib.sh).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "../naming";

/** Scripts of the AI VM (Ubuntu, as the cloud-init user with sudo). */
export type GuestScript = "data-disk.sh" | "docker-gpu.sh" | "verify.sh" | "pull-model.sh";
/** Scripts of the service containers (Debian 12, as root). */
export type ContainerScript = "base.sh" | "postgres.sh" | "redis.sh" | "wireguard.sh" | "caddy.sh" | "runner.sh" | "monitoring.sh";
export type ProvisionScript = GuestScript | ContainerScript;

/** A rendered file the step installs. */
export interface BundleFile {
    readonly kind: "file";
    readonly path: string;
    /** octal, e.g. 0640 */
    readonly mode: string;
    /** owner:group */
    readonly owner: string;
    readonly content: string;
}

/** A named value the script reads (passwords, tokens). */
export interface BundleValue {
    readonly kind: "value";
    readonly name: string;
    readonly value: string;
}

export type BundleEntry = BundleFile | BundleValue;

export const file = (p: string, content: string, mode = "0644", owner = "root:root"): BundleFile => ({ kind: "file", path: p, mode, owner, content });
export const value = (name: string, v: string): BundleValue => ({ kind: "value", name, value: v });

const SCRIPT_DIR = path.join(__dirname, "scripts");
const KEY_DIR = path.join(__dirname, "keys");
const cache = new Map<string, string>();

function read(file: string): string {
    let text = cache.get(file);
    if (text === undefined) {
        text = fs.readFileSync(file, "utf8");
        cache.set(file, text);
    }
    return text;
}

function provisionScriptText(script: ProvisionScript | "lib.sh"): string {
    return read(path.join(SCRIPT_DIR, script));
}

/**
 * Signing keys of the apt repositories the AI VM installs from, shipped in this repository
 * (components/provision/keys) with their fingerprints pinned here and checked by the tests
 * with gpg. Nothing is fetched from a keyserver at boot.
 */
export const APT_KEYS = {
    /** Docker Release (CE deb) <docker@docker.com>, from download.docker.com/linux/ubuntu/gpg */
    docker: { file: "docker.asc", fingerprint: "9DC858229FC7DD38854AE2D88D81803C0EBFCD88", keyring: "/etc/apt/keyrings/ai-dualstack-docker.asc" },
    /**
     * NVIDIA CORPORATION (Open Source Projects) <cudatools@nvidia.com>, the key behind
     * nvidia.github.io/libnvidia-container/gpgkey. The repository is signed by the primary
     * key itself (apt reports NO_PUBKEY DDCAE044F796ECB0 without it), which does not expire;
     * the old signing subkeys in this copy have expired and are not used.
     */
    nvidiaContainerToolkit: {
        file: "nvidia-container-toolkit.asc",
        fingerprint: "C95B321B61E88C1809C4F759DDCAE044F796ECB0",
        keyring: "/etc/apt/keyrings/ai-dualstack-nvidia-container-toolkit.asc",
    },
} as const;

export function aptKeyText(key: keyof typeof APT_KEYS): string {
    return read(path.join(KEY_DIR, APT_KEYS[key].file));
}

/** The docker-gpu step's bundle: the apt signing keys, installed as keyrings. */
export function aptKeyBundle(): BundleFile[] {
    return (Object.keys(APT_KEYS) as (keyof typeof APT_KEYS)[]).map((key) => file(APT_KEYS[key].keyring, aptKeyText(key)));
}

const MARKER = "AI_DUALSTACK_PROVISION_END";

/**
 * The command line that runs lib.sh + the script with `bash -c`, so the step's stdin
 * stays free for the bundle. `$0` is the script's name (its log prefix). With `sudo`, the
 * whole shell runs as root (the AI VM's login user is not root).
 */
export function provisionCommand(script: ProvisionScript, args: readonly string[], options: { readonly sudo?: boolean } = {}): string {
    const body = `${provisionScriptText("lib.sh")}\n${provisionScriptText(script)}`;
    if (body.includes(MARKER)) {
        throw new Error(`${script} must not contain the heredoc marker ${MARKER}`);
    }
    const argv = args.map(shellQuote).join(" ");
    return `${options.sudo ? "sudo " : ""}bash -c "$(cat <<'${MARKER}'\n${body.replace(/\n+$/, "")}\n${MARKER}\n)" ${script.replace(/\.sh$/, "")}${argv ? ` ${argv}` : ""}`;
}

/** The bundle a step reads on stdin: one line per record, base64 payloads, `end` last. */
export function bundleText(entries: readonly BundleEntry[]): string {
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    const lines = entries.map((e) => {
        if (e.kind === "file") {
            if (!/^\/[A-Za-z0-9_./-]+$/.test(e.path) || e.path.includes("..")) {
                throw new Error(`bundle file path ${JSON.stringify(e.path)} is not a plain absolute path`);
            }
            return `file ${e.path} ${e.mode} ${e.owner} ${b64(e.content)}`;
        }
        if (!/^[A-Za-z0-9_.:-]+$/.test(e.name)) {
            throw new Error(`bundle value name ${JSON.stringify(e.name)} has characters the script refuses`);
        }
        return `value ${e.name} ${b64(e.value)}`;
    });
    return `${[...lines, "end"].join("\n")}\n`;
}

/** One step inside one guest. */
export interface ProvisionStep {
    /** resource name suffix, unique within the guest */
    readonly id: string;
    readonly description: string;
    readonly script: ProvisionScript;
    readonly args: readonly string[];
}

/** A short content hash, for image tags built from files in this repository. */
export function contentHash(parts: readonly string[]): string {
    const hash = crypto.createHash("sha256");
    parts.forEach((p) => hash.update(p).update("\0"));
    return hash.digest("hex").slice(0, 12);
}
