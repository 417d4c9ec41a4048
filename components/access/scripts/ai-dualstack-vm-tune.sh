#!/usr/bin/env bash
# The one narrow door from an environment stack to the VM options only root@pam may set.
#
# Proxmox lets only root@pam set `hugepages`, `keephugepages` and `affinity` (qemu-server
# API2/Qemu.pm: options outside its permission tables end in "only root can set '$opt'
# config", and API tokens, even root's, are "root@pam!id", not "root@pam"), and a VM's
# `startup` needs Sys.Modify on "/" (the whole host). The host stack installs this script
# and, per environment, an SSH key in root's authorized_keys that can run nothing else:
#
#   restrict,command="/usr/local/sbin/ai-dualstack-vm-tune private" ssh-ed25519 AAAA...
#
# The environment stack's remote command sends its request as the SSH command, which sshd
# hands over in SSH_ORIGINAL_COMMAND (never run by a shell):
#
#   set <vmid> [--hugepages 2|1024|none] [--keephugepages 0|1] [--affinity <cpus>|none]
#              [--startup order=<n>[,up=<s>][,down=<s>]|none]
#   show <vmid>
#   keyctl <vmid>        the CI container's Docker: features nesting=1,keyctl=1, only for a
#                        VMID listed in KEYCTL_VMIDS (the environment's cicd containers)
#   ca                   prints the cluster's CA certificate, /etc/pve/pve-root-ca.pem (public:
#                        it signs every node's API certificate, pve-cluster
#                        src/PVE/Cluster/Setup.pm gen_pve_ssl_cert), so the monitoring
#                        container's prometheus-pve-exporter can verify the API it reads
#
# pve-container lets only root@pam change an unprivileged container's feature flags other
# than nesting (src/PVE/LXC.pm check_ct_modify_config_perm), and Docker in a container needs
# keyctl. Features are not hot-pluggable (src/PVE/LXC/Config.pm vmconfig_hotplug_pending
# skips them): a running container is rebooted so the flag takes effect.
#
# Refused (exit 2, nothing changed): characters other than letters, digits, space , = -;
# a VMID outside this environment's range; hugepages for a VM larger than the
# environment's hugepage budget; CPUs outside the environment's CPU set; unknown options.
# The limits come from /etc/ai-dualstack/vm-tune/<env>.conf, written by the host stack:
#
#   VMID_START=100  VMID_END=199  HUGEPAGES_MAX_MIB=65536  AFFINITY_CPUS=0-7  KEYCTL_VMIDS=113
set -euo pipefail
set -f # no globbing of anything the caller sent

# AI_DUALSTACK_ROOT lets the tests run this against a scratch directory instead of /.
readonly ROOT=${AI_DUALSTACK_ROOT:-}

refuse() { echo "ai-dualstack-vm-tune: refused: $*" >&2; exit 2; }
fail() { echo "ai-dualstack-vm-tune: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || fail "usage: $0 <environment> (the request comes in SSH_ORIGINAL_COMMAND)"
env=$1
[[ $env =~ ^(private|public)$ ]] || fail "unknown environment '$env'"

conf=$ROOT/etc/ai-dualstack/vm-tune/$env.conf
[[ -f $conf ]] || fail "no limits for $env ($conf is missing: run the host stack)"
VMID_START='' VMID_END='' HUGEPAGES_MAX_MIB='' AFFINITY_CPUS='' KEYCTL_VMIDS=''
# The file is root's and written by the host stack; read it as data, not as a script.
while IFS='=' read -r key value; do
    case $key in
        VMID_START | VMID_END | HUGEPAGES_MAX_MIB) [[ $value =~ ^[0-9]+$ ]] || fail "$conf: $key is not a number" ;;
        AFFINITY_CPUS) [[ -z $value || $value =~ ^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$ ]] || fail "$conf: $key is not a CPU set" ;;
        KEYCTL_VMIDS) [[ -z $value || $value =~ ^[0-9]{1,9}(,[0-9]{1,9})*$ ]] || fail "$conf: $key is not a list of VMIDs" ;;
        '' | '#'*) continue ;;
        *) fail "$conf: unknown key '$key'" ;;
    esac
    printf -v "$key" '%s' "$value"
