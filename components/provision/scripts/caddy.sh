# shellcheck shell=bash
# The reverse proxy (public security container): Debian's caddy, the rendered Caddyfile
# checked by `caddy validate` before the running proxy is touched, certificates on the
# data volume.
#
#   caddy.sh <certificate-storage-dir>
[[ $# -eq 1 ]] || die "usage: caddy.sh <certificate-storage-dir>"
storage=$1
[[ $storage =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad storage path '$storage'"
readonly caddyfile=/etc/caddy/Caddyfile

read_bundle
ensure_packages caddy
mkdir -p "$ROOT$storage"
chown caddy:caddy "$ROOT$storage"
chmod 0700 "$ROOT$storage"
install_bundle_files
caddy validate --config "$ROOT$caddyfile" --adapter caddyfile >/dev/null 2>&1 \
    || die "$caddyfile does not validate: run caddy validate --config $caddyfile --adapter caddyfile"
restart_if_changed caddy "$caddyfile"
log "ready"
