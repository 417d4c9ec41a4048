# shellcheck shell=bash
# Monitoring (private monitoring container): Debian's Prometheus, Alertmanager and blackbox
# exporter, Grafana from Grafana's apt repository (signing key pinned by fingerprint), the
# rendered configs checked by promtool and amtool before any service is restarted.
#
#   monitoring.sh <data-mount-path> <grafana-key-fingerprint>
[[ $# -eq 2 ]] || die "usage: monitoring.sh <data-mount-path> <grafana-key-fingerprint>"
data=$1
fingerprint=$2
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount path '$data'"
[[ $fingerprint =~ ^[0-9A-F]{40}$ ]] || die "bad key fingerprint '$fingerprint'"
readonly keyring=/etc/apt/keyrings/grafana.asc
readonly sources=/etc/apt/sources.list.d/grafana.list

read_bundle
require_mount "$data"
ensure_packages prometheus prometheus-alertmanager prometheus-blackbox-exporter curl gnupg ca-certificates

if [[ ! -f $ROOT$keyring ]]; then
    mkdir -p "$ROOT/etc/apt/keyrings"
    curl -fsSL --retry 3 -o "$ROOT$keyring.part" https://apt.grafana.com/gpg.key
    got=$(gpg --show-keys --with-colons "$ROOT$keyring.part" | awk -F: '$1 == "fpr" { print $10; exit }')
    [[ $got == "$fingerprint" ]] || die "Grafana's signing key has fingerprint ${got:-none}, expected $fingerprint: check apt.grafana.com before trusting a new key"
    mv -f "$ROOT$keyring.part" "$ROOT$keyring"
fi
put_file "$sources" 0644 root:root < <(echo "deb [signed-by=$keyring] https://apt.grafana.com stable main")
if changed "$sources"; then
    apt_sources_changed
fi
ensure_packages grafana

mkdir -p "$ROOT$data/metrics2"
chown prometheus:prometheus "$ROOT$data" "$ROOT$data/metrics2"
install_bundle_files
promtool check config "$ROOT/etc/prometheus/prometheus.yml" >/dev/null \
    || die "prometheus.yml does not pass promtool check config; Prometheus keeps its running config"
amtool check-config "$ROOT/etc/prometheus/alertmanager.yml" >/dev/null \
    || die "alertmanager.yml does not pass amtool check-config; Alertmanager keeps its running config"
# Grafana's settings come through a drop-in (the package's /etc/default/grafana-server is
# left alone: its unit builds the command line from it); systemd reads a changed drop-in
# only after daemon-reload.
if changed /etc/systemd/system/; then
    systemctl daemon-reload
fi

# Command-line flags (/etc/default/prometheus) need a restart; prometheus.yml and the rules
# are re-read on SIGHUP (Debian's units: ExecReload=/bin/kill -HUP $MAINPID), which keeps
# the TSDB head and the alerts' pending state.
if changed /etc/default/prometheus; then
    restart_if_changed prometheus /etc/default/prometheus
else
    reload_if_changed prometheus /etc/prometheus/prometheus.yml /etc/prometheus/rules/
fi
reload_if_changed prometheus-alertmanager /etc/prometheus/alertmanager.yml
restart_if_changed prometheus-blackbox-exporter /etc/prometheus/blackbox.yml
restart_if_changed grafana-server /etc/grafana/ /etc/systemd/system/grafana-server.service.d/ /var/lib/grafana/dashboards/
log "ready"
