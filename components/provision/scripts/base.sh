# shellcheck shell=bash
# Every service container: the data volume is mounted, the node exporter runs (scraped by
# the monitoring container), and the bundle's files (none today) are in place.
#
#   base.sh <data-mount-path>
[[ $# -eq 1 ]] || die "usage: base.sh <data-mount-path>"
data=$1
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount path '$data'"

read_bundle
require_mount "$data"
ensure_packages ca-certificates prometheus-node-exporter
install_bundle_files
restart_if_changed prometheus-node-exporter /etc/default/prometheus-node-exporter
log "ready"
