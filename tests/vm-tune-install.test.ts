/**
 * The host stack's install of the tune path, run for real against scratch roots: the
 * commands the host graph holds (per node the script and limits, once the key lines),
 * executed by bash exactly as the remote commands run them. Root's authorized_keys is a
 * symlink into /etc/pve as on every Proxmox VE node (pve-cluster Setup.pm setup_ssh_keys).
 * Then the installed script, driven by the key line's forced command, takes the request the
 * environment stack sends.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { keyctlRequest, TUNE_INSTALLER_FILE, TUNE_SCRIPT_FILE, TUNE_SCRIPT_PATH, tuneKeysInstall, tuneLimits, tuneNodeInstall, tuneRequest } from "../components/access/vmTune";
import type { StackConfig } from "../config/schema";
import { byName, evaluate, evaluateHost, HostEvaluation, input, NO_RC_HOME, scriptEnv, TYPES } from "./helpers";

const OTHER_KEYS = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdminLaptopKey admin@laptop\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQClusterNodeKey root@pve\n";
const PUB = { private: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPrivateTuneKeyOne", public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicTuneKeyOne" };

let envs: Record<"private" | "public", StackConfig>;
let host: HostEvaluation;
beforeAll(async () => {
    envs = { private: (await evaluate("private")).config, public: (await evaluate("public")).config };
    host = await evaluateHost();
});

interface Root {
    readonly root: string;
    readonly run: (command: string) => { status: number | null; stdout: string; stderr: string };
    readonly read: (rel: string) => string | undefined;
    readonly snapshot: () => Record<string, string>;
}

/** A node: root's authorized_keys a symlink to the cluster's file, which holds other keys. */
function scratch(): Root {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vm-tune-install-"));
    fs.mkdirSync(path.join(root, "etc", "pve", "priv"), { recursive: true });
    fs.mkdirSync(path.join(root, "root", ".ssh"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc", "pve", "priv", "authorized_keys"), OTHER_KEYS);
    fs.symlinkSync(path.join(root, "etc", "pve", "priv", "authorized_keys"), path.join(root, "root", ".ssh", "authorized_keys"));
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(d, e.name);
        return e.isDirectory() ? walk(p) : [p];
    });
    return {
        root,
        run: (command) => {
            const r = spawnSync("bash", ["-c", command], { encoding: "utf8", env: scriptEnv({ AI_DUALSTACK_ROOT: root }) });
            return { status: r.status, stdout: r.stdout, stderr: r.stderr };
        },
        read: (rel) => (fs.existsSync(path.join(root, rel)) ? fs.readFileSync(path.join(root, rel), "utf8") : undefined),
        snapshot: () => Object.fromEntries(walk(root).filter((f) => !f.endsWith(".lock")).map((f) => [
            path.relative(root, f), fs.lstatSync(f).isSymbolicLink() ? `-> ${fs.readlinkSync(f)}` : fs.readFileSync(f, "utf8"),
        ])),
    };
}

const keyLines = (pub: typeof PUB) => tuneKeysInstall([{ environment: "private", publicKey: pub.private }, { environment: "public", publicKey: pub.public }], false);

test("the installer passes shellcheck with no warnings", () => {
    expect(execFileSync("shellcheck", ["--severity=style", TUNE_INSTALLER_FILE], { encoding: "utf8" })).toBe("");
});

describe("per node: the script and both environments' limits", () => {
    test("apply installs exactly them, a second apply changes nothing, revert leaves the node as it was", () => {
        const s = scratch();
        const pristine = s.snapshot();
        const install = tuneNodeInstall([envs.private, envs.public], false);
        const first = s.run(install.create);
        expect(first).toMatchObject({ status: 0, stderr: "" });
        expect(s.read(TUNE_SCRIPT_PATH.slice(1))).toBe(fs.readFileSync(TUNE_SCRIPT_FILE, "utf8"));
        expect(fs.statSync(path.join(s.root, TUNE_SCRIPT_PATH)).mode & 0o777).toBe(0o755);
        expect(s.read("etc/ai-dualstack/vm-tune/private.conf")).toBe(tuneLimits(envs.private));
        expect(s.read("etc/ai-dualstack/vm-tune/public.conf")).toBe(tuneLimits(envs.public));
        const installed = s.snapshot();
        expect(s.run(install.create)).toEqual({ status: 0, stdout: "", stderr: "" });
        expect(s.snapshot()).toEqual(installed);
        expect(s.run(install.delete).status).toBe(0);
        expect(s.snapshot()).toEqual(pristine);
    });

    test("an environment no longer listed loses its limits; a changed limit is rewritten", () => {
        const s = scratch();
        s.run(tuneNodeInstall([envs.private, envs.public], false).create);
        const smaller = { ...envs.private, aiVm: { ...envs.private.aiVm, memoryGiB: 32 } };
        const out = s.run(tuneNodeInstall([smaller], false).create);
        expect(out.stdout).toBe("vm-tune-install: wrote the private limits\nvm-tune-install: removed the public limits\n");
        expect(s.read("etc/ai-dualstack/vm-tune/private.conf")).toContain("HUGEPAGES_MAX_MIB=32768");
        expect(s.read("etc/ai-dualstack/vm-tune/public.conf")).toBeUndefined();
    });
});

