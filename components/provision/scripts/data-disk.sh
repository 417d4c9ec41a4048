# shellcheck shell=bash
# Mounts the AI VM's data disk, creating a filesystem ONLY on a blank disk.
#
#   data-disk.sh <device> <mount point> <label> [directory under the mount[:owner uid] ...]
#
# The data disk keeps models, vectors and documents across rebuilds of the AI VM, so it
# must never be reformatted. (cloud-init's fs_setup with `partition: none` runs mkfs with
# -F whatever `overwrite` says: cloud-init cc_disk_setup.py mkfs(), canonical/cloud-init#3902.
# That is why this script replaced it.) Two guards, both must say "blank":
#   1. `blkid -p` (low-level probe) finds no signature at all: no filesystem, no
#      partition table, no LVM or RAID member (blkid exits 2 for "nothing found");
#   2. the first MiB of the device is all zeros (a fresh ZFS volume reads as zeros).
# A disk with an ext4 filesystem carrying <label> is mounted as it is; any other content
# stops the script without touching the disk.

[[ $# -ge 3 ]] || die "usage: data-disk.sh <device> <mount point> <label> [directory ...]"
device=$1
mount_point=$2
label=$3
shift 3
[[ $device == /* ]] || die "device must be an absolute path, got '$device'"
[[ $mount_point =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad mount point '$mount_point'"
[[ $label =~ ^[A-Za-z0-9_-]{1,16}$ ]] || die "bad label '$label' (ext4 labels: at most 16 characters)"
for dir in "$@"; do
    [[ $dir =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*(:[0-9]+)?$ && $dir != *..* ]] || die "bad directory '$dir'"
done

# The disk can take a moment to appear after boot.
for _ in $(seq 1 60); do
    [[ -e $device ]] && break
    sleep 1
done
[[ -e $device ]] || die "$device did not appear"

probe() { blkid -p -o export -- "$device"; }

set +e
signature=$(probe 2>/dev/null)
probe_status=$?
set -e

if [[ $probe_status -eq 2 ]]; then
    # Nothing blkid knows. Second guard: no data at all in the first MiB.
    if ! cmp -s -n 1048576 -- "$device" /dev/zero; then
        die "$device has no known signature but its first MiB is not empty; not formatting it (inspect it with wipefs/hexdump)"
    fi
    log "$device is blank: creating ext4 '$label'"
    # stdin from /dev/null: mkfs must never read a confirmation from this script's stdin.
    mkfs.ext4 -q -m 0 -L "$label" -- "$device" </dev/null
    signature=$(probe)
elif [[ $probe_status -ne 0 ]]; then
    die "blkid could not probe $device (exit $probe_status); not formatting it"
fi

value() { sed -n "s/^$1=//p" <<<"$signature" | head -n 1; }
fs_type=$(value TYPE)
fs_label=$(value LABEL)
fs_uuid=$(value UUID)
if [[ -z $fs_type ]]; then
    die "$device holds $(value PTTYPE) partition table or another non-filesystem signature; not touching it"
fi
if [[ $fs_type != ext4 || $fs_label != "$label" ]]; then
    die "$device holds $fs_type labelled '${fs_label}', expected ext4 labelled '$label'; not touching it"
fi
[[ -n $fs_uuid ]] || die "$device has no filesystem UUID"
log "$device holds ext4 '$label' (UUID $fs_uuid): keeping its data"

# fstab by UUID; nofail so a missing disk never blocks boot (Docker waits for the mount
# through its RequiresMountsFor drop-in instead).
fstab=$ROOT/etc/fstab
entry="UUID=$fs_uuid $mount_point ext4 defaults,nofail,discard,x-systemd.device-timeout=30s 0 2"
mkdir -p "$(dirname "$fstab")"
touch "$fstab"
current=$(awk -v mp="$mount_point" '$2 == mp' "$fstab")
if [[ $current != "$entry" ]]; then
    tmp=$(mktemp)
    awk -v mp="$mount_point" '$2 != mp' "$fstab" >"$tmp"
    printf '%s\n' "$entry" >>"$tmp"
    cat "$tmp" >"$fstab"
    rm -f "$tmp"
    log "fstab entry for $mount_point written"
fi

mkdir -p "$ROOT$mount_point"
if ! mountpoint -q "$ROOT$mount_point"; then
    mount "$ROOT$mount_point"
    log "mounted $mount_point"
fi

# A disk grown in Proxmox (`qm resize <AI VM> scsi1 +N G`, README "Data safety") grows its
# filesystem here: ext4 grows online while mounted. Never shrinks anything.
if [[ -b $device ]]; then
    device_bytes=$(blockdev --getsize64 "$device")
else
    device_bytes=$(stat -c %s "$device")
fi
fs_blocks=$(dumpe2fs -h "$device" 2>/dev/null | awk -F: '/^Block count:/ { gsub(/ /, "", $2); print $2 }')
fs_block_size=$(dumpe2fs -h "$device" 2>/dev/null | awk -F: '/^Block size:/ { gsub(/ /, "", $2); print $2 }')
if [[ -n $fs_blocks && -n $fs_block_size ]] && ((device_bytes - fs_blocks * fs_block_size > 64 * 1024 * 1024)); then
    log "the disk is larger than its filesystem: growing it"
    resize2fs "$device"
fi
# Each directory is `name` or `name:uid`: a container that runs as that uid writes there.
for spec in "$@"; do
    [[ $spec =~ ^([^:]+)(:([0-9]+))?$ ]] || die "bad directory '$spec'"
    dir=${BASH_REMATCH[1]}
    uid=${BASH_REMATCH[3]}
    mkdir -p "$ROOT$mount_point/$dir"
    if [[ -n $uid && "$(stat -c %u "$ROOT$mount_point/$dir")" != "$uid" ]]; then
        chown "$uid:$uid" "$ROOT$mount_point/$dir"
        log "$dir belongs to uid $uid"
    fi
done
log "ready: $mount_point"
