#!/usr/bin/env bash
# Installs the environments' tune path on a Proxmox node: the forced-command script,
# each environment's limits file, and (cluster-wide) the restricted key lines in root's
# authorized_keys. The host stack runs it; nothing else writes these files.
#
#   vm-tune-install.sh node apply <script-base64> <env>=<limits-base64>...
#   vm-tune-install.sh node revert
#   vm-tune-install.sh keys apply <authorized-keys-line-base64>...
#   vm-tune-install.sh keys revert
#
# `node` is per node: /usr/local/sbin/ai-dualstack-vm-tune and
# /etc/ai-dualstack/vm-tune/<env>.conf are local files. apply writes exactly the given
# script and limits (a limits file of an environment not given is removed); revert
# removes both and the directory.
#
# `keys` runs once for the cluster: on Proxmox VE, root's ~/.ssh/authorized_keys is a
# symlink to /etc/pve/priv/authorized_keys, one file shared by every node through pmxcfs
# (pve-cluster src/PVE/Cluster/Setup.pm setup_ssh_keys). apply keeps every line that is
# not ours as it is and replaces our lines (those whose forced command is the tune script)
# with exactly the given ones; revert takes ours out. The file is written through the
# symlink (a new file next to the target, then renamed over it), never replacing the link.
#
# Both are idempotent (a second apply changes nothing) and hold a host-wide lock (flock).
set -euo pipefail

# AI_DUALSTACK_ROOT lets the tests run this against a scratch directory instead of /.
readonly ROOT=${AI_DUALSTACK_ROOT:-}
readonly SCRIPT_PATH=/usr/local/sbin/ai-dualstack-vm-tune
readonly LIMITS_DIR=$ROOT/etc/ai-dualstack/vm-tune
readonly AUTHORIZED_KEYS=$ROOT/root/.ssh/authorized_keys
readonly OURS="restrict,command=\"$SCRIPT_PATH "
readonly LOCK=$ROOT/run/lock/ai-dualstack-vm-tune.lock

say() { echo "vm-tune-install: $*"; }
die() { echo "vm-tune-install: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: $0 node apply <script-base64> <env>=<limits-base64>... | node revert | keys apply <line-base64>... | keys revert"
part=$1
action=$2
shift 2

decode() { printf '%s' "$1" | base64 -d 2>/dev/null || die "not base64: ${1:0:16}..."; }

# Writes stdin to a file only if its content differs, atomically (a temp file renamed over
# it); returns 1 when nothing changed. Mode "-" keeps the temp file's (umask) mode: pmxcfs
# fixes the modes under /etc/pve itself.
put() {
    local file=$1 mode=$2 tmp
    tmp=$(mktemp "$(dirname "$file")/.ai-dualstack.XXXXXX")
    cat >"$tmp"
    if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        return 1
    fi
    [[ $mode == - ]] || chmod "$mode" "$tmp"
    mv -f "$tmp" "$file"
}

# Validate everything before touching anything.
declare -A limits=()
lines=()
case $part/$action in
    node/apply)
        [[ $# -ge 1 ]] || die "node apply needs the script"
        script=$(decode "$1")
        [[ $script == '#!'* ]] || die "the tune script does not start with #!"
        shift
        for arg in "$@"; do
            [[ $arg =~ ^(private|public)=([A-Za-z0-9+/=]+)$ ]] || die "bad limits argument '${arg:0:24}' (expected <private|public>=<base64>)"
            text=$(decode "${BASH_REMATCH[2]}")
            grep -qx 'VMID_START=[0-9]*' <<<"$text" || die "limits of ${BASH_REMATCH[1]} have no VMID_START"
            limits[${BASH_REMATCH[1]}]=$text
        done
        ;;
    keys/apply)
        for arg in "$@"; do
            line=$(decode "$arg")
            [[ $line == "$OURS"* && $line != *$'\n'* ]] || die "not a tune key line: ${line:0:40}..."
            lines+=("$line")
        done
        ;;
    node/revert | keys/revert)
        [[ $# -eq 0 ]] || die "revert takes no arguments"
        ;;
    *) die "unknown '$part $action'" ;;
esac

mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 300 9 || die "another run held $LOCK for 5 minutes"

case $part/$action in
    node/apply)
        mkdir -p "$ROOT$(dirname "$SCRIPT_PATH")" "$LIMITS_DIR"
        if printf '%s\n' "$script" | put "$ROOT$SCRIPT_PATH" 0755; then say "installed $SCRIPT_PATH"; fi
        for env in "${!limits[@]}"; do
            if printf '%s\n' "${limits[$env]}" | put "$LIMITS_DIR/$env.conf" 0644; then say "wrote the $env limits"; fi
        done
        for file in "$LIMITS_DIR"/*.conf; do
            [[ -e $file ]] || continue
            env=$(basename "$file" .conf)
            if [[ -z ${limits[$env]+set} ]]; then
                rm -f "$file"
                say "removed the $env limits"
            fi
        done
        ;;
    node/revert)
        rm -f "$ROOT$SCRIPT_PATH"
        rm -rf "$LIMITS_DIR"
        rmdir "$ROOT/etc/ai-dualstack" 2>/dev/null || true
        say "removed $SCRIPT_PATH and the limits"
        ;;
    keys/apply | keys/revert)
        umask 077
        # The real file behind the symlink (/etc/pve/priv/authorized_keys on Proxmox VE).
        target=$(readlink -f "$AUTHORIZED_KEYS")
        mkdir -p "$(dirname "$target")"
        touch "$target"
        {
            grep -vF "$OURS" "$target" || true
            if [[ $action == apply ]]; then
                for line in "${lines[@]+"${lines[@]}"}"; do printf '%s\n' "$line"; done
            fi
        } | if put "$target" -; then say "root's authorized_keys: tune key lines $([[ $action == apply ]] && echo set || echo removed)"; fi
        ;;
esac
