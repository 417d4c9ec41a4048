#!/usr/bin/env bash
# Host preparation of one Proxmox node for GPU passthrough: the one writer of this
# project's kernel command-line tokens, vfio-pci bindings and hugepage reservation.
# The host stack runs it once per node with the whole wanted state of both environments:
#
#   host-prep.sh apply [iommu=intel|amd] [vfio=<slot>]... [hugepages-1G=<n>] [hugepages-2M=<n>]
#   host-prep.sh revert
#
# apply converges the node to exactly the given state (tokens, bound slots, reserved
# pages) and changes nothing when it is already there; revert takes out everything apply
# put in, and releases the hugepages apply reserved. Both hold a host-wide lock (flock),
# so two runs never interleave their read-modify-write of the boot configuration.
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
readonly RESERVED=$STATE/hugepages.reserved
readonly GRUB_DROPIN=$ROOT/etc/default/grub.d/ai-dualstack.cfg
readonly PVE_CMDLINE=$ROOT/etc/kernel/cmdline
readonly ESP_LIST=$ROOT/etc/kernel/proxmox-boot-uuids
readonly LOCK=$ROOT/run/lock/ai-dualstack-host-prep.lock
readonly VFIO_PREFIX=ai-dualstack-vfio-

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

# Writes content to file if it differs; returns 0 when it changed something.
write_if_changed() {
    local file=$1 mode=$2 content=$3
    if [[ -f $file && "$(cat "$file")" == "$content" ]]; then
        return 1
    fi
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$content" >"$file.tmp.$$"
    chmod "$mode" "$file.tmp.$$"
    mv "$file.tmp.$$" "$file"
}

remove_if_present() {
    local file=$1
    [[ -e $file ]] || return 1
    rm -f "$file"
}

# /etc/kernel/cmdline without the tokens we put there last time.
admin_cmdline() {
    local previous
    previous=$(cat "$MANAGED" 2>/dev/null || true)
    tr ' ' '\n' <"$PVE_CMDLINE" | grep -v '^$' | grep -vxF -f <(tr ' ' '\n' <<<"$previous" | grep -v '^$') | paste -sd' ' - || true
}

# Puts the tokens where the node's boot loader reads them and takes them out of the other
# place. Prints the command that applies the change, or nothing when nothing changed.
converge_cmdline() {
    local layout=$1 tokens=$2 changed=0
    if [[ $layout == systemd-boot ]]; then
        local base line
        base=$(admin_cmdline)
        line=$(printf '%s %s' "$base" "$tokens" | tr -s ' ' | sed 's/^ //; s/ $//')
        write_if_changed "$PVE_CMDLINE" 0644 "$line" && changed=1
        if [[ -n $tokens ]]; then
            write_if_changed "$MANAGED" 0644 "$tokens" && changed=1
        else
            remove_if_present "$MANAGED" && changed=1
        fi
        remove_if_present "$GRUB_DROPIN" && changed=1
    else
        if [[ -n $tokens ]]; then
            # shellcheck disable=SC2016 # the variable is for GRUB to expand, not us
            write_if_changed "$GRUB_DROPIN" 0644 "$(printf 'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} %s"' "$tokens")" && changed=1
        else
            remove_if_present "$GRUB_DROPIN" && changed=1
        fi
        # Tokens a systemd-boot layout (or an older version of this script) left there.
        if [[ -s $MANAGED && -f $PVE_CMDLINE ]]; then
            write_if_changed "$PVE_CMDLINE" 0644 "$(admin_cmdline)" && changed=1
        fi
        remove_if_present "$MANAGED" && changed=1
    fi
    if [[ $changed -eq 1 ]]; then
        case $layout in
            grub) echo update-grub ;;
            *) echo "proxmox-boot-tool refresh" ;;
        esac
    fi
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
            rm -f "$file"
            changed=0
        fi
    done
    shopt -u nullglob
    return $changed
}

# Reserves the wanted hugepages now, as far as free memory allows (the boot parameters make
# it exact), and records how many of the pool are ours; with 0 wanted it releases exactly
# the pages recorded as ours, leaving anyone else's reservation alone.
converge_hugepages() {
    local size want key ours sysfs current target now got
    local -A wanted=([1048576kB]=$huge1g [2048kB]=$huge2m)
    local -A recorded=()
    if [[ -f $RESERVED ]]; then
        while IFS='=' read -r key ours; do
            [[ -n $key ]] && recorded[$key]=$ours
        done <"$RESERVED"
    fi
    local record=""
    for size in 1048576kB 2048kB; do
        want=${wanted[$size]}
        ours=${recorded[$size]:-0}
        sysfs=$ROOT/sys/kernel/mm/hugepages/hugepages-$size/nr_hugepages
        if [[ ! -w $sysfs ]]; then
            [[ $want -gt 0 ]] && say "no $sysfs here; the $want pages of $size come with the next boot"
            [[ $want -gt 0 ]] && record+="$size=$want"$'\n'
            continue
        fi
        current=$(cat "$sysfs")
        target=$((current - ours + want))
        [[ $target -lt 0 ]] && target=0
        if [[ $target -ne $current ]]; then
            echo "$target" >"$sysfs" || true
            now=$(cat "$sysfs")
            say "$size hugepages: $current -> $now (wanted $target; exact after a reboot)"
        else
            now=$current
        fi
        got=$((now - (current - ours)))
        [[ $got -lt 0 ]] && got=0
        [[ $got -gt $want ]] && got=$want
        [[ $got -gt 0 ]] && record+="$size=$got"$'\n'
    done
    if [[ -n $record ]]; then
        write_if_changed "$RESERVED" 0644 "${record%$'\n'}" || true
    else
        rm -f "$RESERVED"
    fi
}

mkdir -p "$STATE"
# The two-stack layout kept per-environment fragments here; this script owns the whole state now.
rm -rf "$STATE/cmdline.d"

if [[ $action == revert ]]; then
    iommu=""
    huge1g=0
    huge2m=0
    slots=()
fi

layout=$(boot_layout)
tokens=$(wanted_tokens | paste -sd' ' -)
boot_command=$(converge_cmdline "$layout" "$tokens")
vfio_changed=0
converge_vfio && vfio_changed=1

if [[ $vfio_changed -eq 1 ]]; then
    say "rebuilding the initramfs (vfio-pci bindings: ${slots[*]:-none})"
    update-initramfs -u -k all
    # The ESPs carry their own copy of the initrd: proxmox-boot-tool refresh copies it there.
    [[ $layout != grub && -z $boot_command ]] && boot_command="proxmox-boot-tool refresh"
fi
if [[ -n $boot_command ]]; then
    say "boot loader: $layout; running $boot_command"
    $boot_command
fi
converge_hugepages

if [[ -z $boot_command && $vfio_changed -eq 0 ]]; then
    say "unchanged ($layout: ${tokens:-no tokens of ours}; vfio: ${slots[*]:-none})"
else
    say "the boot command line now carries: ${tokens:-nothing of ours} ($layout); reboot the node to apply"
fi
if [[ $action == revert ]]; then
    rmdir "$STATE" 2>/dev/null || true
fi
