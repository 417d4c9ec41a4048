/**
 * Provisioning steps inside the service containers as plain data: which script runs with
 * which arguments, and the bundle (rendered files and values) it reads on stdin. Pure, so
 * the tests run the exact command a `command.remote.Command` would run, against a scratch
 * root with stub tools.
 *
 * A step re-runs when its command (script text or arguments) or its bundle changes: both
 * are inputs of the remote command, and `@pulumi/command` runs `create` again on any input
 * change when no `update` is given. Running it again changes nothing (see scripts/lib.sh).
 */
import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "../naming";

export type ProvisionScript = "base.sh" | "postgres.sh" | "redis.sh" | "wireguard.sh" | "caddy.sh" | "runner.sh" | "monitoring.sh";

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
const cache = new Map<string, string>();

export function provisionScriptText(script: ProvisionScript | "lib.sh"): string {
    let text = cache.get(script);
    if (text === undefined) {
        text = fs.readFileSync(path.join(SCRIPT_DIR, script), "utf8");
        cache.set(script, text);
    }
    return text;
}

const MARKER = "AI_DUALSTACK_PROVISION_END";

/**
 * The command line that runs lib.sh + the script with `bash -c`, so the step's stdin
 * stays free for the bundle. `$0` is the script's name (its log prefix).
 */
export function provisionCommand(script: ProvisionScript, args: readonly string[]): string {
    const body = `${provisionScriptText("lib.sh")}\n${provisionScriptText(script)}`;
    if (body.includes(MARKER)) {
        throw new Error(`${script} must not contain the heredoc marker ${MARKER}`);
    }
    const argv = args.map(shellQuote).join(" ");
    return `bash -c "$(cat <<'${MARKER}'\n${body.replace(/\n+$/, "")}\n${MARKER}\n)" ${script.replace(/\.sh$/, "")}${argv ? ` ${argv}` : ""}`;
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

/** One step inside one container. */
export interface ProvisionStep {
    /** resource name suffix, unique within the container */
    readonly id: string;
    readonly description: string;
    readonly script: ProvisionScript;
    readonly args: readonly string[];
}
