# shellcheck shell=bash
# Checks that the AI VM can run GPU containers: the driver sees the card, Docker runs with
# the NVIDIA runtime, and a container given the GPU sees it too.
#
#   verify.sh <expected GPU name part> <test image>
#
# Prints one line per check; the last line is `verified: <GPU name>`. Exits non-zero on the
# first failed check, so nothing that needs Docker on this VM is created before it passes.

[[ $# -eq 2 ]] || die "usage: verify.sh <expected GPU name part> <test image>"
expected=$1
image=$2

gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader) || die "nvidia-smi failed: the NVIDIA driver is not loaded"
log "driver sees: $gpu"
[[ $gpu == *"$expected"* ]] || die "expected a $expected, the driver sees '$gpu': is the right card passed through?"

docker info --format '{{json .Runtimes}}' | grep -q '"nvidia"' || die "Docker has no nvidia runtime (nvidia-ctk runtime configure did not take)"
log "docker: $(docker info --format '{{.ServerVersion}} (data root {{.DockerRootDir}})')"

seen=$(docker run --rm --gpus all "$image" nvidia-smi -L) || die "a container given --gpus all could not run nvidia-smi"
[[ $seen == *"$expected"* ]] || die "the GPU container sees '$seen', expected a $expected"
log "container sees: $seen"
log "verified: ${gpu%%,*}"