describe("once for the cluster: the key lines in root's authorized_keys", () => {
    test("apply keeps every other key, writes through the symlink, and is idempotent; revert restores the file", () => {
        const s = scratch();
        const install = keyLines(PUB);
        expect(s.run(install.create)).toMatchObject({ status: 0, stderr: "" });
        // still a symlink to the cluster's file, which now holds the lines
        expect(fs.lstatSync(path.join(s.root, "root/.ssh/authorized_keys")).isSymbolicLink()).toBe(true);
        expect(s.read("etc/pve/priv/authorized_keys")).toBe(`${OTHER_KEYS}`
            + `restrict,command="${TUNE_SCRIPT_PATH} private" ${PUB.private} ai-dualstack-private-tune\n`
            + `restrict,command="${TUNE_SCRIPT_PATH} public" ${PUB.public} ai-dualstack-public-tune\n`);
        const once = s.snapshot();
        expect(s.run(install.create)).toEqual({ status: 0, stdout: "", stderr: "" });
        expect(s.snapshot()).toEqual(once);
        expect(s.run(install.delete).status).toBe(0);
        expect(s.read("etc/pve/priv/authorized_keys")).toBe(OTHER_KEYS);
    });

    test("a rotated key replaces the old line, never adds a second", () => {
        const s = scratch();
        s.run(keyLines(PUB).create);
        s.run(keyLines({ ...PUB, public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicTuneKeyTwo" }).create);
        const lines = (s.read("etc/pve/priv/authorized_keys") ?? "").trim().split("\n");
        expect(lines.filter((l) => l.includes("ai-dualstack-vm-tune"))).toEqual([
            `restrict,command="${TUNE_SCRIPT_PATH} private" ${PUB.private} ai-dualstack-private-tune`,
            `restrict,command="${TUNE_SCRIPT_PATH} public" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicTuneKeyTwo ai-dualstack-public-tune`,
        ]);
        expect(lines).toHaveLength(4);
    });

    test("bad arguments are refused before anything is written", () => {
        const s = scratch();
        const pristine = s.snapshot();
        const refuse = (args: string) => s.run(`bash ${TUNE_INSTALLER_FILE} ${args}`);
        const line = Buffer.from("ssh-ed25519 AAAA root@evil").toString("base64");
        expect(refuse(`keys apply ${line}`)).toMatchObject({ status: 1, stderr: "vm-tune-install: not a tune key line: ssh-ed25519 AAAA root@evil...\n" });
        expect(refuse("node apply IyEvYmluL3NoCg== staging=eA==")).toMatchObject({ status: 1, stderr: "vm-tune-install: bad limits argument 'staging=eA==' (expected <private|public>=<base64>)\n" });
        expect(refuse("node apply aGVsbG8=")).toMatchObject({ status: 1, stderr: "vm-tune-install: the tune script does not start with #!\n" });
        expect(refuse("keys revert now")).toMatchObject({ status: 1, stderr: "vm-tune-install: revert takes no arguments\n" });
        expect(s.snapshot()).toEqual(pristine);
    });
});

test("end to end: the installed key line's forced command takes the environment's own tune request", () => {
    const s = scratch();
    s.run(tuneNodeInstall([envs.private, envs.public], false).create);
    s.run(keyLines(PUB).create);
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "qm-"));
    const calls = path.join(bin, "calls");
    fs.writeFileSync(path.join(bin, "qm"), `#!/bin/sh\necho "qm $*" >> "${calls}"\ncase "$1" in config) echo "memory: 65536";; esac\n`, { mode: 0o755 });
    // What sshd runs for that key: the line's command, the request in SSH_ORIGINAL_COMMAND.
    const line = (s.read("etc/pve/priv/authorized_keys") ?? "").split("\n").find((l) => l.endsWith("ai-dualstack-private-tune")) ?? "";
    const forced = /command="([^"]+)"/.exec(line)?.[1] ?? "";
    expect(forced).toBe(`${TUNE_SCRIPT_PATH} private`);
    const [script, env] = forced.split(" ");
    const r = spawnSync("bash", [path.join(s.root, script), env], {
        encoding: "utf8",
        env: { HOME: NO_RC_HOME, PATH: `${bin}:/usr/bin:/bin`, AI_DUALSTACK_ROOT: s.root, SSH_ORIGINAL_COMMAND: tuneRequest(envs.private.aiVm) },
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(fs.readFileSync(calls, "utf8")).toContain(`qm set 101 --hugepages 1024 --keephugepages 1 --affinity 0-7 --startup order=2,up=30`);
});

test("end to end: the script and limits the host graph installs let only the CI container have keyctl", () => {
    const s = scratch();
    // Exactly the command the host stack runs on the node.
    expect(s.run(String(input(byName(host.graph.resources, "host-tune-pve"), "create")))).toMatchObject({ status: 0, stderr: "" });
    expect(s.read("etc/ai-dualstack/vm-tune/private.conf")).toContain("\nKEYCTL_VMIDS=113\n");
    expect(s.read("etc/ai-dualstack/vm-tune/public.conf")).toContain("\nKEYCTL_VMIDS=\n");
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "pct-"));
    const calls = path.join(bin, "calls");
    fs.writeFileSync(path.join(bin, "pct"), `#!/bin/sh\necho "pct $*" >> "${calls}"\ncase "$1" in config) printf "features: nesting=1\\nunprivileged: 1\\n";; status) echo "status: stopped";; esac\n`, { mode: 0o755 });
    const tune = (env: string, request: string) => spawnSync("bash", [path.join(s.root, TUNE_SCRIPT_PATH), env], {
        encoding: "utf8",
        env: { HOME: NO_RC_HOME, PATH: `${bin}:/usr/bin:/bin`, AI_DUALSTACK_ROOT: s.root, SSH_ORIGINAL_COMMAND: request },
    });
    const ci = envs.private.containers.find((ct) => ct.role === "cicd");
    expect(tune("private", keyctlRequest(ci?.vmid ?? 0))).toMatchObject({ status: 0, stderr: "" });
    expect(fs.readFileSync(calls, "utf8")).toContain(`pct set ${ci?.vmid} --features keyctl=1,nesting=1`);
    fs.writeFileSync(calls, "");
    // the monitoring container of the same range, and anything from the public key, are refused
    const monitoring = envs.private.containers.find((ct) => ct.role === "monitoring");
    expect(tune("private", keyctlRequest(monitoring?.vmid ?? 0)).status).toBe(2);
    expect(tune("public", keyctlRequest(envs.public.containers[0].vmid)).status).toBe(2);
    expect(fs.readFileSync(calls, "utf8")).not.toContain("pct set");
});

