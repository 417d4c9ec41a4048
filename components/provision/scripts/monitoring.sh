# shellcheck shell=bash
# Monitoring (private monitoring container): Debian's Prometheus, Alertmanager and blackbox
# exporter, Grafana from Grafana's apt repository (signing key pinned by fingerprint),
# prometheus-pve-exporter in a venv (Debian has no package of it; see
# components/services/pveExporter.ts), the rendered configs checked by promtool and amtool
# before any service is restarted.
#
#   monitoring.sh <data-mount-path> <grafana-key-fingerprint> <pve-exporter-commit> <pve-exporter-lock-sha256>
[[ $# -eq 4 ]] || die "usage: monitoring.sh <data-mount-path> <grafana-key-fingerprint> <pve-exporter-commit> <pve-exporter-lock-sha256>"
data=$1
fingerprint=$2
pve_commit=$3
pve_lock_sha256=$4
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount path '$data'"
[[ $fingerprint =~ ^[0-9A-F]{40}$ ]] || die "bad key fingerprint '$fingerprint'"
[[ $pve_commit =~ ^[0-9a-f]{40}$ ]] || die "bad prometheus-pve-exporter commit '$pve_commit'"
[[ $pve_lock_sha256 =~ ^[0-9a-f]{64}$ ]] || die "bad prometheus-pve-exporter lock checksum '$pve_lock_sha256'"
readonly keyring=/etc/apt/keyrings/grafana.asc
readonly sources=/etc/apt/sources.list.d/grafana.list
readonly pve_repo=prometheus-pve/prometheus-pve-exporter
readonly pve_venv=/opt/prometheus-pve-exporter
readonly pve_stamp=$pve_venv/ai-dualstack-commit

# install_pve_exporter: the exporter at the pinned commit, once; a new commit rebuilds the
# venv. Its dependencies come from upstream's lock at that commit (every package pinned with
# its hashes; pip refuses anything else with --require-hashes), the lock checked first; the
# exporter itself from the commit, content-addressed by git, without dependencies.
install_pve_exporter() {
    local tmp got
    if [[ -f $ROOT$pve_stamp && $(<"$ROOT$pve_stamp") == "$pve_commit" ]]; then
        log "prometheus-pve-exporter at $pve_commit present"
        return 0
    fi
    log "installing prometheus-pve-exporter at $pve_commit into $pve_venv"
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/requirements.txt" "https://raw.githubusercontent.com/$pve_repo/$pve_commit/requirements.txt"
    got=$(sha256sum "$tmp/requirements.txt" | cut -d' ' -f1)
    [[ $got == "$pve_lock_sha256" ]] || { rm -rf "$tmp"; die "prometheus-pve-exporter's requirements.txt has sha256 $got, expected $pve_lock_sha256"; }
    rm -rf "$ROOT$pve_venv"
    python3 -m venv "$ROOT$pve_venv"
    "$ROOT$pve_venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$tmp/requirements.txt"
    "$ROOT$pve_venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "git+https://github.com/$pve_repo@$pve_commit"
    rm -rf "$tmp"
    put_file "$pve_stamp" 0644 root:root <<<"$pve_commit"
}

read_bundle
require_mount "$data"
ensure_packages prometheus prometheus-alertmanager prometheus-blackbox-exporter curl gnupg ca-certificates python3-venv git

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
install_pve_exporter
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
restart_if_changed prometheus-pve-exporter /etc/prometheus/pve.yml /etc/systemd/system/prometheus-pve-exporter.service "$pve_venv/"
restart_if_changed grafana-server /etc/grafana/ /etc/systemd/system/grafana-server.service.d/ /var/lib/grafana/dashboards/
log "ready"
