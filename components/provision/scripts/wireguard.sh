# shellcheck shell=bash
# The WireGuard VPN entry (private security container): wireguard-tools and nftables, the
# rendered wg0.conf (keys inside, mode 0600), IPv4 forwarding in the container's network
# namespace. A change of keys or peers is applied to the running tunnel with `wg syncconf`
# (wg-quick(8): `wg syncconf wg0 <(wg-quick strip wg0)`), so the other peers stay
# connected; only a change of wg-quick's own settings (Address, PostUp, ...) restarts it.
#
#   wireguard.sh
[[ $# -eq 0 ]] || die "usage: wireguard.sh"
readonly conf=/etc/wireguard/wg0.conf
readonly sysctl_conf=/etc/sysctl.d/90-ai-dualstack-forward.conf

# wg_quick_settings <file>: the [Interface] settings only wg-quick reads (wg-quick(8)); the
# rest (keys, port, peers) is what `wg syncconf` applies.
wg_quick_settings() {
    [[ -f $1 ]] || return 0
    grep -E '^[[:space:]]*(Address|DNS|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig)[[:space:]]*=' "$1" || true
}

read_bundle
ensure_packages wireguard-tools nftables
before=$(wg_quick_settings "$ROOT$conf")
install_bundle_files
put_file "$sysctl_conf" 0644 root:root < <(printf 'net.ipv4.ip_forward = 1\n')
if changed "$sysctl_conf"; then
    sysctl -q -p "$ROOT$sysctl_conf"
fi
# Refuse a config wg cannot parse before the running tunnel is touched.
wg-quick strip "$ROOT$conf" >/dev/null || die "$conf does not parse"
systemctl enable --quiet wg-quick@wg0
if ! systemctl is-active --quiet wg-quick@wg0; then
    log "starting wg-quick@wg0"
    systemctl start wg-quick@wg0
elif ! changed "$conf"; then
    log "wg-quick@wg0 running, configuration unchanged"
elif [[ $(wg_quick_settings "$ROOT$conf") != "$before" ]]; then
    log "wg-quick settings changed: restarting wg-quick@wg0"
    systemctl restart wg-quick@wg0
else
    log "applying keys and peers to the running wg0 (wg syncconf)"
    wg syncconf wg0 <(wg-quick strip "$ROOT$conf")
fi
log "ready"
