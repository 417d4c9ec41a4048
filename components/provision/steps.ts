/**
 * The AI VM's provisioning steps as plain data: which script runs with which arguments.
 * Pure, so the tests can run exactly the command a step sends to the VM.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "../naming";

export type GuestScript = "data-disk.sh" | "docker-gpu.sh" | "verify.sh" | "pull-model.sh";

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

export function guestScriptText(script: GuestScript): string {
    return read(path.join(SCRIPT_DIR, script));
}

/**
 * Signing keys of the apt repositories the VM installs from, shipped in this repository
 * (components/provision/keys) with their fingerprints pinned here and checked by the tests
 * with gpg. Nothing is fetched from a keyserver at boot.
 */
export const APT_KEYS = {
    /** Docker Release (CE deb) <docker@docker.com>, from download.docker.com/linux/ubuntu/gpg */
    docker: { file: "docker.asc", fingerprint: "9DC858229FC7DD38854AE2D88D81803C0EBFCD88" },
    /**
     * NVIDIA CORPORATION (Open Source Projects) <cudatools@nvidia.com>, the key behind
     * nvidia.github.io/libnvidia-container/gpgkey. The repository is signed by the primary
     * key itself (apt reports NO_PUBKEY DDCAE044F796ECB0 without it), which does not expire;
     * the old signing subkeys in this copy have expired and are not used.
     */
    nvidiaContainerToolkit: { file: "nvidia-container-toolkit.asc", fingerprint: "C95B321B61E88C1809C4F759DDCAE044F796ECB0" },
} as const;

export function aptKeyText(key: keyof typeof APT_KEYS): string {
    return read(path.join(KEY_DIR, APT_KEYS[key].file));
}

/**
 * A remote command that feeds the script to bash on stdin (a quoted heredoc), so nothing is
 * left behind on the VM and the command text changes, and the step re-runs, exactly when
 * the script or its arguments change.
 */
export function guestScriptCommand(script: GuestScript, args: readonly string[], sudo: boolean): string {
    const marker = "AI_DUALSTACK_SCRIPT_END";
    const body = guestScriptText(script);
    if (body.includes(marker)) {
        throw new Error(`${script} must not contain the heredoc marker ${marker}`);
    }
    const argv = args.map(shellQuote).join(" ");
    return `${sudo ? "sudo " : ""}bash -s -- ${argv} <<'${marker}'\n${body}${body.endsWith("\n") ? "" : "\n"}${marker}`;
}

/** A short content hash, for image tags built from files in this repository. */
export function contentHash(parts: readonly string[]): string {
    const hash = crypto.createHash("sha256");
    parts.forEach((p) => hash.update(p).update("\0"));
    return hash.digest("hex").slice(0, 12);
}
