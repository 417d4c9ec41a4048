# shellcheck shell=bash
# PostgreSQL in the database container: Debian's pinned major, its cluster on the data
# volume, the rendered conf.d drop-in and pg_hba.conf, and per app a role and a database
# of the same name whose password is the app's value in the bundle (password.<app>).
#
#   postgres.sh <major> <data-mount-path> [app...]
[[ $# -ge 2 ]] || die "usage: postgres.sh <major> <data-mount-path> [app...]"
major=$1
data=$2
shift 2
[[ $major =~ ^[0-9]{2}$ ]] || die "bad major version '$major'"
[[ $data =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad data mount path '$data'"
for app in "$@"; do
    [[ $app =~ ^[a-z][a-z0-9_]{0,30}$ ]] || die "bad app name '$app'"
done

read_bundle
require_mount "$data"

# postgresql-common first: it creates the postgres user and reads createcluster.d, so the
# cluster the server package creates lands on the data volume.
ensure_packages postgresql-common
put_file /etc/postgresql-common/createcluster.d/ai-dualstack.conf 0644 root:root \
    < <(printf "# ai-dualstack: new clusters live on the data volume\ndata_directory = '%s/%%v/%%c'\n" "$data")
chown postgres:postgres "$ROOT$data"
ensure_packages "postgresql-$major"
[[ -f $ROOT$data/$major/main/PG_VERSION ]] \
    || die "cluster $major/main is not on the data volume ($data/$major/main); it was created before this step, move it with pg_dropcluster and pg_createcluster"

# Packages before files: the exporter's /etc/default file is a conffile of its package.
ensure_packages prometheus-postgres-exporter
install_bundle_files
# conf.d holds settings that need a restart (listen_addresses); pg_hba.conf is re-read on
# reload (PostgreSQL docs, "The pg_hba.conf File": SIGHUP), which keeps the apps' connections.
# Debian's postgresql@.service reloads with pg_ctlcluster ... reload.
if changed "/etc/postgresql/$major/main/conf.d/"; then
    restart_if_changed "postgresql@$major-main" "/etc/postgresql/$major/main/conf.d/"
else
    reload_if_changed "postgresql@$major-main" "/etc/postgresql/$major/main/pg_hba.conf"
fi

for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 1
done
pg_isready -q -h 127.0.0.1 || die "PostgreSQL $major does not accept connections on localhost"

for app in "$@"; do
    password=$(bundle_value "password.$app")
    [[ $password =~ ^[A-Za-z0-9]{16,}$ ]] || die "password of $app must be 16+ letters and digits"
    # Already there with this password: nothing to change (ALTER ROLE would re-salt it).
    if PGPASSWORD=$password psql -h 127.0.0.1 -U "$app" -d "$app" -tAc 'SELECT 1' >/dev/null 2>&1; then
        log "$app: role, database and password in place"
        continue
    fi
    log "$app: creating or updating role and database"
    # The password goes to psql on stdin, never on a command line.
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d postgres <<SQL
\\set app '$app'
\\set pw '$password'
SELECT format('CREATE ROLE %I LOGIN', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \\gexec
ALTER ROLE :"app" WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'app', :'app') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app') \\gexec
REVOKE ALL ON DATABASE :"app" FROM PUBLIC;
SQL
done
# The exporter logs in as the OS user prometheus over the socket (peer), as role prometheus.
# Every run, not only when the exporter's file changed: the statements are idempotent, and
# a cluster recreated on the volume (or a role dropped by hand) gets the role back.
runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d postgres <<'SQL'
SELECT 'CREATE ROLE prometheus LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prometheus') \gexec
GRANT pg_monitor TO prometheus;
SQL
restart_if_changed prometheus-postgres-exporter /etc/default/prometheus-postgres-exporter
log "ready"
