#!/usr/bin/env bash
# Monitoring on one Proxmox node: Debian's node exporter (port 9100, scraped by the
# private monitoring container as job proxmox-node), its textfile collector directory,
# the vzdump hook that writes the backup metrics there (vzdump-metrics.sh), and one node
# firewall rule admitting the monitoring container to 9100 and to the API on 8006 (its
# prometheus-pve-exporter reads the API with the read-only monitoring token; the built-in
# rules admit 8006 only from the `management` IP set). The host stack runs it once per node:
#
#   node-monitoring.sh apply <node> <monitoring-ip|-> <hook-script-base64>
#   node-monitoring.sh revert <node>
#
# apply converges and changes nothing when the node is already so; revert removes the
# hook and our firewall rule (the exporter package stays: removing packages from a
# hypervisor is the admin's call).
#
# The firewall rule goes through the node's own API (pvesh), not a Pulumi rules resource:
# the provider's rules resource aborts on a node that already has rules of the admin's
# (bpg proxmoxtf/resource/firewall/rules.go RulesCreate, "Existing rules detected"), and
# the admin's rules stay untouched here. Ours is found by its comment.
#
# Debian's prometheus-node-exporter (bookworm 1.5.0, PVE 8's base) reads text files from
# /var/lib/prometheus/node-exporter (its built-in --collector.textfile.directory default;
# the package ships ARGS="" and does not create the directory).
set -euo pipefail

readonly ROOT=${AI_DUALSTACK_ROOT:-}
readonly TEXTFILE_DIR=/var/lib/prometheus/node-exporter
readonly HOOK=/usr/local/lib/ai-dualstack/vzdump-metrics
readonly COMMENT_PREFIX="ai-dualstack: node exporter"
# A comma list is one rule (pve-firewall's dport: "you can use comma separated list to match
# several ports or ranges", the API schema of /nodes/{node}/firewall/rules).
readonly PORTS="9100,8006"
export DEBIAN_FRONTEND=noninteractive

log() { echo "node-monitoring: $*"; }
die() { echo "node-monitoring: $*" >&2; exit 1; }

# our_rules <node>: the positions of our rules, highest first (deleting shifts the later ones).
our_rules() {
    pvesh get "/nodes/$1/firewall/rules" --output-format json | perl -MJSON::PP -e '
        my $rules = JSON::PP::decode_json(join("", <STDIN>));
        print "$_->{pos} $_->{source} $_->{dport}\n"
            for sort { $b->{pos} <=> $a->{pos} } grep { ($_->{comment} // "") =~ /^\Q'"$COMMENT_PREFIX"'\E/ } @$rules;'
}

converge_rule() {
    local node=$1 source=$2 pos from dport kept=0
    while read -r pos from dport; do
        if [[ $from == "$source" && $dport == "$PORTS" && $kept -eq 0 ]]; then
            kept=1
            continue
        fi
        log "removing firewall rule $pos ($dport from $from)"
        pvesh delete "/nodes/$node/firewall/rules/$pos"
    done < <(our_rules "$node")
    if [[ $source != - && $kept -eq 0 ]]; then
        log "admitting $source to the node exporter and the API (tcp $PORTS)"
        pvesh create "/nodes/$node/firewall/rules" --type in --action ACCEPT --proto tcp --dport "$PORTS" \
            --source "$source" --enable 1 --comment "$COMMENT_PREFIX and API for the monitoring container"
    elif [[ $kept -eq 1 ]]; then
        log "firewall rule for $source in place"
    fi
}

case ${1:-} in
    apply)
        [[ $# -eq 4 ]] || die "usage: node-monitoring.sh apply <node> <monitoring-ip|-> <hook-script-base64>"
        node=$2 source=$3 hook_b64=$4
        [[ $node =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || die "bad node name '$node'"
        [[ $source == - || $source =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "bad monitoring address '$source'"
        if ! dpkg-query -W -f='${Status}\n' prometheus-node-exporter 2>/dev/null | grep -qx 'install ok installed'; then
            log "installing prometheus-node-exporter"
            apt-get update -q
            apt-get install -y -q --no-install-recommends prometheus-node-exporter
        fi
        mkdir -p "$ROOT$TEXTFILE_DIR" "$ROOT${HOOK%/*}"
        chmod 0755 "$ROOT$TEXTFILE_DIR"
        tmp=$(mktemp "$ROOT$HOOK.XXXXXX")
        base64 -d <<<"$hook_b64" >"$tmp"
        if [[ -f $ROOT$HOOK ]] && cmp -s "$tmp" "$ROOT$HOOK"; then
            rm -f "$tmp"
            log "$HOOK unchanged"
        else
            chmod 0755 "$tmp"
            mv -f "$tmp" "$ROOT$HOOK"
            log "$HOOK written"
        fi
        systemctl enable --now --quiet prometheus-node-exporter
        converge_rule "$node" "$source"
        log "ready"
        ;;
    revert)
        [[ $# -eq 2 ]] || die "usage: node-monitoring.sh revert <node>"
        converge_rule "$2" -
        rm -f "$ROOT$HOOK"
        log "reverted"
        ;;
    *) die "usage: node-monitoring.sh apply|revert ..." ;;
esac
