/**
 * Renders the AI VM's cloud-init user-data. Pure and deterministic: the same config gives
 * the same bytes, so the snippet only changes when the config does (a changed snippet
 * never replaces the running VM: see QUIRKS.vmCloudInit).
 */
import { stringify } from "yaml";
import { PORTS } from "../catalog";

/** What the AI VM serves: written to the VM as a manifest, a compose file and a unit. */
export interface AiServices {
    readonly environment: string;
    readonly gpuModel: string;
    readonly vramGiB: number;
    readonly models: readonly { readonly name: string; readonly sizeGiB: number }[];
    readonly ollamaImage: string;
    readonly vectorStore: "qdrant" | "chroma";
    readonly vectorStoreImage: string;
    readonly kvCacheType: string;
    readonly keepAlive: string;
}

/** Where the AI services' files live on the VM (policies read them back from the user-data). */
export const AI_PATHS = {
    manifest: "/etc/ai-dualstack/ai.json",
    compose: "/etc/ai-dualstack/compose.yaml",
    unit: "/etc/systemd/system/ai-dualstack.service",
    pullModels: "/usr/local/sbin/ai-dualstack-pull-models",
} as const;

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
    readonly services: AiServices;
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
        write_files: [
            {
                path: "/etc/docker/daemon.json",
                permissions: "0644",
                content: `${JSON.stringify({ "data-root": `${input.dataMount}/docker`, "log-driver": "local" }, null, 2)}\n`,
            },
            { path: AI_PATHS.manifest, permissions: "0644", content: `${JSON.stringify(manifest(input.services), null, 2)}\n` },
            { path: AI_PATHS.compose, permissions: "0644", content: renderCompose(input.services, input.dataMount) },
            { path: AI_PATHS.pullModels, permissions: "0755", content: renderPullScript(input.services) },
            { path: AI_PATHS.unit, permissions: "0644", content: renderUnit(input.dataMount) },
        ],
        runcmd: [
            ["systemctl", "enable", "--now", "qemu-guest-agent"],
            // The driver builds against the running kernel (DKMS), so its headers come first.
            ["sh", "-c", `apt-get install -y "linux-headers-$(uname -r)" ${input.nvidiaDriver}`],
            ["nvidia-ctk", "runtime", "configure", "--runtime=docker"],
            ["systemctl", "restart", "docker"],
            // Starts after the reboot below, once the GPU driver is loaded.
            ["systemctl", "enable", "ai-dualstack.service"],
        ],
        // The NVIDIA kernel module loads on the next boot.
        power_state: { mode: "reboot", message: "rebooting to load the NVIDIA driver", condition: true },
    };
    return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

export function manifest(services: AiServices) {
    return {
        environment: services.environment,
        gpu: { model: services.gpuModel, vramGiB: services.vramGiB },
        models: services.models.map((m) => ({ name: m.name, sizeGiB: m.sizeGiB })),
        images: { ollama: services.ollamaImage, [services.vectorStore]: services.vectorStoreImage },
    };
}

/** Ollama with the GPU plus the vector store, their data on the data disk. */
export function renderCompose(services: AiServices, dataMount: string): string {
    const vectorStore = services.vectorStore === "qdrant"
        ? { image: services.vectorStoreImage, restart: "unless-stopped", ports: [`${PORTS.qdrant}:6333`], volumes: [`${dataMount}/qdrant:/qdrant/storage`] }
        : { image: services.vectorStoreImage, restart: "unless-stopped", ports: [`${PORTS.chroma}:8000`], volumes: [`${dataMount}/chroma:/data`] };
    return stringify({
        name: "ai-dualstack",
        services: {
            ollama: {
                image: services.ollamaImage,
                container_name: "ollama",
                restart: "unless-stopped",
                ports: [`${PORTS.ollama}:11434`],
                volumes: [`${dataMount}/ollama:/root/.ollama`],
                environment: {
                    OLLAMA_FLASH_ATTENTION: "1",
                    OLLAMA_KV_CACHE_TYPE: services.kvCacheType,
                    OLLAMA_KEEP_ALIVE: services.keepAlive,
                },
                deploy: { resources: { reservations: { devices: [{ driver: "nvidia", count: "all", capabilities: ["gpu"] }] } } },
            },
            [services.vectorStore]: vectorStore,
        },
    }, { lineWidth: 0 });
}

function renderPullScript(services: AiServices): string {
    return [
        "#!/bin/sh",
        "# Pulls the models this environment serves (ai-dualstack); safe to run again.",
        "set -eu",
        "tries=0",
        "until docker exec ollama ollama list >/dev/null 2>&1; do",
        "    tries=$((tries + 1))",
        "    [ \"$tries\" -le 90 ] || { echo \"ollama did not come up\" >&2; exit 1; }",
        "    sleep 2",
        "done",
        ...services.models.map((m) => `docker exec ollama ollama pull '${m.name}'`),
        "",
    ].join("\n");
}

function renderUnit(dataMount: string): string {
    return [
        "[Unit]",
        "Description=ai-dualstack AI services (Ollama and the vector store)",
        "Requires=docker.service",
        "After=docker.service network-online.target",
        "Wants=network-online.target",
        `ConditionPathIsMountPoint=${dataMount}`,
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=/usr/bin/docker compose -f ${AI_PATHS.compose} up -d`,
        `ExecStartPost=${AI_PATHS.pullModels}`,
        `ExecStop=/usr/bin/docker compose -f ${AI_PATHS.compose} down`,
        "TimeoutStartSec=3600",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}
