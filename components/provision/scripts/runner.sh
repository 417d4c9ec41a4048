# shellcheck shell=bash
# The GitHub Actions self-hosted runner (CI/CD container): Docker for the jobs, the pinned
# runner release checked against its sha256, registered once with the token from the
# bundle (value `token`), run by systemd as the unprivileged user `runner`.
#
#   runner.sh <version> <sha256> <url> <name> <labels,comma,separated> <data-dir>
[[ $# -eq 6 ]] || die "usage: runner.sh <version> <sha256> <url> <name> <labels> <data-dir>"
version=$1 sha256=$2 url=$3 name=$4 labels=$5 data=$6
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad runner version '$version'"
[[ $sha256 =~ ^[0-9a-f]{64}$ ]] || die "bad sha256 '$sha256'"
[[ $url =~ ^https://github\.com/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$ ]] || die "bad repository URL '$url'"
[[ $name =~ ^[a-z][a-z0-9-]*$ ]] || die "bad runner name '$name'"
[[ $labels =~ ^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$ ]] || die "bad labels '$labels'"
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data path '$data'"
readonly dir=$data/actions-runner
readonly archive=$data/actions-runner-linux-x64-$version.tar.gz
readonly unit_file=/etc/systemd/system/actions-runner.service

read_bundle
require_mount "$data"
# Docker runs the jobs (keyctl is on for this container); the rest is what the runner's
# bin/installdependencies.sh asks for on Debian 12.
ensure_packages docker.io git curl ca-certificates libicu72 libkrb5-3 zlib1g libssl3 liblttng-ust1
if ! id -u runner >/dev/null 2>&1; then
    useradd --system --create-home --home-dir /home/runner --shell /bin/bash runner
fi
usermod -aG docker runner

if [[ $(cat "$ROOT$dir/.ai-dualstack-version" 2>/dev/null) != "$version" ]]; then
    log "installing runner $version"
    if [[ ! -f $ROOT$archive ]] || ! sha256sum --quiet -c - <<<"$sha256  $ROOT$archive" >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$ROOT$archive.part" \
            "https://github.com/actions/runner/releases/download/v$version/actions-runner-linux-x64-$version.tar.gz"
        mv -f "$ROOT$archive.part" "$ROOT$archive"
    fi
    sha256sum --quiet -c - <<<"$sha256  $ROOT$archive" || die "actions-runner $version does not match its pinned sha256"
    mkdir -p "$ROOT$dir"
    tar -xzf "$ROOT$archive" -C "$ROOT$dir"
    echo "$version" >"$ROOT$dir/.ai-dualstack-version"
    CHANGED+=("$dir")
fi
chown -R runner:runner "$ROOT$dir"

if [[ -f $ROOT$dir/.runner ]]; then
    log "registered already (remove $dir/.runner and give a fresh token to register again)"
else
    log "registering $name with $url, labels $labels"
    # The token goes in through the environment (ACTIONS_RUNNER_INPUT_TOKEN, read by the
    # runner's CommandSettings), not on the command line. runuser without --login keeps the
    # environment but sets HOME, SHELL, USER and LOGNAME to runner's (runuser(1)); with
    # --preserve-environment the runner would run with root's HOME. --disableupdate: the
    # release stays the pinned, sha256-checked one (a self-update would replace it unseen).
    (cd "$ROOT$dir" && ACTIONS_RUNNER_INPUT_TOKEN=$(bundle_value token) runuser -u runner -- \
        ./config.sh --unattended --url "$url" --name "$name" --labels "$labels" --work _work --replace --disableupdate)
    CHANGED+=("$dir")
fi

install_bundle_files
if changed /etc/systemd/system/; then
    systemctl daemon-reload
fi
restart_if_changed actions-runner "$dir" "$unit_file"
log "ready"
