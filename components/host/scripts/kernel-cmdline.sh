#!/usr/bin/env bash
# Manages this project's kernel command-line tokens on a Proxmox node, one fragment per
# environment and step, so the private and public stacks never overwrite each other.
#
#   kernel-cmdline.sh apply  <fragment> <token>...   write /etc/ai-dualstack/cmdline.d/<fragment>
#   kernel-cmdline.sh revert <fragment>              remove exactly that fragment
#
# Tokens are plain kernel parameters (intel_iommu=on) or hugepage reservations written as
# hugepages-1G=<count> / hugepages-2M=<count>; reservations from all fragments are summed.
# After every change the node's boot configuration is regenerated from all fragments:
# /etc/kernel/cmdline (proxmox-boot-tool, ZFS root) or a GRUB drop-in. A reboot applies it.
# On /etc/kernel/cmdline the tokens we added are recorded in cmdline.managed and only those
# are taken out again; a token the admin had typed there too is taken out with them.
set -euo pipefail

# AI_DUALSTACK_ROOT lets the tests run this against a scratch directory instead of /.
readonly ROOT=${AI_DUALSTACK_ROOT:-}
readonly STATE_DIR=$ROOT/etc/ai-dualstack/cmdline.d
readonly MANAGED=$ROOT/etc/ai-dualstack/cmdline.managed
readonly GRUB_DROPIN=$ROOT/etc/default/grub.d/ai-dualstack.cfg
readonly PVE_CMDLINE=$ROOT/etc/kernel/cmdline

die() { echo "kernel-cmdline: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: $0 apply|revert <fragment> [token...]"
action=$1
fragment=$2
shift 2
[[ $fragment =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "bad fragment name '$fragment'"
for token in "$@"; do
    [[ $token =~ ^[A-Za-z0-9_.=,-]+$ ]] || die "bad kernel token '$token'"
done

# Prints the command line our fragments ask for, one token a line.
desired_tokens() {
    local file line huge1g=0 huge2m=0
    local -A plain=()
    shopt -s nullglob
    for file in "$STATE_DIR"/*; do
        while IFS= read -r line; do
            case $line in
                "") ;;
                hugepages-1G=*) huge1g=$((huge1g + ${line#hugepages-1G=})) ;;
                hugepages-2M=*) huge2m=$((huge2m + ${line#hugepages-2M=})) ;;
                *) plain[$line]=1 ;;
            esac
        done <"$file"
    done
    if [[ ${#plain[@]} -gt 0 ]]; then
        printf '%s\n' "${!plain[@]}" | sort
    fi
    if [[ $huge1g -gt 0 ]]; then
        printf '%s\n' default_hugepagesz=1G hugepagesz=1G "hugepages=$huge1g"
    fi
    if [[ $huge2m -gt 0 ]]; then
        printf '%s\n' hugepagesz=2M "hugepages=$huge2m"
    fi
}

# Applies the 1G/2M reservations now as far as free memory allows; the boot parameters make them exact.
reserve_hugepages_now() {
    local size count sysfs
    local -a fragments
    shopt -s nullglob
    fragments=("$STATE_DIR"/*)
    for size in 1048576kB:1G 2048kB:2M; do
        count=0
        if [[ ${#fragments[@]} -gt 0 ]]; then
            count=$(awk -F= -v key="hugepages-${size#*:}" '$1 == key { n += $2 } END { print n + 0 }' "${fragments[@]}")
        fi
        sysfs=$ROOT/sys/kernel/mm/hugepages/hugepages-${size%%:*}/nr_hugepages
        if [[ $count -gt 0 && -w $sysfs ]]; then
            echo "$count" >"$sysfs" || true
            echo "kernel-cmdline: ${size#*:} hugepages now $(cat "$sysfs") of $count wanted (exact after reboot)"
        fi
    done
}

regenerate_boot_config() {
    local tokens
    tokens=$(desired_tokens | paste -sd' ' -)
    if [[ -f $PVE_CMDLINE ]]; then
        # proxmox-boot-tool: one line we share with the admin. Drop what we added last time, add what we want now.
        local previous current
        previous=$(cat "$MANAGED" 2>/dev/null || true)
        current=$(tr ' ' '\n' <"$PVE_CMDLINE" | grep -v '^$' | grep -vxF -f <(tr ' ' '\n' <<<"$previous" | grep -v '^$') || true)
        printf '%s\n' "$(printf '%s\n' "$current" "$tokens" | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')" >"$PVE_CMDLINE"
        printf '%s\n' "$tokens" >"$MANAGED"
        proxmox-boot-tool refresh
    else
        mkdir -p "$(dirname "$GRUB_DROPIN")"
        if [[ -n $tokens ]]; then
            # shellcheck disable=SC2016 # the variable is for GRUB to expand, not us
            printf 'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} %s"\n' "$tokens" >"$GRUB_DROPIN"
        else
            rm -f "$GRUB_DROPIN"
        fi
        printf '%s\n' "$tokens" >"$MANAGED"
        update-grub
    fi
    echo "kernel-cmdline: boot command line now carries: ${tokens:-(nothing of ours)}; reboot the node to apply"
}

mkdir -p "$STATE_DIR"
target=$STATE_DIR/$fragment
case $action in
    apply)
        [[ $# -gt 0 ]] || die "apply needs at least one token"
        wanted=$(printf '%s\n' "$@")
        if [[ -f $target && "$(cat "$target")" == "$wanted" ]]; then
            echo "kernel-cmdline: $fragment unchanged"
            exit 0
        fi
        printf '%s\n' "$wanted" >"$target"
        ;;
    revert)
        if [[ ! -f $target ]]; then
            echo "kernel-cmdline: $fragment not present, nothing to revert"
            exit 0
        fi
        rm -f "$target"
        ;;
    *) die "unknown action '$action'" ;;
esac
regenerate_boot_config
reserve_hugepages_now
