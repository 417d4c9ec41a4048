/**
 * The narrow path to the VM options only root@pam may set (hugepages, keephugepages,
 * affinity) and the one that needs Sys.Modify on "/" (startup): the host stack installs
 * `scripts/ai-dualstack-vm-tune.sh` and a forced-command SSH key per environment; the
 * environment stack sends one request through it. Everything both sides must agree on
 * (paths, the request, the limits file, the authorized_keys line) is built here.
 *
 * Sources: qemu-server `src/PVE/API2/Qemu.pm` `$check_vm_modify_config_perm` (hugepages,
 * keephugepages and affinity are in none of its option tables, so anyone but
 * `$authuser eq 'root@pam'` gets "only root can set '<opt>' config"; a token's authuser is
 * `root@pam!<id>`) and its `startup` special case (`check_full(..., "/", ['Sys.Modify'])`).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import type { AiVmConfig, EnvironmentName, HostConfig, StackConfig } from "../../config/schema";
import { needsKeyctl } from "../compute/serviceContainer";
import { shellQuote } from "../naming";
import { heredocCommand, sshConnection } from "../remote";

/** Where the host stack installs the script on every node. */
export const TUNE_SCRIPT_PATH = "/usr/local/sbin/ai-dualstack-vm-tune";
/** The per-environment limits the script reads. */
export const tuneLimitsPath = (env: EnvironmentName): string => `/etc/ai-dualstack/vm-tune/${env}.conf`;

/** Seconds Proxmox waits after starting the AI VM before the next guest in the boot order. */
const AI_VM_UP_DELAY = 30;

/** The qm value of `hugepages` for a config value. */
function hugepagesValue(hugepages: AiVmConfig["hugepages"]): "2" | "1024" | "none" {
    return hugepages === "1G" ? "1024" : hugepages === "2M" ? "2" : "none";
}

/**
 * The request the environment stack sends (it becomes SSH_ORIGINAL_COMMAND on the node):
 * the AI VM's root-only options and its boot order, as config says.
 */
export function tuneRequest(vm: AiVmConfig): string {
    const hugepages = hugepagesValue(vm.hugepages);
    return [
        "set", String(vm.vmid),
        "--hugepages", hugepages,
        ...(hugepages !== "none" ? ["--keephugepages", "1"] : []),
        "--affinity", vm.cpuAffinity ?? "none",
        "--startup", `order=${vm.startupOrder},up=${AI_VM_UP_DELAY}`,
        // The VM is created stopped (quirk vmStartedByTune): it first runs with its hugepages.
        "--start", "1",
    ].join(" ");
}

/**
 * The limits file of one environment, from its own stack config: its VMID range, a
 * hugepage budget of exactly its AI VM's RAM (what the host reserves for it), its CPU set,
 * and the containers that may get keyctl (its CI containers, components/compute/serviceContainer.ts needsKeyctl).
 */
export function tuneLimits(config: StackConfig): string {
    const budgetMiB = config.aiVm.hugepages === "none" ? 0 : config.aiVm.memoryGiB * 1024;
    return [
        `# ai-dualstack: what the ${config.environment} stack may set through ${TUNE_SCRIPT_PATH}`,
        `VMID_START=${config.vmidRange.start}`,
        `VMID_END=${config.vmidRange.end}`,
        `HUGEPAGES_MAX_MIB=${budgetMiB}`,
        `AFFINITY_CPUS=${config.aiVm.cpuAffinity ?? ""}`,
        `KEYCTL_VMIDS=${config.containers.filter((ct) => needsKeyctl(ct.role)).map((ct) => ct.vmid).join(",")}`,
        "",
    ].join("\n");
}

