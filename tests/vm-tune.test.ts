/**
 * The forced-command tune script, run for real against a scratch root with a stub `qm`:
 * it accepts its own environment's VMIDs and values inside that environment's budget, and
 * refuses the other environment's VMIDs, values outside the budget and shell
 * metacharacters, changing nothing when it refuses.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { tuneAuthorizedKey, tuneLimits, tuneLimitsPath, tuneRequest, TUNE_SCRIPT_PATH } from "../components/access/vmTune";
import { validateRawConfig } from "../config/load";
import type { StackConfig } from "../config/schema";
import { stackSection } from "./helpers";

const SCRIPT = path.join(__dirname, "..", "components", "access", "scripts", "ai-dualstack-vm-tune.sh");

/** The validated config of an environment's stack file, without secrets. */
function stackConfig(stack: string): StackConfig {
    const raw = Object.fromEntries(Object.entries(stackSection(stack)).map(([k, v]) => [k.replace(/^ai-dualstack:/, ""), typeof v === "string" ? v : JSON.stringify(v)]));
    const validated = validateRawConfig({ ...raw, proxmoxApiToken: "plan-placeholder:x", proxmoxPassword: "plan-placeholder:x", sshPrivateKey: "plan-placeholder:x", vmTuneKey: "plan-placeholder:x" }, undefined);
    if (validated.kind !== "environment") {
        throw new Error(`${stack} is not an environment stack`);
    }
    return validated.stack;
}

test("the tune script passes shellcheck with no warnings", () => {
    expect(execFileSync("shellcheck", ["--severity=style", SCRIPT], { encoding: "utf8" })).toBe("");
});

