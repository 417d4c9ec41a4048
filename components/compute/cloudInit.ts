/**
 * Renders the AI VM's cloud-init user-data. Pure and deterministic: the same config gives
 * the same bytes, so the snippet only changes when the config does (a changed snippet
 * never replaces the running VM: see QUIRKS.vmCloudInit).
 */
import { stringify } from "yaml";

export interface UserDataInput {
    readonly hostname: string;
    readonly user: string;
    readonly sshPublicKeys: readonly string[];
    /** Ubuntu package of the NVIDIA driver, e.g. nvidia-driver-570-open */
    readonly nvidiaDriver: string;
    /** where the data disk is mounted; Docker's data root lives there so models survive a rebuild */
    readonly dataMount: string;
    /** the data disk as the guest sees it (second SCSI disk) */
    readonly dataDevice: string;
}

/** Signing keys of the apt repositories, by fingerprint (cloud-init fetches them from the keyserver). */
export const APT_KEYS = {
    docker: "9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
    nvidiaContainerToolkit: "C95B321B61E88C1809C4F759DDCAE044F796ECB0",
} as const;

export const DATA_LABEL = "aidata";

export function renderUserData(input: UserDataInput): string {
    const doc = {
        hostname: input.hostname,
        manage_etc_hosts: true,
        users: [{
            name: input.user,
            groups: ["sudo", "docker"],
            shell: "/bin/bash",
            sudo: "ALL=(ALL) NOPASSWD:ALL",
            lock_passwd: true,
            ssh_authorized_keys: [...input.sshPublicKeys],
        }],
        ssh_pwauth: false,
        disable_root: true,
        // The data disk keeps its filesystem across VM rebuilds: format only when it has none.
        disk_setup: {
            [input.dataDevice]: { table_type: "gpt", layout: false, overwrite: false },
        },
        fs_setup: [{ label: DATA_LABEL, filesystem: "ext4", device: input.dataDevice, partition: "none", overwrite: false }],
        mounts: [[`LABEL=${DATA_LABEL}`, input.dataMount, "ext4", "defaults,nofail,discard", "0", "2"]],
        package_update: true,
        package_upgrade: true,
        apt: {
            sources: {
                docker: {
                    source: "deb [arch=amd64 signed-by=$KEY_FILE] https://download.docker.com/linux/ubuntu $RELEASE stable",
                    keyid: APT_KEYS.docker,
                },
                "nvidia-container-toolkit": {
                    source: "deb [signed-by=$KEY_FILE] https://nvidia.github.io/libnvidia-container/stable/deb/amd64 /",
                    keyid: APT_KEYS.nvidiaContainerToolkit,
                },
            },
        },
        packages: [
            "qemu-guest-agent",
            "docker-ce",
            "docker-ce-cli",
            "containerd.io",
            "docker-buildx-plugin",
            "docker-compose-plugin",
            "nvidia-container-toolkit",
        ],
        write_files: [{
            path: "/etc/docker/daemon.json",
            permissions: "0644",
            content: `${JSON.stringify({ "data-root": `${input.dataMount}/docker`, "log-driver": "local" }, null, 2)}\n`,
        }],
        runcmd: [
            ["systemctl", "enable", "--now", "qemu-guest-agent"],
            // The driver builds against the running kernel (DKMS), so its headers come first.
            ["sh", "-c", `apt-get install -y "linux-headers-$(uname -r)" ${input.nvidiaDriver}`],
            ["nvidia-ctk", "runtime", "configure", "--runtime=docker"],
            ["systemctl", "restart", "docker"],
        ],
        // The NVIDIA kernel module loads on the next boot.
        power_state: { mode: "reboot", message: "rebooting to load the NVIDIA driver", condition: true },
    };
    return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
