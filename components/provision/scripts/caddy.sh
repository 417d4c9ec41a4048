# shellcheck shell=bash
# The reverse proxy (public security container): Debian's caddy, the rendered Caddyfile
# checked by `caddy validate` before the running proxy is touched, certificates on the
# data volume.
#
#   caddy.sh <data-mount-path> <certificate-storage-dir>
[[ $# -eq 2 ]] || die "usage: caddy.sh <data-mount-path> <certificate-storage-dir>"
data=$1
storage=$2
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount path '$data'"
[[ $storage =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad storage path '$storage'"
# Debian's caddy.service has ProtectSystem=full: /usr, /boot, /efi and /etc are read-only
# for Caddy (systemd.exec(5)), so certificates stored there could never be written.
case $storage/ in
    /usr/* | /boot/* | /efi/* | /etc/*) die "Caddy cannot write $storage: caddy.service has ProtectSystem=full (/usr, /boot, /efi, /etc read-only); put the data volume under /var/lib/caddy" ;;
esac
readonly caddyfile=/etc/caddy/Caddyfile

read_bundle
require_mount "$data"
ensure_packages caddy
# The data volume is caddy's own (its home, /var/lib/caddy, holds its autosaved config too).
chown caddy:caddy "$ROOT$data"
mkdir -p "$ROOT$storage"
chown caddy:caddy "$ROOT$storage"
chmod 0700 "$ROOT$storage"
install_bundle_files
caddy validate --config "$ROOT$caddyfile" --adapter caddyfile >/dev/null 2>&1 \
    || die "$caddyfile does not validate: run caddy validate --config $caddyfile --adapter caddyfile"
# A new Caddyfile is a reload (Debian's caddy.service: ExecReload=caddy reload --force),
# which keeps the running server and its certificates in memory.
reload_if_changed caddy "$caddyfile"
log "ready"
