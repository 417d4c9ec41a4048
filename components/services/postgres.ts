/**
 * PostgreSQL's configuration in the database container, rendered from typed inputs.
 *
 * Debian's packaging (postgresql-common, read in its 248+deb12u2 package): clusters live
 * in /etc/postgresql/<major>/<cluster>/; pg_createcluster adds `include_dir = 'conf.d'` to
 * every new postgresql.conf (createcluster.conf `add_include_dir`) and reads
 * /etc/postgresql-common/createcluster.d/*.conf, where `data_directory` puts the data on
 * the container's data volume.
 */
import { PORTS } from "../catalog";

/** An app with a database and a role of its own, both named after it. */
export interface DatabaseUser {
    readonly app: string;
}

export interface PostgresInput {
    readonly major: number;
    /** the container's own address: PostgreSQL listens there and on localhost only */
    readonly listenAddress: string;
    /** the environment's subnet: the only network allowed to log in */
    readonly subnet: string;
    readonly databases: readonly DatabaseUser[];
}

export const postgresConfDir = (major: number) => `/etc/postgresql/${major}/main`;

/** conf.d drop-in: listen on the environment side only, SCRAM passwords. */
export function postgresConf(input: PostgresInput): string {
    return [
        "# ai-dualstack: written by the provisioning step; edits are overwritten.",
        `listen_addresses = 'localhost,${input.listenAddress}'`,
        `port = ${PORTS.postgres}`,
        "password_encryption = 'scram-sha-256'",
        "",
    ].join("\n");
}

/**
 * pg_hba.conf: the postgres superuser only over the local socket; each app only to its own
 * database, from the environment's subnet, with a SCRAM password. Localhost TCP lets the
 * step check an app's password without changing it.
 */
export function pgHba(input: PostgresInput): string {
    const rows: string[][] = [
        ["local", "all", "postgres", "", "peer"],
        ["local", "all", "all", "", "peer"],
        ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
        ["host", "all", "all", "::1/128", "scram-sha-256"],
        ...input.databases.map((d) => ["hostssl", d.app, d.app, input.subnet, "scram-sha-256"]),
    ];
    return [
        "# ai-dualstack: written by the provisioning step; edits are overwritten.",
        "# TYPE  DATABASE  USER  ADDRESS  METHOD",
        ...rows.map((r) => r.filter((f) => f !== "").join("\t")),
        "",
    ].join("\n");
}

/** `postgresql://app:password@host:5432/app` (passwords are alphanumeric, no escaping needed). */
export function postgresUrl(app: string, password: string, host: string): string {
    return `postgresql://${app}:${password}@${host}:${PORTS.postgres}/${app}?sslmode=require`;
}

/**
 * The PostgreSQL exporter's settings (Debian's unit reads /etc/default/prometheus-postgres-exporter):
 * it runs as the OS user prometheus and logs in over the local socket by peer authentication.
 */
export function postgresExporterDefaults(): string {
    return [`DATA_SOURCE_NAME='user=prometheus host=/run/postgresql dbname=postgres'`, `ARGS="--web.listen-address=:${PORTS.postgresExporter}"`, ""].join("\n");
}