/** root's authorized_keys line for an environment's tune key: it can run the script and nothing else. */
export function tuneAuthorizedKey(env: EnvironmentName, publicKey: string): string {
    const key = publicKey.trim();
    if (!/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+( [^\n"]*)?$/.test(key)) {
        throw new Error(`not an OpenSSH public key line: ${key.slice(0, 20)}...`);
    }
    return `restrict,command="${TUNE_SCRIPT_PATH} ${env}" ${key}`;
}

/** Where a request through the tune key goes: the node's sshd, as root, host key pinned. */
export interface TuneKeyTarget {
    /** the node the guest runs on */
    readonly node: HostConfig;
    readonly sshPort: number;
    /** the environment's tune key (secret): root on the node runs only the tune script for it */
    readonly tuneKey: pulumi.Input<string>;
}

function tuneKeyConnection(target: TuneKeyTarget): command.types.input.remote.ConnectionArgs {
    return sshConnection({
        host: target.node.address,
        port: target.sshPort,
        // the forced command sits in root's authorized_keys: qm and pct run as root
        user: "root",
        privateKey: target.tuneKey,
        hostKey: target.node.sshHostKey,
    });
}

/**
 * One request through the forced-command key, about one guest: it runs after the guest
 * exists, again when the request changes, and again when the guest is replaced.
 */
function tuneKeyCommand(name: string, target: TuneKeyTarget, request: string, guest: pulumi.CustomResource, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(name, {
        connection: tuneKeyConnection(target),
        create: request,
    }, {
        ...opts,
        dependsOn: [guest],
        replaceWith: [guest],
        deletedWith: guest,
    });
}

export interface VmTuneArgs extends TuneKeyTarget {
    readonly vm: AiVmConfig;
    /** the VM resource: the request re-runs whenever the VM is created again */
    readonly vmResource: pulumi.CustomResource;
}

/** The environment stack's side of the tune path: the AI VM's root-only options (and its first start). */
export function vmTuneCommand(name: string, args: VmTuneArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return tuneKeyCommand(name, args, tuneRequest(args.vm), args.vmResource, opts);
}

/** The request that turns keyctl on for a container (the CI runner's Docker needs it). */
export function keyctlRequest(vmid: number): string {
    return `keyctl ${vmid}`;
}

export interface ContainerKeyctlArgs extends TuneKeyTarget {
    readonly vmid: number;
    /** the container resource: the request re-runs whenever it is created again */
    readonly containerResource: pulumi.CustomResource;
}

/**
 * keyctl through the tune key: pve-container lets only root@pam change feature flags other
 * than nesting (src/PVE/LXC.pm check_ct_modify_config_perm), and the environment's token is
 * not root@pam (quirk containerRootOnlyFeatures). The script reboots a running container so
 * the flag takes effect, before anything is provisioned in it.
 */
export function containerKeyctlCommand(name: string, args: ContainerKeyctlArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return tuneKeyCommand(name, args, keyctlRequest(args.vmid), args.containerResource, opts);
}

/** The request that prints the cluster's CA certificate (/etc/pve/pve-root-ca.pem): read-only, about no guest. */
export const CLUSTER_CA_REQUEST = "ca";

/**
 * The cluster's CA, read from a node through the tune key (its host key pinned, so the
 * certificate arrives over a verified channel), for prometheus-pve-exporter to verify the
 * API with instead of turning the check off. pmxcfs serves the same file on every node.
 * It is read once; after the CA is regenerated, replace this resource (README, "Monitoring").
 */
export function clusterCaCommand(name: string, target: TuneKeyTarget, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return new command.remote.Command(name, { connection: tuneKeyConnection(target), create: CLUSTER_CA_REQUEST }, opts);
}

const SCRIPT_DIR = path.join(__dirname, "scripts");
/** The forced-command script, as the host stack installs it at TUNE_SCRIPT_PATH. */
export const TUNE_SCRIPT_FILE = path.join(SCRIPT_DIR, "ai-dualstack-vm-tune.sh");
/** The installer the host stack runs on the nodes (scripts/vm-tune-install.sh). */
export const TUNE_INSTALLER_FILE = path.join(SCRIPT_DIR, "vm-tune-install.sh");

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** The installer as a remote command: the script on stdin, its arguments quoted. */
function installerCommand(args: readonly string[], sudo: boolean): string {
    return heredocCommand("vm-tune-install.sh", fs.readFileSync(TUNE_INSTALLER_FILE, "utf8"), args.map(shellQuote).join(" "), sudo);
}

export interface InstallCommands {
    readonly create: string;
    readonly delete: string;
}

/**
 * The host stack's per-node install: the tune script and every environment's limits file
 * (the request goes to the node its VM runs on, which may be any node). Re-run when the
 * script or a limit changes; revert removes both.
 */
export function tuneNodeInstall(environments: readonly StackConfig[], sudo: boolean): InstallCommands {
    const script = fs.readFileSync(TUNE_SCRIPT_FILE, "utf8");
    return {
        create: installerCommand(["node", "apply", base64(script), ...environments.map((c) => `${c.environment}=${base64(tuneLimits(c))}`)], sudo),
        delete: installerCommand(["node", "revert"], sudo),
    };
}

/**
 * The host stack's install of the environments' key lines in root's authorized_keys, once
 * for the cluster: on Proxmox VE that file is /etc/pve/priv/authorized_keys, shared by
 * every node (pve-cluster src/PVE/Cluster/Setup.pm setup_ssh_keys).
 */
export function tuneKeysInstall(keys: readonly { environment: EnvironmentName; publicKey: string }[], sudo: boolean): InstallCommands {
    const lines = keys.map((k) => tuneAuthorizedKey(k.environment, `${k.publicKey.trim()} ai-dualstack-${k.environment}-tune`));
    return {
        create: installerCommand(["keys", "apply", ...lines.map(base64)], sudo),
        delete: installerCommand(["keys", "revert"], sudo),
    };
}
