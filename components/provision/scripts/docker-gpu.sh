# shellcheck shell=bash
# Installs Docker Engine, the NVIDIA driver and the NVIDIA Container Toolkit on the AI VM,
# and loads the driver without a reboot. Safe to run again: it changes only what differs.
#
#   docker-gpu.sh <nvidia driver package> <data mount> <docker user>   (bundle: the two apt keyrings)
#
# - <docker user> (the VM's cloud-init user) joins the docker group: the Docker provider
#   connects as that user over ssh:// and runs `docker system dial-stdio`, which needs the
#   root:docker socket. Proxmox's cloud-init writes only the user and its keys (qemu-server
#   PVE/QemuServer/Cloudinit.pm), so nothing else puts it in that group.
# - Images stay on the data disk too: Docker Engine 29 uses the containerd image store on
#   fresh installs, whose layers live under /var/lib/containerd on the OS disk, outside
#   data-root; `features.containerd-snapshotter: false` keeps the classic store in data-root.
# - The apt repositories' signing keys come from this repository (components/provision/keys,
#   fingerprints pinned by its tests) as files of the step's bundle, never from a keyserver.
# - Docker keeps its data (images, the layers of the models' runtime) on the data disk and
#   starts only once that disk is mounted.
# - The driver is loaded with modprobe. The guest is never rebooted: a reboot resets the
#   passed-through card, and RTX 5090 resets under VFIO are a reported hazard.

[[ $# -eq 3 ]] || die "usage: docker-gpu.sh <nvidia driver package> <data mount> <docker user>"
driver=$1
data_mount=$2
docker_user=$3
[[ $docker_user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "bad user name '$docker_user'"
[[ $driver =~ ^nvidia-driver-[0-9]{3}(-server)?(-open)?$ ]] || die "bad driver package '$driver'"
[[ $data_mount =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount '$data_mount'"

apt_changed=0
# write_if_changed <file> <mode> <content>: returns 0 when it wrote.
write_if_changed() {
    local file=$ROOT$1 mode=$2 content=$3
    if [[ -f $file && "$(cat "$file")" == "$content" ]]; then
        return 1
    fi
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$content" >"$file"
    chmod "$mode" "$file"
    log "wrote $1"
}

# shellcheck disable=SC1091 # the guest's os-release
codename=$(. "$ROOT/etc/os-release" && echo "${VERSION_CODENAME:?}")

# Signing keys (armored; apt reads .asc keyrings directly), from the bundle.
docker_keyring=/etc/apt/keyrings/ai-dualstack-docker.asc
nvidia_keyring=/etc/apt/keyrings/ai-dualstack-nvidia-container-toolkit.asc
read_bundle
install_bundle_file "$docker_keyring"
install_bundle_file "$nvidia_keyring"
changed /etc/apt/keyrings/ && apt_changed=1

write_if_changed /etc/apt/sources.list.d/ai-dualstack-docker.sources 0644 "Types: deb
URIs: https://download.docker.com/linux/ubuntu
Suites: $codename
Components: stable
Architectures: amd64
Signed-By: $docker_keyring" && apt_changed=1

# NVIDIA's repository is flat (suite "/", no components).
write_if_changed /etc/apt/sources.list.d/ai-dualstack-nvidia-container-toolkit.sources 0644 "Types: deb
URIs: https://nvidia.github.io/libnvidia-container/stable/deb/amd64
Suites: /
Signed-By: $nvidia_keyring" && apt_changed=1

# Docker's data root on the data disk, bounded logs, and no start before the disk is mounted.
# Written before the first install so Docker never starts with its data on the OS disk.
daemon_json=/etc/docker/daemon.json
before=$(cat "$ROOT$daemon_json" 2>/dev/null || true)
mkdir -p "$ROOT/etc/docker"
runtimes=""
if [[ -n $before ]] && command -v jq >/dev/null 2>&1; then
    runtimes=$(jq -c '.runtimes // empty' <<<"$before")
fi
{
    printf '{\n  "data-root": "%s/docker",\n  "features": { "containerd-snapshotter": false },\n  "log-driver": "json-file",\n  "log-opts": { "max-size": "10m", "max-file": "3" }' "$data_mount"
    [[ -n $runtimes ]] && printf ',\n  "runtimes": %s' "$runtimes"
    printf '\n}\n'
} >"$ROOT$daemon_json"
write_if_changed /etc/systemd/system/docker.service.d/ai-dualstack.conf 0644 "[Unit]
RequiresMountsFor=$data_mount" && apt_changed=1

export DEBIAN_FRONTEND=noninteractive
if [[ $apt_changed -eq 1 ]] || ! dpkg-query -W docker-ce nvidia-container-toolkit "$driver" >/dev/null 2>&1; then
    log "apt-get update"
    apt-get update -q
fi
kernel=$(uname -r)
log "installing Docker Engine, $driver (kernel $kernel) and the NVIDIA Container Toolkit"
# The driver is built for the running kernel (DKMS), so its headers come first.
apt-get install -y -q --no-install-recommends \
    ca-certificates curl jq qemu-guest-agent "linux-headers-$kernel" \
    docker-ce docker-ce-cli containerd.io docker-buildx-plugin \
    "$driver" nvidia-container-toolkit

# Load the driver now: no reboot (see the header).
if ! lsmod | grep -q '^nvidia '; then
    log "loading the NVIDIA kernel module"
    if ! modprobe nvidia; then
        if lsmod | grep -q '^nouveau '; then
            die "nouveau holds the GPU; it is blacklisted for the next boot, but this VM is not rebooted automatically (GPU reset hazard): stop it and start it again from Proxmox, then re-run pulumi up"
        fi
        die "modprobe nvidia failed: see dmesg (an RTX 50 card needs an -open driver)"
    fi
fi
modprobe nvidia_uvm
# Creates the /dev/nvidia* nodes a container needs (normally done by the first nvidia-smi).
nvidia-modprobe -u -c=0 || true

nvidia-ctk runtime configure --runtime=docker
after=$(cat "$ROOT$daemon_json")
if ! id -nG "$docker_user" | tr ' ' '\n' | grep -qx docker; then
    log "adding $docker_user to the docker group"
    usermod -aG docker "$docker_user"
fi
systemctl daemon-reload
systemctl enable --now qemu-guest-agent docker
if [[ $before != "$after" ]]; then
    log "Docker configuration changed: restarting Docker"
    systemctl restart docker
fi
log "ready"
