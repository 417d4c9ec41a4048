#!/usr/bin/env bash
# Binds one GPU slot (all its functions: video and HDMI audio) to vfio-pci by PCI address,
# with files named after that slot only, so each environment owns exactly its own card.
#
#   vfio-bind.sh apply  <slot>    e.g. 0000:01:00
#   vfio-bind.sh revert <slot>
#
# Files written (and removed by revert):
#   /etc/modules-load.d/ai-dualstack-vfio-<slot>.conf         vfio modules at boot
#   /etc/modprobe.d/ai-dualstack-vfio-<slot>.conf             vfio-pci loads before GPU/audio drivers
#   /etc/initramfs-tools/hooks/ai-dualstack-vfio-<slot>       vfio modules into the initramfs
#   /etc/initramfs-tools/scripts/init-top/ai-dualstack-vfio-<slot>
#                                                             driver_override=vfio-pci for the slot
# then the initramfs is rebuilt. A reboot applies it.
set -euo pipefail

# AI_DUALSTACK_ROOT lets the tests run this against a scratch directory instead of /.
readonly ROOT=${AI_DUALSTACK_ROOT:-}

die() { echo "vfio-bind: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $0 apply|revert <pci-slot like 0000:01:00>"
action=$1
slot=$2
[[ $slot =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}$ ]] || die "bad PCI slot '$slot' (expected 0000:01:00)"
tag=ai-dualstack-vfio-${slot//:/-}

modules_load=$ROOT/etc/modules-load.d/$tag.conf
modprobe_conf=$ROOT/etc/modprobe.d/$tag.conf
hook=$ROOT/etc/initramfs-tools/hooks/$tag
init_top=$ROOT/etc/initramfs-tools/scripts/init-top/$tag

write_if_changed() {
    local file=$1 mode=$2 content=$3
    if [[ -f $file && "$(cat "$file")" == "$content" ]]; then
        return 1
    fi
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$content" >"$file"
    chmod "$mode" "$file"
}

# Prints an initramfs-tools script: the standard prereqs header, then the given lines.
# shellcheck disable=SC2016 # the quoted lines are written verbatim for initramfs to run
initramfs_script() {
    printf '%s\n' '#!/bin/sh' 'PREREQ=""' 'prereqs() { echo "$PREREQ"; }' 'case "$1" in prereqs) prereqs; exit 0 ;; esac' "$@"
}

# shellcheck disable=SC2016 # the quoted lines are initramfs scripts, written verbatim for later
apply() {
    local changed=0
    write_if_changed "$modules_load" 0644 "$(printf '%s\n' vfio vfio_iommu_type1 vfio_pci)" && changed=1
    write_if_changed "$modprobe_conf" 0644 "$(printf '%s\n' \
        "# ai-dualstack: vfio-pci must claim $slot before a GPU or audio driver does" \
        'softdep nouveau pre: vfio-pci' \
        'softdep nvidia pre: vfio-pci' \
        'softdep nvidiafb pre: vfio-pci' \
        'softdep snd_hda_intel pre: vfio-pci' \
        'options vfio-pci disable_vga=1')" && changed=1
    write_if_changed "$hook" 0755 "$(initramfs_script \
        '. /usr/share/initramfs-tools/hook-functions' \
        'manual_add_modules vfio vfio_iommu_type1 vfio_pci')" && changed=1
    write_if_changed "$init_top" 0755 "$(initramfs_script \
        "for dev in /sys/bus/pci/devices/$slot.*; do" \
        '    [ -w "$dev/driver_override" ] && echo vfio-pci > "$dev/driver_override"' \
        'done' \
        'modprobe -i vfio-pci')" && changed=1
    if [[ $changed -eq 0 ]]; then
        echo "vfio-bind: $slot unchanged"
        return
    fi
    update-initramfs -u -k all
    echo "vfio-bind: $slot is bound to vfio-pci from the next boot; reboot the node to apply"
}

revert() {
    local file removed=0
    for file in "$modules_load" "$modprobe_conf" "$hook" "$init_top"; do
        if [[ -e $file ]]; then
            rm -f "$file"
            removed=1
        fi
    done
    if [[ $removed -eq 0 ]]; then
        echo "vfio-bind: $slot not bound by ai-dualstack, nothing to revert"
        return
    fi
    update-initramfs -u -k all
    echo "vfio-bind: $slot released; the host driver takes it after a reboot"
}

case $action in
    apply) apply ;;
    revert) revert ;;
    *) die "unknown action '$action'" ;;
esac
