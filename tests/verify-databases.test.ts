/**
 * verify's PostgreSQL and Redis logins against the real servers (Debian's postgresql and
 * redis-server, which .ci/run installs), started here on 127.0.0.1 with passwords.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { checkPostgres, checkRedis } from "../tools/lib/verify/databases";

const PASSWORD = "s3cret-for-tests";

function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address() as net.AddressInfo;
            s.close(() => resolve(port));
        });
    });
}

async function waitForPort(port: number, ms = 20_000): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        const ok = await new Promise<boolean>((resolve) => {
            const s = net.connect(port, "127.0.0.1", () => { s.destroy(); resolve(true); });
            s.on("error", () => resolve(false));
        });
        if (ok) {
            return;
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
        return;
    }
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 10_000); })]);
    clearTimeout(timer);
}

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function pgBin(): string {
    const root = "/usr/lib/postgresql";
    const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a)) : [];
    if (majors.length === 0) {
        throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: install the Debian package postgresql (.ci/run does)");
    }
    return path.join(root, majors[0], "bin");
}

describe("PostgreSQL logins (real server)", () => {
    let dir: string;
    let port: number;
    let server: ChildProcess;
    // initdb and postgres refuse to run as root: as root, run them as the postgres user the Debian package creates.
    const owner = process.getuid?.() === 0
        ? { uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })) }
        : {};

    beforeAll(async () => {
        const bin = pgBin();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "verify-pg-"));
        const pwfile = path.join(dir, "pw");
        fs.writeFileSync(pwfile, PASSWORD);
        if (process.getuid?.() === 0) {
            execFileSync("chown", ["-R", "postgres:postgres", dir]);
        }
        const data = path.join(dir, "data");
        execFileSync(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "--no-sync"], { stdio: "pipe", ...owner });
        port = await freePort();
        server = spawn(path.join(bin, "postgres"), ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"], { stdio: "ignore", ...owner });
        await waitForPort(port);
    }, 60_000);

    afterAll(async () => {
        await stop(server, "SIGQUIT"); // PostgreSQL's immediate shutdown: no waiting for sessions
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test("the app's credentials log in", async () => {
        const c = await checkPostgres("open-webui", `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`);
        expect(c).toEqual({ group: "databases", name: "postgres open-webui", status: "pass", detail: `127.0.0.1:${port}: logged in as postgres` });
    });

    test("a wrong password is refused, and the report never shows either password", async () => {
        const c = await checkPostgres("open-webui", `postgresql://postgres:wrong-one@127.0.0.1:${port}/postgres`);
        expect(c.status).toBe("fail");
        expect(c.detail).toMatch(/credentials refused \(password authentication failed for user "postgres"\)/);
        expect(c.detail).not.toContain("wrong-one");
        expect(c.detail).not.toContain(PASSWORD);
    });

    test("a server that is not there fails with the connection's reason", async () => {
        const c = await checkPostgres("open-webui", `postgresql://postgres:${PASSWORD}@127.0.0.1:${await freePort()}/postgres`);
        expect(c.status).toBe("fail");
        expect(c.detail).toContain("ECONNREFUSED");
    });
});

describe("Redis logins (real server)", () => {
    let port: number;
    let server: ChildProcess;

    beforeAll(async () => {
        port = await freePort();
        server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"], { stdio: "ignore" });
        server.on("error", (err) => { throw new Error(`redis-server: ${err.message} (install the Debian package redis-server; .ci/run does)`); });
        await waitForPort(port);
    }, 30_000);

    afterAll(async () => {
        await stop(server, "SIGTERM");
    });

    test("the app's password (requirepass) and the ACL form with the default user both log in", async () => {
        expect(await checkRedis("agent", `redis://:${PASSWORD}@127.0.0.1:${port}/0`)).toEqual({ group: "databases", name: "redis agent", status: "pass", detail: `127.0.0.1:${port}: AUTH and PING ok` });
        expect((await checkRedis("agent", `redis://default:${PASSWORD}@127.0.0.1:${port}`)).status).toBe("pass");
    });

    test("a wrong password, or none, is refused", async () => {
        const wrong = await checkRedis("agent", `redis://:nope@127.0.0.1:${port}`);
        expect(wrong.status).toBe("fail");
        expect(wrong.detail).toMatch(/credentials refused \(WRONGPASS/);
        expect(wrong.detail).not.toContain("nope");
        const none = await checkRedis("agent", `redis://127.0.0.1:${port}`);
        expect(none.status).toBe("fail");
        expect(none.detail).toMatch(/NOAUTH/);
    });
});
