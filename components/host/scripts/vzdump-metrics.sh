#!/usr/bin/env bash
# vzdump hook of ai-dualstack: turns each guest's backup result into metrics for the node
# exporter's textfile collector, which the private monitoring container scrapes (alerts
# BackupFailed and BackupMissed, components/services/monitoring.ts BACKUP_METRICS).
#
# The host stack installs it on every node (node-monitoring.sh) and names it as the
# backup jobs' `script`. vzdump calls it as (pve-manager PVE/VZDump.pm run_hook_script):
#   <script> job-init|job-start|job-end|job-abort                 for the job
#   <script> backup-start|backup-end|backup-abort|... <mode> <vmid>  for each guest
# with VMTYPE (qemu|lxc), STOREID, HOSTNAME ... in the environment. backup-end runs
# after a guest's archive is written, backup-abort after its backup failed
# (exec_backup_task). A hook that exits non-zero in backup-end fails that guest's backup,
# so this script always exits 0: a metrics problem must never cost a backup.
#
# Per guest a state line in $STATE_DIR/<vmid>; after each change the one metrics file is
# rewritten from all of them (atomically, under a lock: two environments' jobs may run at
# once), so the last success of a guest survives a later failure.
TEXTFILE_DIR=${AI_DUALSTACK_ROOT:-}/var/lib/prometheus/node-exporter
STATE_DIR=${AI_DUALSTACK_ROOT:-}/var/lib/ai-dualstack/backup-metrics
readonly PROM=$TEXTFILE_DIR/ai_dualstack_backup.prom

phase=${1:-}
vmid=${3:-}

log() { echo "ai-dualstack vzdump hook: $*" >&2; }

# write_state <vmid> <status 0|1>: the guest's result; a success also records its time.
write_state() {
    local id=$1 status=$2 success="" now
    now=$(date +%s) || return 1
    if [[ -f $STATE_DIR/$id ]]; then
        read -r _ success <"$STATE_DIR/$id" || success=""
    fi
    if [[ $status == 1 ]]; then
        success=$now
    fi
    printf '%s %s\n' "$status" "$success" >"$STATE_DIR/$id.tmp" && mv -f "$STATE_DIR/$id.tmp" "$STATE_DIR/$id"
}

# render: the metrics file from every guest's state.
render() {
    local file id status success
    {
        echo "# HELP ai_dualstack_backup_last_status 1 when the guest's last vzdump backup succeeded, 0 when it failed."
        echo "# TYPE ai_dualstack_backup_last_status gauge"
        for file in "$STATE_DIR"/*; do
            id=${file##*/}
            [[ $id =~ ^[0-9]+$ ]] || continue
            read -r status _ <"$file" || continue
            echo "ai_dualstack_backup_last_status{vmid=\"$id\"} $status"
        done
        echo "# HELP ai_dualstack_backup_last_success_timestamp_seconds Unix time of the guest's last successful vzdump backup."
        echo "# TYPE ai_dualstack_backup_last_success_timestamp_seconds gauge"
        for file in "$STATE_DIR"/*; do
            id=${file##*/}
            [[ $id =~ ^[0-9]+$ ]] || continue
            read -r _ success <"$file" || continue
            if [[ -n $success ]]; then
                echo "ai_dualstack_backup_last_success_timestamp_seconds{vmid=\"$id\"} $success"
            fi
        done
    } >"$PROM.$$" && mv -f "$PROM.$$" "$PROM"
}

update() {
    mkdir -p "$STATE_DIR" "$TEXTFILE_DIR" || return 1
    exec 9>"$STATE_DIR/.lock" || return 1
    flock -w 60 9 || return 1
    case $phase in
        backup-end)
            [[ $vmid =~ ^[0-9]+$ ]] || return 1
            write_state "$vmid" 1 || return 1
            ;;
        backup-abort)
            [[ $vmid =~ ^[0-9]+$ ]] || return 1
            write_state "$vmid" 0 || return 1
            ;;
    esac
    render
}

case $phase in
    backup-end | backup-abort | job-end | job-abort)
        update || log "could not update $PROM (phase $phase${vmid:+, guest $vmid}); the backup itself is not affected"
        ;;
esac
exit 0
