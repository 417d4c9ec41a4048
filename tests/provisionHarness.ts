/**
 * Runs provisioning steps exactly as the remote commands would (the same command line, the
 * bundle on stdin), against a scratch root with the system tools stubbed: apt-get and
 * dpkg-query share a list of installed packages, systemctl remembers what runs, and every
 * stub call is recorded, so a test can see what a second run would change.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BundleEntry, bundleText, provisionCommand, ProvisionScript } from "../components/provision/steps";
import { scriptEnv } from "./helpers";

export interface Scratch {
    readonly root: string;
    readonly bin: string;
    readonly state: string;
    /** every stub call so far, one line each: `tool args...` */
    calls(): string[];
    /** forgets the calls so far */
    resetCalls(): void;
    /** a file under the scratch root */
    read(p: string): string;
    exists(p: string): boolean;
    /** adds an executable stub (a shell script body) */
    stub(tool: string, body: string): void;
    run(script: ProvisionScript, args: readonly string[], bundle: readonly BundleEntry[]): { status: number | null; stdout: string; stderr: string };
}

const RECORD = (calls: string) => `printf '%s\\n' "$(basename "$0") $*" >>"${calls}"`;

export function scratch(options: { mounts?: readonly string[]; installed?: readonly string[] } = {}): Scratch {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "provision-"));
    const root = path.join(dir, "root");
    const bin = path.join(dir, "bin");
    const state = path.join(dir, "state");
    const calls = path.join(state, "calls");
    for (const d of [root, bin, state]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(state, "installed"), (options.installed ?? []).map((p) => `${p}\n`).join(""));
    fs.writeFileSync(path.join(state, "mounts"), (options.mounts ?? []).map((m) => `${m}\n`).join(""));
    for (const m of options.mounts ?? []) fs.mkdirSync(path.join(root, m), { recursive: true });
    fs.writeFileSync(path.join(state, "active"), "");
    fs.writeFileSync(calls, "");

    const stub = (tool: string, body: string) => fs.writeFileSync(path.join(bin, tool), `#!/usr/bin/env bash\n${RECORD(calls)}\n${body}\n`, { mode: 0o755 });
    stub("apt-get", `if [ "$1" = install ]; then for a in "$@"; do case $a in -*|install) ;; *) echo "\${a%%=*}" >>"${state}/installed" ;; esac; done; fi`);
    stub("dpkg-query", `pkg=\${!#}; if grep -qx "$pkg" "${state}/installed"; then echo "install ok installed"; else exit 1; fi`);
    stub("systemctl", [
        `case $1 in`,
        `  is-active) grep -qx "\${!#}" "${state}/active" ;;`,
        `  start|restart) echo "$2" >>"${state}/active" ;;`,
        `  *) ;;`,
        `esac`,
    ].join("\n"));
    // The data mount is a mount point when the test says so (the scratch root has none).
    stub("mountpoint", `last=\${!#}; grep -qx "\${last#"${root}"}" "${state}/mounts"`);
    // Owners like postgres or redis do not exist here: record the change instead.
    stub("chown", "true");

    return {
        root, bin, state,
        calls: () => fs.readFileSync(calls, "utf8").split("\n").filter(Boolean),
        resetCalls: () => fs.writeFileSync(calls, ""),
        read: (p) => fs.readFileSync(path.join(root, p), "utf8"),
        exists: (p) => fs.existsSync(path.join(root, p)),
        stub,
        run(script, args, bundle) {
            const r = spawnSync("bash", ["-c", provisionCommand(script, args)], {
                input: bundleText(bundle),
                encoding: "utf8",
                env: scriptEnv({ PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: root }),
            });
            return { status: r.status, stdout: r.stdout, stderr: r.stderr };
        },
    };
}