done <"$conf"
[[ -n $VMID_START && -n $VMID_END && -n $HUGEPAGES_MAX_MIB ]] || fail "$conf: needs VMID_START, VMID_END and HUGEPAGES_MAX_MIB"

request=${SSH_ORIGINAL_COMMAND:-}
[[ -n $request ]] || refuse "no request (expected: set <vmid> ..., show <vmid>, keyctl <vmid> or ca)"
[[ $request =~ ^[A-Za-z0-9\ ,=-]+$ ]] || refuse "the request may only hold letters, digits, space and , = -"
read -r -a words <<<"$request"
((${#words[@]} > 0)) || refuse "no request (expected: set <vmid> ..., show <vmid>, keyctl <vmid> or ca)"

# ca: read-only, about no guest. pmxcfs serves the same file on every node of the cluster.
if [[ ${words[0]} == ca ]]; then
    [[ ${#words[@]} -eq 1 ]] || refuse "ca takes no arguments"
    ca=$ROOT/etc/pve/pve-root-ca.pem
    [[ -f $ca ]] || fail "$ca is missing: is this a Proxmox VE node with pve-cluster running?"
    grep -q -- '^-----BEGIN CERTIFICATE-----$' "$ca" || fail "$ca holds no PEM certificate"
    cat "$ca"
    exit 0
fi

readonly CPU_SET='^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$'

# Refuses a CPU set with a range that runs backwards (run in this shell, not a subshell).
check_cpu_ranges() {
    local part
    local -a parts
    IFS=',' read -r -a parts <<<"$1"
    for part in "${parts[@]}"; do
        ((10#${part%-*} <= 10#${part#*-})) || refuse "CPU range $part runs backwards"
    done
}

# Expands a valid CPU set like 0-3,8 into one number per line.
expand_cpus() {
    local part cpu
    local -a parts
    IFS=',' read -r -a parts <<<"$1"
    for part in "${parts[@]}"; do
        for ((cpu = 10#${part%-*}; cpu <= 10#${part#*-}; cpu++)); do echo "$cpu"; done
    done
}

check_vmid() {
    [[ $1 =~ ^[1-9][0-9]{0,8}$ ]] || refuse "'$1' is not a VMID"
    ((VMID_START <= $1 && $1 <= VMID_END)) || refuse "VMID $1 is outside the $env range $VMID_START-$VMID_END"
}

# The VM's configured RAM in MiB, from its config.
vm_memory_mib() {
    local line
    line=$(qm config "$1" | grep -E '^memory: ' || true)
    [[ -n $line ]] || fail "VM $1 has no memory setting (does it exist?)"
    echo "${line#memory: }"
}

[[ ${#words[@]} -ge 2 ]] || refuse "expected: set <vmid> ..., show <vmid>, keyctl <vmid> or ca"
action=${words[0]}
vmid=${words[1]}
check_vmid "$vmid"

case $action in
    show)
        [[ ${#words[@]} -eq 2 ]] || refuse "show takes only a VMID"
        qm config "$vmid" | grep -E '^(hugepages|keephugepages|affinity|startup|memory): ' || true
        exit 0
        ;;
    keyctl)
        [[ ${#words[@]} -eq 2 ]] || refuse "keyctl takes only a VMID"
        [[ ,$KEYCTL_VMIDS, == *,$vmid,* ]] || refuse "keyctl is only for the $env CI containers (${KEYCTL_VMIDS:-none}), not $vmid"
        # --current: the values in effect. Plain `pct config` shows pending ones, and a flag set
        # while the container ran is pending until its reboot (pve-container API2/LXC/Config.pm
        # vm_config `current`), so a run after a failed reboot would wrongly find keyctl on.
        ctconf=$(pct config "$vmid" --current) || fail "container $vmid does not exist"
        grep -qx 'unprivileged: 1' <<<"$ctconf" || refuse "container $vmid is not unprivileged"
        features=$(grep -E '^features: ' <<<"$ctconf" || true)
        if [[ ,${features#features: }, == *,keyctl=1,* && ,${features#features: }, == *,nesting=1,* ]]; then
            echo "ai-dualstack-vm-tune: $env container $vmid: keyctl already on"
            exit 0
        fi
        echo "ai-dualstack-vm-tune: $env container $vmid: pct set $vmid --features keyctl=1,nesting=1"
        pct set "$vmid" --features keyctl=1,nesting=1
        if pct status "$vmid" | grep -q 'status: running'; then
            echo "ai-dualstack-vm-tune: container $vmid is running: rebooting it so keyctl takes effect"
            pct reboot "$vmid"
        fi
        exit 0
        ;;
    set) ;;
    *) refuse "unknown action '$action' (set, show, keyctl or ca)" ;;
esac

args=()
deletes=()
hugepages=''
start=0
i=2
while ((i < ${#words[@]})); do
    option=${words[i]}
    value=${words[i + 1]:-}
    [[ -n $value ]] || refuse "$option needs a value"
    case $option in
        --hugepages)
            [[ $value =~ ^(2|1024|none)$ ]] || refuse "--hugepages must be 2, 1024 or none"
            hugepages=$value
            if [[ $value == none ]]; then deletes+=(hugepages); else args+=(--hugepages "$value"); fi
            ;;
        --keephugepages)
            [[ $value =~ ^[01]$ ]] || refuse "--keephugepages must be 0 or 1"
            args+=(--keephugepages "$value")
            ;;
        --affinity)
            if [[ $value == none ]]; then
                deletes+=(affinity)
            else
                [[ $value =~ $CPU_SET ]] || refuse "--affinity must be a CPU set like 0-7"
                [[ -n $AFFINITY_CPUS ]] || refuse "the $env environment has no CPU set to pin to"
                check_cpu_ranges "$value"
                check_cpu_ranges "$AFFINITY_CPUS"
                allowed=$(expand_cpus "$AFFINITY_CPUS")
                while read -r cpu; do
                    grep -qx "$cpu" <<<"$allowed" || refuse "CPU $cpu is outside the $env CPU set $AFFINITY_CPUS"
                done < <(expand_cpus "$value")
                args+=(--affinity "$value")
            fi
            ;;
        --startup)
            if [[ $value == none ]]; then
                deletes+=(startup)
            else
                [[ $value =~ ^order=[0-9]{1,4}(,up=[0-9]{1,4})?(,down=[0-9]{1,4})?$ ]] || refuse "--startup must be order=<n>[,up=<s>][,down=<s>]"
                args+=(--startup "$value")
            fi
            ;;
        --start)
            # Start the VM after setting the options, if it is stopped: a VM created stopped
            # then runs with its hugepages from its first boot (on a running VM qemu-server
            # only records them as pending).
            [[ $value == 1 ]] || refuse "--start takes 1"
            start=1
            ;;
        *) refuse "unknown option '$option'" ;;
    esac
    i=$((i + 2))
done
((${#args[@]} + ${#deletes[@]} > 0)) || refuse "nothing to set"

if [[ -n $hugepages && $hugepages != none ]]; then
    memory=$(vm_memory_mib "$vmid")
    ((memory <= HUGEPAGES_MAX_MIB)) || refuse "VM $vmid has $memory MiB, more than the $env hugepage budget of $HUGEPAGES_MAX_MIB MiB"
fi

if ((${#deletes[@]} > 0)); then
    args+=(--delete "$(IFS=,; echo "${deletes[*]}")")
fi
echo "ai-dualstack-vm-tune: $env VM $vmid: qm set $vmid ${args[*]}"
qm set "$vmid" "${args[@]}"
if qm status "$vmid" 2>/dev/null | grep -q 'status: running'; then
    # qemu-server keeps these as pending changes on a running VM.
    echo "ai-dualstack-vm-tune: VM $vmid is running: the new values apply at its next start"
elif ((start == 1)); then
    echo "ai-dualstack-vm-tune: $env VM $vmid: qm start $vmid"
    qm start "$vmid"
fi
