# shellcheck shell=bash
# Monitoring (private monitoring container): Debian's Prometheus, Alertmanager and blackbox
# exporter, Grafana from Grafana's apt repository (signing key pinned by fingerprint),
# prometheus-pve-exporter from its pinned commit with a hash-locked venv (Debian has no
# package of it; see components/services/pveExporter.ts), the rendered configs checked by
# promtool and amtool before any service is restarted.
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
readonly pve_repo=https://github.com/prometheus-pve/prometheus-pve-exporter
readonly pve_home=/opt/prometheus-pve-exporter
readonly pve_stamp_name=ai-dualstack-commit
readonly pve_stamp=$pve_home/$pve_stamp_name

# install_pve_exporter: the exporter at the pinned commit, once; a new commit builds a new
# tree next to the old one and swaps it in. Its source comes from git by commit id (git
# checks every object against it) and runs from that tree (python -m pve_exporter with
# PYTHONPATH, see pveExporter.ts): nothing is built, so no unpinned build tool
# (setuptools, setuptools-scm, wheel) is downloaded. Its dependencies come from upstream's
# own lock at that commit, checked against its sha256 first: pip with --require-hashes
# refuses any file whose hash the lock does not list, and --only-binary refuses to build.
install_pve_exporter() {
    local tmp got head new=$ROOT$pve_home.new
    if [[ -f $ROOT$pve_stamp && $(<"$ROOT$pve_stamp") == "$pve_commit" ]]; then
        log "prometheus-pve-exporter at $pve_commit present"
        return 0
    fi
    log "installing prometheus-pve-exporter at $pve_commit into $pve_home"
    tmp=$(mktemp -d)
    git init -q "$tmp/src"
    git -C "$tmp/src" fetch -q --depth 1 "$pve_repo" "$pve_commit" || { rm -rf "$tmp"; die "cannot fetch prometheus-pve-exporter $pve_commit from $pve_repo"; }
    git -C "$tmp/src" checkout -q --detach FETCH_HEAD
    head=$(git -C "$tmp/src" rev-parse HEAD)
    [[ $head == "$pve_commit" ]] || { rm -rf "$tmp"; die "prometheus-pve-exporter: fetched $head, expected $pve_commit"; }
    got=$(sha256sum "$tmp/src/requirements.txt" | cut -d' ' -f1)
    [[ $got == "$pve_lock_sha256" ]] || { rm -rf "$tmp"; die "prometheus-pve-exporter's requirements.txt has sha256 $got, expected $pve_lock_sha256"; }
    rm -rf "$new"
    mkdir -p "$new"
    python3 -m venv "$new/venv"
    "$new/venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir --require-hashes --only-binary :all: -r "$tmp/src/requirements.txt" \
        || { rm -rf "$tmp" "$new"; die "prometheus-pve-exporter's dependencies did not install (pip output above); the running exporter is left as it was"; }
    cp -a "$tmp/src/src" "$new/src"
    # The unit runs as prometheus: the tree must be readable whatever root's umask is.
    chmod -R a+rX "$new"
    rm -rf "$tmp"
    echo "$pve_commit" >"$new/$pve_stamp_name"
    rm -rf "$ROOT$pve_home"
    mv "$new" "$ROOT$pve_home"
    CHANGED+=("$pve_home/")
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
# What prometheus-pve-exporter trusts (REQUESTS_CA_BUNDLE in its unit): the cluster CA read
# from the nodes, then Debian's public CAs for a node with a certificate of its own (ACME).
put_file /etc/prometheus/pve-ca-bundle.pem 0644 root:root < <(cat "$ROOT/etc/prometheus/pve-root-ca.pem" "$ROOT/etc/ssl/certs/ca-certificates.crt")
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
restart_if_changed prometheus-pve-exporter /etc/prometheus/pve.yml /etc/prometheus/pve-ca-bundle.pem /etc/systemd/system/prometheus-pve-exporter.service "$pve_home/"
restart_if_changed grafana-server /etc/grafana/ /etc/systemd/system/grafana-server.service.d/ /var/lib/grafana/dashboards/
log "ready"