describe("in the host graph", () => {
    test("one install per node, updated in place, and one key install after them that is deleted before it is replaced", () => {
        const r = host.graph.resources;
        const node = byName(r, "host-tune-pve");
        expect(node.type).toBe(TYPES.command);
        expect(String(input(node, "create")).split("\n")[0]).toMatch(/^bash -s -- node apply [A-Za-z0-9+/=]+ private=[A-Za-z0-9+/=]+ public=[A-Za-z0-9+/=]+ <<'AI_DUALSTACK_SCRIPT_END'$/);
        expect(input(node, "update")).toBe(input(node, "create"));
        expect(String(input(node, "delete")).split("\n")[0]).toBe("bash -s -- node revert <<'AI_DUALSTACK_SCRIPT_END'");
        const keys = byName(r, "host-tune-keys");
        expect(String(input(keys, "create")).split("\n")[0]).toMatch(/^bash -s -- keys apply [A-Za-z0-9+/=]+ [A-Za-z0-9+/=]+ <<'AI_DUALSTACK_SCRIPT_END'$/);
        expect(keys.dependencies).toContain(node.urn);
        expect(keys.options.deleteBeforeReplace).toBe(true);
        // the key lines come from the generated keys' public halves
        const lines = String(input(keys, "create")).split("\n")[0].split(" ").slice(5, 7).map((b) => Buffer.from(b, "base64").toString("utf8"));
        expect(lines).toEqual([
            expect.stringMatching(new RegExp(`^restrict,command="${TUNE_SCRIPT_PATH} private" ssh-ed25519 \\S+ ai-dualstack-private-tune$`)),
            expect.stringMatching(new RegExp(`^restrict,command="${TUNE_SCRIPT_PATH} public" ssh-ed25519 \\S+ ai-dualstack-public-tune$`)),
        ]);
        for (const env of ["private", "public"]) {
            expect(input(byName(r, `${env}-tune-key`), "algorithm")).toBe("ED25519");
        }
    });
});
