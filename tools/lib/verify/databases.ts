/**
 * PostgreSQL and Redis accept their apps' credentials: each app's connection string logs
 * in and answers a trivial request. Connection strings are secrets: only the app name and
 * host:port ever reach the report.
 *
 * PostgreSQL goes through `pg` (node-postgres: SCRAM-SHA-256, md5, TLS as the string
 * says). Redis needs two commands, so they are spoken here in RESP (redis.io "Redis
 * serialization protocol specification"): `AUTH [username] password` (Redis 6 ACL form)
 * then `PING`, which must answer `+PONG`.
 */
import * as net from "net";
import * as tls from "tls";
import { Client } from "pg";
import type { Check } from "./report";

const TIMEOUT_MS = 8_000;

/** host:port of a connection string, never its credentials. */
function endpointOf(connectionString: string, defaultPort: number): string {
    try {
        const u = new URL(connectionString);
        return `${u.hostname}:${u.port || defaultPort}`;
    } catch {
        return "an unparsable connection string";
    }
}

export async function checkPostgres(app: string, connectionString: string): Promise<Check> {
    const where = endpointOf(connectionString, 5432);
    const client = new Client({ connectionString, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS });
    client.on("error", () => undefined);
    try {
        await client.connect();
        const r = await client.query<{ who: string }>("SELECT current_user AS who");
        return { group: "databases", name: `postgres ${app}`, status: "pass", detail: `${where}: logged in as ${r.rows[0]?.who ?? "?"}` };
    } catch (err) {
        const e = err as Error & { code?: string };
        const why = e.code === "28P01" || e.code === "28000" ? `credentials refused (${e.message})` : e.message;
        return { group: "databases", name: `postgres ${app}`, status: "fail", detail: `${where}: ${why}` };
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** One RESP array of bulk strings. */
function respCommand(args: readonly string[]): string {
    return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

export async function checkRedis(app: string, connectionString: string): Promise<Check> {
    const where = endpointOf(connectionString, 6379);
    const name = `redis ${app}`;
    let u: URL;
    try {
        u = new URL(connectionString);
    } catch {
        return { group: "databases", name, status: "fail", detail: "the connection string is not a URL" };
    }
    const user = decodeURIComponent(u.username);
    const password = decodeURIComponent(u.password);
    const commands: string[][] = [];
    if (password !== "") {
        commands.push(user !== "" && user !== "default" ? ["AUTH", user, password] : ["AUTH", password]);
    }
    commands.push(["PING"]);
    try {
        const replies = await exchange(u.hostname, Number(u.port || 6379), u.protocol === "rediss:", commands);
        const failed = replies.find((r) => r.startsWith("-"));
        if (failed !== undefined) {
            return { group: "databases", name, status: "fail", detail: `${where}: ${/WRONGPASS|NOAUTH|invalid password/i.test(failed) ? "credentials refused" : "refused"} (${failed.slice(1)})` };
        }
        if (replies[replies.length - 1] !== "+PONG") {
            return { group: "databases", name, status: "fail", detail: `${where}: PING answered ${JSON.stringify(replies[replies.length - 1])}` };
        }
        return { group: "databases", name, status: "pass", detail: `${where}: ${password !== "" ? "AUTH and " : ""}PING ok` };
    } catch (err) {
        return { group: "databases", name, status: "fail", detail: `${where}: ${(err as Error).message}` };
    }
}

/** Sends the commands and returns the first line of each reply. */
function exchange(host: string, port: number, useTls: boolean, commands: readonly string[][]): Promise<string[]> {
    return new Promise((resolve, reject) => {
        const socket = useTls ? tls.connect({ host, port, servername: host }) : net.connect({ host, port });
        const replies: string[] = [];
        let buffer = "";
        const done = (err?: Error) => {
            socket.destroy();
            if (err) {
                reject(err);
            } else {
                resolve(replies);
            }
        };
        socket.setTimeout(TIMEOUT_MS, () => done(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
        socket.on("error", (err: Error & { code?: string }) => done(new Error(err.code !== undefined ? `${err.code} (${err.message})` : err.message)));
        socket.once(useTls ? "secureConnect" : "connect", () => socket.write(commands.map(respCommand).join("")));
        socket.on("data", (chunk: Buffer) => {
            buffer += chunk.toString("utf8");
            let end: number;
            while ((end = buffer.indexOf("\r\n")) >= 0) {
                replies.push(buffer.slice(0, end));
                buffer = buffer.slice(end + 2);
                // The replies to AUTH and PING are simple strings or errors: one line each.
                if (replies.length === commands.length) {
                    done();
                    return;
                }
            }
        });
        socket.on("close", () => {
            if (replies.length < commands.length) {
                done(new Error("the server closed the connection"));
            }
        });
    });
}
