# shellcheck shell=bash
# The WireGuard VPN entry (private security container): wireguard-tools and nftables, the
# rendered wg0.conf (keys inside, mode 0600), IPv4 forwarding in the container's network
# namespace, and wg-quick@wg0 restarted only when its config changed.
#
#   wireguard.sh
[[ $# -eq 0 ]] || die "usage: wireguard.sh"
readonly conf=/etc/wireguard/wg0.conf
readonly sysctl_conf=/etc/sysctl.d/90-ai-dualstack-forward.conf

read_bundle
ensure_packages wireguard-tools nftables
install_bundle_files
put_file "$sysctl_conf" 0644 root:root < <(printf 'net.ipv4.ip_forward = 1\n')
if changed "$sysctl_conf"; then
    sysctl -q -p "$ROOT$sysctl_conf"
fi
# Refuse a config wg cannot parse before the running tunnel is touched.
wg-quick strip "$ROOT$conf" >/dev/null || die "$conf does not parse"
restart_if_changed wg-quick@wg0 "$conf"
log "ready"
