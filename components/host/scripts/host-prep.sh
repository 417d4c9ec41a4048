#!/usr/bin/env bash
# Host preparation of one Proxmox node for GPU passthrough: the one writer of this
# project's kernel command-line tokens, vfio-pci bindings and hugepage reservation.
# The host stack runs it once per node with the whole wanted state of both environments:
#
#   host-prep.sh apply [iommu=intel|amd] [vfio=<slot>]... [hugepages-1G=<n>] [hugepages-2M=<n>]
#   host-prep.sh revert
#
# apply converges the node to exactly the given state (tokens, bound slots) and changes
# nothing when it is already there; revert takes out everything apply put in. Both hold a
# host-wide lock (flock), so two runs never interleave their read-modify-write of the boot
# configuration.
#
# Hugepages come only from the kernel command line, at boot; nothing is reserved at
# runtime (see report_hugepages).
#
# Retry-safe: before the first file is touched, the boot commands the change needs
# (update-initramfs, proxmox-boot-tool refresh, update-grub) are recorded in
# boot-commands.pending, which is cleared only once they all succeeded. A run that finds
# the record (an earlier run failed half-way) runs them even when the files are already
# right, so a failed refresh is never mistaken for "unchanged".
#
# Where the command line goes depends on how the node boots (pve-docs system-booting.adoc;
# proxmox-kernel-helper proxmox-boot/zz-proxmox-boot):
#   systemd-boot (UEFI without Secure Boot, ZFS/btrfs root): /etc/kernel/cmdline, then
#       `proxmox-boot-tool refresh` writes it into every ESP's loader entries;
#   GRUB on the ESPs managed by proxmox-boot-tool (ZFS root on legacy BIOS, or Secure
#       Boot): /etc/default/grub.d, then `proxmox-boot-tool refresh` runs update-grub for
#       each ESP; /etc/kernel/cmdline exists there too (the installer always writes it on
#       ZFS, pve-installer Proxmox/Install.pm) but nothing reads it;
#   plain GRUB (ext4/xfs/LVM root): /etc/default/grub.d, then update-grub.
# `proxmox-boot-tool status` tells the first two apart: it lists each ESP as "uefi" or
# "grub" and whether the system booted with UEFI.
set -euo pipefail

# AI_DUALSTACK_ROOT lets the tests run this against a scratch directory instead of /.
readonly ROOT=${AI_DUALSTACK_ROOT:-}
readonly STATE=$ROOT/etc/ai-dualstack
readonly MANAGED=$STATE/cmdline.managed
readonly PENDING=$STATE/boot-commands.pending
# Runtime hugepage record of earlier versions of this script; it is no longer acted on.
readonly LEGACY_RESERVED=$STATE/hugepages.reserved
readonly GRUB_DROPIN=$ROOT/etc/default/grub.d/ai-dualstack.cfg
readonly PVE_CMDLINE=$ROOT/etc/kernel/cmdline
readonly ESP_LIST=$ROOT/etc/kernel/proxmox-boot-uuids
readonly LOCK=$ROOT/run/lock/ai-dualstack-host-prep.lock
readonly VFIO_PREFIX=ai-dualstack-vfio-
readonly INITRAMFS_UPDATE="update-initramfs -u -k all"
# Every command a change can need, in the order they must run: the initramfs first, then
# the boot loader copies it (and the command line) to where the firmware finds it.
readonly BOOT_COMMANDS=("$INITRAMFS_UPDATE" "proxmox-boot-tool refresh" "update-grub")