describe("against a scratch root with a stub qm", () => {
    let root: string;
    let bin: string;
    let calls: string;

    beforeEach(() => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vm-tune-"));
        root = path.join(dir, "root");
        bin = path.join(dir, "bin");
        calls = path.join(dir, "calls");
        fs.mkdirSync(bin);
        for (const stack of ["private", "public"]) {
            const file = path.join(root, tuneLimitsPath(stack === "private" ? "private" : "public"));
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, tuneLimits(stackConfig(stack)));
        }
        // qm config <vmid> prints the VM's memory from a small table; everything else is logged.
        fs.writeFileSync(path.join(bin, "qm"), [
            "#!/bin/sh",
            `echo "qm $*" >> "${calls}"`,
            'case "$1" in',
            '  config) case "$2" in 101) echo "memory: 65536";; 201) echo "memory: 24576";; 202) echo "memory: 32768";; *) exit 2;; esac ;;',
            // VMs listed in $STOPPED report stopped (a freshly created AI VM), the rest running.
            '  status) case " $STOPPED " in *" $2 "*) echo "status: stopped";; *) echo "status: running";; esac ;;',
            "esac",
        ].join("\n") + "\n", { mode: 0o755 });
    });

    const tune = (env: string, request: string | undefined, stopped = "") => spawnSync("bash", [SCRIPT, env], {
        encoding: "utf8",
        env: { PATH: `${bin}:/usr/bin:/bin`, AI_DUALSTACK_ROOT: root, STOPPED: stopped, ...(request !== undefined ? { SSH_ORIGINAL_COMMAND: request } : {}) },
    });
    const qmCalls = () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "").split("\n").filter((l) => l.startsWith("qm set") || l.startsWith("qm start"));
    const qmSets = () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "").split("\n").filter((l) => l.startsWith("qm set"));

    test("accepts its own AI VM with the request the stack sends, and runs qm set", () => {
        const request = tuneRequest(stackConfig("private").aiVm);
        expect(request).toBe("set 101 --hugepages 1024 --keephugepages 1 --affinity 0-7 --startup order=2,up=30 --start 1");
        const r = tune("private", request);
        expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: "" });
        expect(qmSets()).toEqual(["qm set 101 --hugepages 1024 --keephugepages 1 --affinity 0-7 --startup order=2,up=30"]);
        // Already running: never restarted (a GPU reset hazard), the values wait for its next start.
        expect(r.stdout).toContain("apply at its next start");
        expect(qmCalls()).not.toContain("qm start 101");
    });

    test("a freshly created (stopped) VM is started only after its hugepages are set", () => {
        const r = tune("private", tuneRequest(stackConfig("private").aiVm), "101");
        expect(r.status).toBe(0);
        expect(qmCalls()).toEqual(["qm set 101 --hugepages 1024 --keephugepages 1 --affinity 0-7 --startup order=2,up=30", "qm start 101"]);
        expect(tune("private", "set 101 --startup order=2 --start yes", "101").status).toBe(2);
    });

    test("the public stack's request passes its own limits", () => {
        const r = tune("public", tuneRequest(stackConfig("public").aiVm));
        expect(r.status).toBe(0);
        expect(qmSets()).toEqual(["qm set 201 --hugepages 1024 --keephugepages 1 --affinity 8-15 --startup order=2,up=30"]);
    });

    test("none removes a setting", () => {
        const r = tune("private", "set 101 --hugepages none --affinity none");
        expect(r.status).toBe(0);
        expect(qmSets()).toEqual(["qm set 101 --delete hugepages,affinity"]);
    });

    test("show prints the tuned values of its own VM only", () => {
        expect(tune("private", "show 101").status).toBe(0);
        expect(tune("private", "show 201").status).toBe(2);
    });

    test.each([
        ["the other environment's VMID", "private", "set 201 --hugepages 1024", /VMID 201 is outside the private range 100-199/],
        ["a VMID below the range", "public", "set 101 --affinity 8-9", /VMID 101 is outside the public range 200-299/],
        ["CPUs outside the environment's set", "public", "set 201 --affinity 0-7", /CPU 0 is outside the public CPU set 8-15/],
        ["a CPU range running backwards", "private", "set 101 --affinity 7-0", /runs backwards/],
        ["a VM larger than the hugepage budget", "public", "set 202 --hugepages 1024", /32768 MiB, more than the public hugepage budget of 24576 MiB/],
        ["an unknown hugepage size", "private", "set 101 --hugepages 4", /--hugepages must be 2, 1024 or none/],
        ["an option it does not know", "private", "set 101 --args -no-reboot", /unknown option '--args'/],
        ["an unknown action", "private", "destroy 101", /unknown action 'destroy'/],
        ["a command separator", "private", "set 101 --hugepages 1024; rm -rf /", /may only hold letters, digits/],
        ["command substitution", "private", "set $(id) --hugepages 1024", /may only hold letters, digits/],
        ["backticks", "private", "set `id` --hugepages 1024", /may only hold letters, digits/],
        ["a pipe", "private", "show 101 | sh", /may only hold letters, digits/],
        ["a redirect", "private", "set 101 --hugepages 1024 > /etc/passwd", /may only hold letters, digits/],
        ["a glob", "private", "set 10* --hugepages 1024", /may only hold letters, digits/],
        ["a newline", "private", "set 101 --hugepages 1024\nreboot", /may only hold letters, digits/],
        ["no request at all (an interactive login)", "private", undefined, /no request/],
        ["a missing value", "private", "set 101 --affinity", /--affinity needs a value/],
        ["nothing to set", "private", "set 101", /nothing to set/],
    ])("refuses %s without calling qm set", (_what, env, request, message) => {
        const r = tune(env, request);
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(qmSets()).toEqual([]);
    });

    test("a missing limits file fails closed", () => {
        fs.rmSync(path.join(root, tuneLimitsPath("public")));
        const r = tune("public", "set 201 --hugepages 1024");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("run the host stack");
        expect(qmSets()).toEqual([]);
    });

    test("an environment without a CPU set cannot pin", () => {
        fs.writeFileSync(path.join(root, tuneLimitsPath("public")), "VMID_START=200\nVMID_END=299\nHUGEPAGES_MAX_MIB=0\nAFFINITY_CPUS=\n");
        expect(tune("public", "set 201 --affinity 8").stderr).toMatch(/no CPU set/);
        expect(tune("public", "set 201 --hugepages 2").stderr).toMatch(/budget of 0 MiB/);
    });
});

test("the authorized_keys line forces the script with the environment and allows nothing else", () => {
    expect(tuneAuthorizedKey("public", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkQ tune@public\n"))
        .toBe(`restrict,command="${TUNE_SCRIPT_PATH} public" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkQ tune@public`);
    expect(() => tuneAuthorizedKey("public", 'ssh-ed25519 AAAA x" command="sh')).toThrow(/not an OpenSSH public key/);
});
