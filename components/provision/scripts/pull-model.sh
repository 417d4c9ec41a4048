# shellcheck shell=bash
# Pulls one model into Ollama through its HTTP API, with progress and retries.
#
#   pull-model.sh <model> <size GiB> <ollama url> <data mount>
#
# POST /api/pull streams JSON objects ({"status", "total", "completed"}, or {"error"}) and
# resumes a cancelled pull where it stopped (ollama docs/api.md "Pull a Model"), so a
# retry after a dropped link continues rather than starting over. Progress is printed
# every 5%. Refuses to start when the data disk lacks room for the model.

[[ $# -eq 4 ]] || die "usage: pull-model.sh <model> <size GiB> <ollama url> <data mount>"
model=$1
size_gib=$2
url=${3%/}
data_mount=$4
[[ $model =~ ^[a-z0-9][a-z0-9._/-]*:[a-z0-9][a-z0-9._-]*$ ]] || die "bad model name '$model'"
[[ $size_gib =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad size '$size_gib'"
attempts=${PULL_ATTEMPTS:-5}
delay=${PULL_RETRY_DELAY:-15}

for i in $(seq 1 60); do
    curl -fsS -o /dev/null "$url/api/version" 2>/dev/null && break
    [[ $i -lt 60 ]] || die "Ollama at $url did not answer"
    sleep 2
done

body=$(jq -cn --arg m "$model" '{model: $m}')
if curl -fsS -o /dev/null -X POST "$url/api/show" -d "$body" 2>/dev/null; then
    log "$model is already present"
    exit 0
fi

# Room for the model plus 10% on the data disk (df reports KiB).
need_kib=$(awk -v g="$size_gib" 'BEGIN { printf "%d", g * 1.1 * 1024 * 1024 }')
free_kib=$(df -Pk "$data_mount" | awk 'NR == 2 { print $4 }')
if [[ $free_kib -lt $need_kib ]]; then
    die "$model needs about $size_gib GiB, $data_mount has $((free_kib / 1024 / 1024)) GiB free"
fi

pull_once() {
    local last=-5 status="" line
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        if jq -e 'has("error")' >/dev/null <<<"$line"; then
            echo "pull-model: $model: $(jq -r .error <<<"$line")" >&2
            return 1
        fi
        local now total completed
        now=$(jq -r '.status // ""' <<<"$line")
        total=$(jq -r '.total // 0' <<<"$line")
        completed=$(jq -r '.completed // 0' <<<"$line")
        if [[ $now != "$status" ]]; then
            last=-5
            [[ $total -gt 0 ]] || log "$model: $now"
        fi
        if [[ $total -gt 0 ]]; then
            local pct=$((completed * 100 / total))
            if [[ $pct -ge $((last + 5)) ]] || [[ $pct -eq 100 && $last -ne 100 ]]; then
                log "$model: ${now%% *} $pct% of $((total / 1048576)) MiB"
                last=$pct
            fi
        fi
        status=$now
    done < <(curl -sS -N --fail -X POST "$url/api/pull" -d "$body" || echo '{"error":"connection to Ollama failed"}')
    [[ $status == success ]]
}

for attempt in $(seq 1 "$attempts"); do
    if pull_once; then
        log "$model: pulled"
        exit 0
    fi
    [[ $attempt -lt $attempts ]] || break
    log "$model: attempt $attempt of $attempts failed; resuming in $((delay * attempt)) s"
    sleep $((delay * attempt))
done
die "$model: giving up after $attempts attempts"
