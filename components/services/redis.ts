/**
 * Redis's configuration in the cache container, rendered from typed inputs.
 *
 * Debian's redis-server 5:7.0.15 package (read in the package): the service runs
 * `redis-server /etc/redis/redis.conf` under systemd with ProtectSystem and
 * `ReadWritePaths=-/var/lib/redis`, so a data directory elsewhere needs a drop-in; its
 * redis.conf advises `include` as the last line to override settings.
 */
import { PORTS } from "../catalog";

export interface RedisInput {
    /** the container's own address: Redis listens there and on localhost only */
    readonly listenAddress: string;
    /** the data volume */
    readonly dataDir: string;
    readonly maxMemoryMiB: number;
    /** requirepass: the default user's password (a secret) */
    readonly password: string;
}

export const REDIS_INCLUDE = "/etc/redis/ai-dualstack.conf";
export const REDIS_DROPIN = "/etc/systemd/system/redis-server.service.d/ai-dualstack.conf";

export function redisConf(input: RedisInput): string {
    return [
        "# ai-dualstack: included last by /etc/redis/redis.conf; edits are overwritten.",
        `bind 127.0.0.1 ${input.listenAddress}`,
        "protected-mode yes",
        `port ${PORTS.redis}`,
        `dir ${input.dataDir}`,
        "appendonly yes",
        `maxmemory ${input.maxMemoryMiB}mb`,
        "maxmemory-policy allkeys-lru",
        `requirepass ${input.password}`,
        "",
    ].join("\n");
}

/** Lets the sandboxed service write its data volume. */
export function redisDropIn(dataDir: string): string {
    return ["[Service]", `ReadWritePaths=${dataDir}`, ""].join("\n");
}

/** `redis://:password@host:6379/<db>`: each app its own logical database. */
export function redisUrl(password: string, host: string, db: number): string {
    return `redis://:${password}@${host}:${PORTS.redis}/${db}`;
}

/** The Redis exporter's settings (Debian's unit reads /etc/default/prometheus-redis-exporter); REDIS_PASSWORD is read by redis_exporter. */
export function redisExporterDefaults(password: string): string {
    return [`REDIS_ADDR=redis://127.0.0.1:${PORTS.redis}`, `REDIS_PASSWORD=${password}`, `ARGS="-web.listen-address=:${PORTS.redisExporter}"`, ""].join("\n");
}
