#!/usr/bin/env bash
# Runs on a guest (sent over SSH by `npm run verify`): tries a TCP connection to each
# HOST:PORT argument and prints one line per target, "open HOST:PORT" or "closed HOST:PORT".
# Needs only bash (/dev/tcp) and coreutils (timeout). Changes nothing on the guest.
# PROBE_TIMEOUT: seconds per connection attempt (default 3); a firewall that drops
# packets shows as a timeout, one that rejects as a refusal: both are "closed".
set -u
wait_s="${PROBE_TIMEOUT:-3}"
for target in "$@"; do
    host="${target%:*}"
    port="${target##*:}"
    # shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash
    if timeout "$wait_s" bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "$host" "$port" 2>/dev/null; then
        echo "open $target"
    else
        echo "closed $target"
    fi
done
