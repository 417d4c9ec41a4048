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
import { CLUSTER_CA_REQUEST, keyctlRequest, tuneAuthorizedKey, tuneLimits, tuneLimitsPath, tuneRequest, TUNE_SCRIPT_PATH } from "../components/access/vmTune";
import { validateRawConfig } from "../config/load";
import type { StackConfig } from "../config/schema";
import { NO_RC_HOME, stackSection } from "./helpers";

const SCRIPT = path.join(__dirname, "..", "components", "access", "scripts", "ai-dualstack-vm-tune.sh");

/** The validated config of an environment's stack file, without secrets. */
function stackConfig(stack: string): StackConfig {
    const raw = Object.fromEntries(Object.entries(stackSection(stack)).map(([k, v]) => [k.replace(/^ai-dualstack:/, ""), typeof v === "string" ? v : JSON.stringify(v)]));
    const validated = validateRawConfig({ ...raw, proxmoxApiToken: "plan-placeholder:x", proxmoxPassword: "plan-placeholder:x", sshPrivateKey: "plan-placeholder:x", vmTuneKey: "plan-placeholder:x", githubRunnerToken: "plan-placeholder:x", pveAuditToken: "plan-placeholder:x" }, undefined);
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
        // pct config <vmid>: 113 an unprivileged container with nesting, 114 one already with keyctl, 115 privileged,
        // 116 one whose keyctl is only pending (set while it ran, never rebooted): plain `pct config`
        // shows pending values, `--current` the ones in effect (pve-container API2/LXC/Config.pm `current`).
        fs.writeFileSync(path.join(bin, "pct"), [
            "#!/bin/sh",
            `echo "pct $*" >> "${calls}"`,
            'case "$1" in',
            '  config) case "$2" in 113) printf "arch: amd64\\nfeatures: nesting=1\\nunprivileged: 1\\n";; 114) printf "features: keyctl=1,nesting=1\\nunprivileged: 1\\n";; 115) printf "features: nesting=1\\n";; 116) case "$*" in *--current*) printf "features: nesting=1\\nunprivileged: 1\\n";; *) printf "features: keyctl=1,nesting=1\\nunprivileged: 1\\n";; esac;; *) exit 2;; esac ;;',
            '  status) echo "status: running" ;;',
            "esac",
        ].join("\n") + "\n", { mode: 0o755 });
    });

    const tune = (env: string, request: string | undefined, stopped = "") => spawnSync("bash", [SCRIPT, env], {
        encoding: "utf8",
        env: { HOME: NO_RC_HOME, PATH: `${bin}:/usr/bin:/bin`, AI_DUALSTACK_ROOT: root, STOPPED: stopped, ...(request !== undefined ? { SSH_ORIGINAL_COMMAND: request } : {}) },
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

    test("keyctl turns the feature on for its own unprivileged CI container and reboots it; a second run changes nothing", () => {
        const config = stackConfig("private");
        const ci = config.containers.find((ct) => ct.role === "cicd");
        expect(keyctlRequest(ci?.vmid ?? 0)).toBe("keyctl 113");
        // The limits the host stack installs name exactly the CI containers.
        expect(tuneLimits(config)).toContain("\nKEYCTL_VMIDS=113\n");
        expect(tuneLimits(stackConfig("public"))).toContain("\nKEYCTL_VMIDS=\n");
        const r = tune("private", "keyctl 113");
        expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: "" });
        const pct = () => fs.readFileSync(calls, "utf8").split("\n").filter((l) => /^pct (set|reboot)/.test(l));
        expect(pct()).toEqual(["pct set 113 --features keyctl=1,nesting=1", "pct reboot 113"]);
        fs.writeFileSync(calls, "");
        // refused: a container of the range that is not a CI container, another environment's,
        // a privileged one, extra words
        expect(tune("private", "keyctl 114")).toMatchObject({ status: 2, stderr: "ai-dualstack-vm-tune: refused: keyctl is only for the private CI containers (113), not 114\n" });
        expect(tune("public", "keyctl 113")).toMatchObject({ status: 2 });
        expect(tune("public", "keyctl 210")).toMatchObject({ status: 2, stderr: "ai-dualstack-vm-tune: refused: keyctl is only for the public CI containers (none), not 210\n" });
        expect(tune("private", "keyctl 113 --features fuse=1")).toMatchObject({ status: 2 });
        expect(pct()).toEqual([]);
        // with 114 and 115 listed too: 114 already has keyctl (nothing changes), 115 is privileged
        fs.writeFileSync(path.join(root, tuneLimitsPath("private")), tuneLimits(config).replace("KEYCTL_VMIDS=113", "KEYCTL_VMIDS=113,114,115"));
        expect(tune("private", "keyctl 114").status).toBe(0);
        expect(tune("private", "keyctl 115")).toMatchObject({ status: 2, stderr: "ai-dualstack-vm-tune: refused: container 115 is not unprivileged\n" });
        expect(pct()).toEqual([]);
    });

    test("keyctl reads the values in effect: a flag only pending (no reboot since it was set) is set again and the container rebooted", () => {
        fs.writeFileSync(path.join(root, tuneLimitsPath("private")), tuneLimits(stackConfig("private")).replace("KEYCTL_VMIDS=113", "KEYCTL_VMIDS=113,116"));
        fs.writeFileSync(calls, "");
        const r = tune("private", "keyctl 116");
        expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: "" });
        const lines = fs.readFileSync(calls, "utf8").split("\n");
        expect(lines).toContain("pct config 116 --current");
        expect(lines.filter((l) => /^pct (set|reboot)/.test(l))).toEqual(["pct set 116 --features keyctl=1,nesting=1", "pct reboot 116"]);
    });

    test("a limits file with a bad keyctl list fails closed", () => {
        fs.writeFileSync(path.join(root, tuneLimitsPath("private")), tuneLimits(stackConfig("private")).replace("KEYCTL_VMIDS=113", "KEYCTL_VMIDS=113;reboot"));
        expect(tune("private", "keyctl 113")).toMatchObject({ status: 1, stderr: expect.stringContaining("KEYCTL_VMIDS is not a list of VMIDs") });
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

    test("ca prints the cluster CA, which pmxcfs serves on every node, and takes nothing else", () => {
        const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        expect(tune("private", CLUSTER_CA_REQUEST)).toMatchObject({ status: 1, stderr: expect.stringContaining("/etc/pve/pve-root-ca.pem is missing") });
        fs.mkdirSync(path.join(root, "etc", "pve"), { recursive: true });
        fs.writeFileSync(path.join(root, "etc", "pve", "pve-root-ca.pem"), "not a certificate\n");
        expect(tune("public", CLUSTER_CA_REQUEST)).toMatchObject({ status: 1, stderr: expect.stringContaining("holds no PEM certificate") });
        fs.writeFileSync(path.join(root, "etc", "pve", "pve-root-ca.pem"), ca);
        expect(tune("public", CLUSTER_CA_REQUEST)).toMatchObject({ status: 0, stdout: ca, stderr: "" });
        expect(tune("private", "ca 101")).toMatchObject({ status: 2, stderr: expect.stringContaining("ca takes no arguments") });
        expect(qmCalls()).toEqual([]);
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
        ["a request of spaces only", "private", "   ", /no request/],
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