say() { echo "host-prep: $*"; }
die() { echo "host-prep: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: $0 apply [iommu=intel|amd] [vfio=<slot>]... [hugepages-1G=<n>] [hugepages-2M=<n>] | revert"
action=$1
shift
iommu=""
huge1g=0
huge2m=0
slots=()
case $action in
    apply)
        for arg in "$@"; do
            case $arg in
                iommu=intel | iommu=amd) iommu=${arg#iommu=} ;;
                vfio=*)
                    [[ ${arg#vfio=} =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}$ ]] || die "bad PCI slot '${arg#vfio=}' (expected 0000:01:00)"
                    slots+=("${arg#vfio=}")
                    ;;
                hugepages-1G=*)
                    [[ ${arg#*=} =~ ^[0-9]+$ ]] || die "bad hugepage count '$arg'"
                    huge1g=${arg#*=}
                    ;;
                hugepages-2M=*)
                    [[ ${arg#*=} =~ ^[0-9]+$ ]] || die "bad hugepage count '$arg'"
                    huge2m=${arg#*=}
                    ;;
                *) die "unknown argument '$arg'" ;;
            esac
        done
        ;;
    revert) [[ $# -eq 0 ]] || die "revert takes no arguments" ;;
    *) die "unknown action '$action'" ;;
esac

mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 900 9 || die "another host-prep run held $LOCK for 15 minutes"

# The kernel tokens for the wanted state, one a line. AMD's IOMMU is on by default and
# `amd_iommu=on` is no value the kernel knows (kernel-parameters.txt: amd_iommu= takes
# fullflush, off, force_isolation...); `iommu=pt` keeps host devices off the IOMMU's path.
wanted_tokens() {
    case $iommu in
        intel) printf '%s\n' intel_iommu=on iommu=pt ;;
        amd) printf '%s\n' iommu=pt ;;
    esac
    if [[ $huge1g -gt 0 ]]; then
        printf '%s\n' default_hugepagesz=1G hugepagesz=1G "hugepages=$huge1g"
    fi
    if [[ $huge2m -gt 0 ]]; then
        printf '%s\n' hugepagesz=2M "hugepages=$huge2m"
    fi
}

# systemd-boot | grub-esp | grub
boot_layout() {
    if [[ ! -s $ESP_LIST ]]; then
        echo grub
        return
    fi
    local status
    status=$(proxmox-boot-tool status 2>/dev/null || true)
    if grep -q 'booted with uefi' <<<"$status" && grep -q 'configured with: uefi' <<<"$status" \
        && ! grep -q 'configured with: .*grub' <<<"$status"; then
        echo systemd-boot
    else
        echo grub-esp
    fi
}

# The boot commands the files being converged need when they change; set by each converge_*.
needs=()

# Records the commands in $needs as pending, before the file they are for is touched.
mark_pending() {
    local cmd
    mkdir -p "$STATE"
    for cmd in "${needs[@]}"; do
        grep -qxF -- "$cmd" "$PENDING" 2>/dev/null || printf '%s\n' "$cmd" >>"$PENDING"
    done
}

# Writes content to file if it differs; returns 0 when it changed something.
write_if_changed() {
    local file=$1 mode=$2 content=$3
    if [[ -f $file && "$(cat "$file")" == "$content" ]]; then
        return 1
    fi
    mark_pending
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$content" >"$file.tmp.$$"
    chmod "$mode" "$file.tmp.$$"
    mv "$file.tmp.$$" "$file"
}

remove_if_present() {
    local file=$1
    [[ -e $file ]] || return 1
    mark_pending
    rm -f "$file"
}

# The tokens of /etc/kernel/cmdline without the ones this script added last time, one a
# line. cmdline.managed lists only tokens this script added (never one the admin already
# had), and ours were appended, so each recorded token takes out its last occurrence: an
# admin's own copy of the same token stays.
admin_tokens() {
    local -a line=() ours=()
    local token i
    if [[ -f $PVE_CMDLINE ]]; then
        read -ra line <"$PVE_CMDLINE" || true
    fi
    if [[ -f $MANAGED ]]; then
        read -ra ours < <(tr '\n' ' ' <"$MANAGED") || true
    fi
    for token in "${ours[@]}"; do
        for ((i = ${#line[@]} - 1; i >= 0; i--)); do
            if [[ ${line[i]} == "$token" ]]; then
                unset 'line[i]'
                line=("${line[@]}")
                break
            fi
        done
    done
    [[ ${#line[@]} -eq 0 ]] || printf '%s\n' "${line[@]}"
}

# The wanted tokens this script must add to a line that already has the given tokens (one
# a line): a token the admin already has is not added twice. hugepagesz= and hugepages=
# are positional (hugepages= counts pages of the hugepagesz= before it, kernel
# Documentation/admin-guide/kernel-parameters.txt), so they always go in as our pairs.
cmdline_additions() {
    local base=$1 token
    while read -r token; do
        [[ -n $token ]] || continue
        case $token in
            hugepagesz=* | hugepages=*) echo "$token" ;;
            *) grep -qxF -- "$token" <<<"$base" || echo "$token" ;;
        esac
    done < <(wanted_tokens)
}

# Puts the tokens where the node's boot loader reads them and takes them out of the other
# place; a change records the boot command it needs as pending (mark_pending).
converge_cmdline() {
    local layout=$1 tokens=$2
    needs=("$(refresh_command "$layout")")
    if [[ $layout == systemd-boot ]]; then
        local base added line
        base=$(admin_tokens)
        added=$(cmdline_additions "$base" | paste -sd' ' -)
        line=$(printf '%s\n%s\n' "$base" "$added" | paste -sd' ' - | tr -s ' ' | sed 's/^ //; s/ $//')
        write_if_changed "$PVE_CMDLINE" 0644 "$line" || true
        if [[ -n $added ]]; then
            write_if_changed "$MANAGED" 0644 "$added" || true
        else
            remove_if_present "$MANAGED" || true
        fi
        remove_if_present "$GRUB_DROPIN" || true
    else
        if [[ -n $tokens ]]; then
            # shellcheck disable=SC2016 # the variable is for GRUB to expand, not us
            write_if_changed "$GRUB_DROPIN" 0644 "$(printf 'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} %s"' "$tokens")" || true
        else
            remove_if_present "$GRUB_DROPIN" || true
        fi
        # Tokens a systemd-boot layout (or an older version of this script) left there.
        if [[ -s $MANAGED && -f $PVE_CMDLINE ]]; then
            write_if_changed "$PVE_CMDLINE" 0644 "$(admin_tokens | paste -sd' ' -)" || true
        fi
        remove_if_present "$MANAGED" || true
    fi
}

# The command that puts a changed command line (or initramfs) where the node boots from.
refresh_command() {
    case $1 in
        grub) echo update-grub ;;
        *) echo "proxmox-boot-tool refresh" ;;
    esac
}

# Prints an initramfs-tools script: the standard prereqs header, then the given lines.
# shellcheck disable=SC2016 # the quoted lines are written verbatim for initramfs to run
initramfs_script() {
    printf '%s\n' '#!/bin/sh' 'PREREQ=""' 'prereqs() { echo "$PREREQ"; }' 'case "$1" in prereqs) prereqs; exit 0 ;; esac' "$@"
}

# Binds each wanted slot (all its functions: video and HDMI audio) to vfio-pci by PCI
# address, with files named after the slot (pve-docs qm-pci-passthrough.adoc: vfio
# modules, softdep on the GPU and audio drivers, then update the initramfs). Files of
# slots no longer wanted are removed. Returns 0 when something changed.
# shellcheck disable=SC2016 # the quoted lines are initramfs scripts, written verbatim for later
converge_vfio() {
    local changed=1 slot tag file
    local -A keep=()
    # The ESPs carry their own copy of the initrd: proxmox-boot-tool refresh copies it there.
    needs=("$INITRAMFS_UPDATE")
    [[ $layout == grub ]] || needs+=("proxmox-boot-tool refresh")
    for slot in "${slots[@]}"; do
        tag=$VFIO_PREFIX${slot//:/-}
        keep[$tag]=1
        write_if_changed "$ROOT/etc/modules-load.d/$tag.conf" 0644 "$(printf '%s\n' vfio vfio_iommu_type1 vfio_pci)" && changed=0
        write_if_changed "$ROOT/etc/modprobe.d/$tag.conf" 0644 "$(printf '%s\n' \
            "# ai-dualstack: vfio-pci must claim $slot before a GPU or audio driver does" \
            'softdep nouveau pre: vfio-pci' \
            'softdep nvidia pre: vfio-pci' \
            'softdep nvidiafb pre: vfio-pci' \
            'softdep snd_hda_intel pre: vfio-pci' \
            'options vfio-pci disable_vga=1')" && changed=0
        write_if_changed "$ROOT/etc/initramfs-tools/hooks/$tag" 0755 "$(initramfs_script \
            '. /usr/share/initramfs-tools/hook-functions' \
            'manual_add_modules vfio vfio_iommu_type1 vfio_pci')" && changed=0
        write_if_changed "$ROOT/etc/initramfs-tools/scripts/init-top/$tag" 0755 "$(initramfs_script \
            "for dev in /sys/bus/pci/devices/$slot.*; do" \
            '    [ -w "$dev/driver_override" ] && echo vfio-pci > "$dev/driver_override"' \
            'done' \
            'modprobe -i vfio-pci')" && changed=0
    done
    shopt -s nullglob
    for file in "$ROOT"/etc/modules-load.d/"$VFIO_PREFIX"*.conf "$ROOT"/etc/modprobe.d/"$VFIO_PREFIX"*.conf \
        "$ROOT"/etc/initramfs-tools/hooks/"$VFIO_PREFIX"* "$ROOT"/etc/initramfs-tools/scripts/init-top/"$VFIO_PREFIX"*; do
        tag=$(basename "$file" .conf)
        if [[ -z ${keep[$tag]:-} ]]; then
            mark_pending
            rm -f "$file"
            changed=0
        fi
    done
    shopt -u nullglob
    return $changed
}

# Hugepages are reserved by the kernel command line at boot and nowhere else. A runtime
# reservation cannot be kept right: the pool's count after a reboot already holds the
# pages the command line reserved, so "current - ours + wanted" from a record of the last
# boot reserves them twice. And it is not needed: until the reboot, qemu-server reserves
# what a hugepage VM lacks when it starts (qemu-server src/PVE/QemuServer/Memory.pm
# hugepages_allocate: grows nr_hugepages by wanted - free, and fails the start when the
# memory is too fragmented for 1G pages). So this only tells how the running pool
# compares with the command line.
report_hugepages() {
    local size label want sysfs now
    local -A wanted=([1048576kB]=$huge1g [2048kB]=$huge2m)
    for size in 1048576kB 2048kB; do
        want=${wanted[$size]}
        label=${size/1048576kB/1G}
        label=${label/2048kB/2M}
        sysfs=$ROOT/sys/kernel/mm/hugepages/hugepages-$size/nr_hugepages
        [[ -r $sysfs ]] || continue
        now=$(cat "$sysfs")
        if [[ $now -ne $want ]]; then
            say "$label hugepages: the running kernel holds $now, the boot command line asks for $want; reboot to apply (until then qemu-server reserves a VM's pages when it starts)"
        fi
    done
}

mkdir -p "$STATE"
# The two-stack layout kept per-environment fragments here; this script owns the whole state now.
rm -rf "$STATE/cmdline.d"
# Earlier versions reserved hugepages at runtime and recorded them here (see report_hugepages).
rm -f "$LEGACY_RESERVED"

if [[ $action == revert ]]; then
    iommu=""
    huge1g=0
    huge2m=0
    slots=()
fi

retry=0
if [[ -s $PENDING ]]; then
    retry=1
    say "an earlier run stopped before its boot commands finished ($(paste -sd',' "$PENDING")); running them again"
fi
layout=$(boot_layout)
tokens=$(wanted_tokens | paste -sd' ' -)
converge_cmdline "$layout" "$tokens"
converge_vfio || true

ran=0
if [[ -s $PENDING ]]; then
    for cmd in "${BOOT_COMMANDS[@]}"; do
        grep -qxF -- "$cmd" "$PENDING" || continue
        if [[ $cmd == "$INITRAMFS_UPDATE" ]]; then
            say "rebuilding the initramfs (vfio-pci bindings: ${slots[*]:-none})"
        else
            say "boot loader: $layout; running $cmd"
        fi
        $cmd
        ran=1
    done
    # Only now is the change where the node boots from.
    rm -f "$PENDING"
fi
report_hugepages

if [[ $ran -eq 0 ]]; then
    say "unchanged ($layout: ${tokens:-no tokens of ours}; vfio: ${slots[*]:-none})"
else
    [[ $retry -eq 1 ]] && say "the boot commands an earlier run left pending have run"
    say "the boot command line now carries: ${tokens:-nothing of ours} ($layout); reboot the node to apply"
fi
if [[ $action == revert ]]; then
    rmdir "$STATE" 2>/dev/null || true
fi
