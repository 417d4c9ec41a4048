# shellcheck shell=bash
# shellcheck disable=SC2317 # a library: each script calls only the functions it needs
# Shared by every provisioning script: the step command puts this file in front of the
# script and runs the two as one `bash -c` inside the guest, as root (the AI VM through sudo),
# over SSH.
#
# What a step needs arrives on stdin as a bundle, one record a line, ending with `end`:
#   file  <path> <mode> <owner:group> <base64 content>   a rendered file to install
#   value <name> <base64 value>                          a value, often a secret
# Secrets therefore never appear on a command line (ps) or in the script text.
#
# Every write goes through put_file, which leaves an identical file alone, so running a
# step again changes nothing; CHANGED lists what did change, so services restart only then.
set -euo pipefail

# AI_DUALSTACK_ROOT lets the tests run the scripts against a scratch directory instead of /.
readonly ROOT=${AI_DUALSTACK_ROOT:-}
readonly SCRIPT=${0##*/}
export DEBIAN_FRONTEND=noninteractive
declare -A BUNDLE_FILES=() BUNDLE_VALUES=()
CHANGED=()
APT_UPDATED=0

log() { echo "$SCRIPT: $*"; }
die() { echo "$SCRIPT: $*" >&2; exit 1; }

read_bundle() {
    local kind name rest ended=0
    while IFS=' ' read -r kind name rest; do
        case $kind in
            file)
                [[ $name =~ ^/[A-Za-z0-9_./-]+$ && $name != *..* ]] || die "bundle: bad path '$name'"
                BUNDLE_FILES[$name]=$rest
                ;;
            value)
                [[ $name =~ ^[A-Za-z0-9_.:-]+$ ]] || die "bundle: bad value name '$name'"
                BUNDLE_VALUES[$name]=$rest
                ;;
            end) ended=1; break ;;
            "") ;;
            *) die "bundle: unknown record '$kind'" ;;
        esac
    done
    [[ $ended -eq 1 ]] || die "bundle: truncated (no end record)"
}

# bundle_value <name>: prints the decoded value.
bundle_value() {
    [[ -n ${BUNDLE_VALUES[$1]+set} ]] || die "bundle: no value '$1'"
    base64 -d <<<"${BUNDLE_VALUES[$1]}"
}

# put_file <path> <mode> <owner:group>: installs stdin as the file unless it is already so.
# Call it with a redirect, not at the end of a pipe (a pipe's subshell would lose CHANGED).
put_file() {
    local path=$1 mode=$2 owner=$3 dest tmp
    dest=$ROOT$path
    mkdir -p "$(dirname "$dest")"
    tmp=$(mktemp "$dest.XXXXXX")
    cat >"$tmp"
    if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
        chmod "$mode" "$dest"
        chown "$owner" "$dest"
        log "$path unchanged"
        return 0
    fi
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    mv -f "$tmp" "$dest"
    CHANGED+=("$path")
    log "$path written"
}

# install_bundle_file <path>: installs one file of the bundle.
install_bundle_file() {
    local mode owner data
    [[ -n ${BUNDLE_FILES[$1]+set} ]] || die "bundle: no file '$1'"
    read -r mode owner data <<<"${BUNDLE_FILES[$1]}"
    [[ $mode =~ ^0[0-7]{3}$ ]] || die "bundle: bad mode '$mode' for $1"
    [[ $owner =~ ^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$ ]] || die "bundle: bad owner '$owner' for $1"
    # Not a pipe: put_file must run in this shell to record CHANGED.
    put_file "$1" "$mode" "$owner" < <(base64 -d <<<"$data")
}

# install_bundle_files: every file of the bundle, in path order.
install_bundle_files() {
    local path
    while IFS= read -r path; do
        [[ -n $path ]] && install_bundle_file "$path"
    done < <(printf '%s\n' "${!BUNDLE_FILES[@]}" | sort)
}

# changed <prefix>...: whether this run wrote a file under one of the prefixes.
changed() {
    local path prefix
    for path in "${CHANGED[@]}"; do
        for prefix in "$@"; do
            [[ $path == "$prefix"* ]] && return 0
        done
    done
    return 1
}

# ensure_packages <package>...: installs the ones that are missing, and only those.
ensure_packages() {
    local package missing=()
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -qx 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "packages present: $*"
        return 0
    fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt-get update -q
        APT_UPDATED=1
    fi
    log "installing ${missing[*]}"
    # A file we wrote before its package came keeps our version (no conffile prompt).
    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
}

# apt_sources_changed: the next ensure_packages runs apt-get update again (a new repository).
apt_sources_changed() { APT_UPDATED=0; }

# restart_if_changed <unit> <prefix>...: enables the unit, restarts it when its files changed.
restart_if_changed() {
    local unit=$1
    shift
    systemctl enable --quiet "$unit"
    if changed "$@"; then
        log "restarting $unit"
        systemctl restart "$unit"
    elif ! systemctl is-active --quiet "$unit"; then
        log "starting $unit"
        systemctl start "$unit"
    else
        log "$unit running, configuration unchanged"
    fi
}

# reload_if_changed <unit> <prefix>...: enables the unit; when its files changed, reloads it
# (the unit's ExecReload: the service keeps running and its connections) if it runs, and
# starts it if it does not.
reload_if_changed() {
    local unit=$1
    shift
    systemctl enable --quiet "$unit"
    if ! systemctl is-active --quiet "$unit"; then
        log "starting $unit"
        systemctl start "$unit"
    elif changed "$@"; then
        log "reloading $unit"
        systemctl reload "$unit"
    else
        log "$unit running, configuration unchanged"
    fi
}

# require_mount <path>: the data volume must be mounted there, or data would land on the root disk.
require_mount() {
    mountpoint -q "$ROOT$1" || die "$1 is not a mount point: the container's data volume is missing"
}
