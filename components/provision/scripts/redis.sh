# shellcheck shell=bash
# Redis in the cache container: Debian's redis-server held at the pinned major by an apt
# pin, the rendered settings included last by redis.conf (requirepass among them), its
# data on the data volume.
#
#   redis.sh <major> <data-mount-path>
[[ $# -eq 2 ]] || die "usage: redis.sh <major> <data-mount-path>"
major=$1
data=$2
[[ $major =~ ^[0-9]{1,2}$ ]] || die "bad major version '$major'"
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount path '$data'"
readonly main_conf=/etc/redis/redis.conf
readonly include_line="include /etc/redis/ai-dualstack.conf"

read_bundle
require_mount "$data"

# Debian versions redis as 5:<upstream>; apt_preferences(5) globs the version.
put_file /etc/apt/preferences.d/ai-dualstack-redis 0644 root:root \
    < <(printf 'Package: redis-server redis-tools\nPin: version 5:%s.*\nPin-Priority: 1001\n' "$major")
ensure_packages redis-server prometheus-redis-exporter
running=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
[[ $running == "$major" ]] || die "redis-server is major ${running:-unknown}, config pins $major"

install_bundle_files
# Our include must be the last line of redis.conf, so its settings win.
[[ -f $ROOT$main_conf ]] || die "$main_conf is missing: is redis-server installed?"
put_file "$main_conf" 0640 redis:redis \
    < <(grep -vxF "$include_line" "$ROOT$main_conf"; echo "$include_line")
chown redis:redis "$ROOT$data"
chmod 0750 "$ROOT$data"

if changed /etc/systemd/system/; then
    systemctl daemon-reload
fi
restart_if_changed redis-server /etc/redis/ /etc/systemd/system/redis-server.service.d/
restart_if_changed prometheus-redis-exporter /etc/default/prometheus-redis-exporter
log "ready"
