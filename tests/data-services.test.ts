/**
 * PostgreSQL and Redis in their containers: the rendered configuration, the scripts run
 * against a scratch root with stubbed Debian tools (a second run changes nothing), and the
 * graph: passwords from @pulumi/random, secret on stdin and in the outputs, every app
 * pointed at its own environment's services.
 */
import * as fs from "fs";
import * as path from "path";
import { isHostInCidr, parseCidr } from "../config/net";
import { serviceTargets } from "../components/provision/serviceProvisioning";
import { workloadDeclarations } from "../components/workloads/catalog";
import { serviceUsers } from "../components/workloads/model";
import { file, value } from "../components/provision/steps";
import { pgHba, postgresConf, postgresUrl } from "../components/services/postgres";
import { REDIS_DROPIN, REDIS_INCLUDE, redisConf, redisDropIn } from "../components/services/redis";
import { MOCK_GENERATED_SECRET } from "../tools/lib/evaluate";
import { byName, seedEnvironments, type EnvEvaluation as Evaluation, input, ofType } from "./helpers";
import { scratch } from "./provisionHarness";

const PG = { major: 15, listenAddress: "10.10.10.20", subnet: "10.10.10.0/24", databases: [{ app: "open_webui" }, { app: "assistant" }] };
const PASSWORD = "Abcdefghij0123456789KLMNOPqrstuv";

describe("rendered configuration", () => {
    test("PostgreSQL listens on localhost and its own address; each app reaches only its database, from the subnet, over TLS with SCRAM", () => {
        expect(postgresConf(PG)).toContain("listen_addresses = 'localhost,10.10.10.20'\n");
        expect(postgresConf(PG)).toContain("password_encryption = 'scram-sha-256'\n");
        const rules = pgHba(PG).split("\n").filter((l) => l && !l.startsWith("#"));
        expect(rules).toEqual([
            "local\tall\tpostgres\tpeer",
            "local\tall\tall\tpeer",
            "host\tall\tall\t127.0.0.1/32\tscram-sha-256",
            "host\tall\tall\t::1/128\tscram-sha-256",
            "hostssl\topen_webui\topen_webui\t10.10.10.0/24\tscram-sha-256",
            "hostssl\tassistant\tassistant\t10.10.10.0/24\tscram-sha-256",
        ]);
        expect(postgresUrl("chatbot", "pw", "10.20.20.20")).toBe("postgresql://chatbot:pw@10.20.20.20:5432/chatbot?sslmode=require");
    });

    test("Redis binds localhost and its own address, requires the password, keeps its data on the volume", () => {
        const conf = redisConf({ listenAddress: "10.10.10.21", dataDir: "/var/lib/redis", maxMemoryMiB: 256, password: PASSWORD });
        expect(conf.split("\n")).toEqual(expect.arrayContaining(["bind 127.0.0.1 10.10.10.21", "protected-mode yes", `requirepass ${PASSWORD}`, "dir /var/lib/redis", "appendonly yes"]));
        expect(redisDropIn("/srv/redis")).toBe("[Service]\nReadWritePaths=/srv/redis\n");
    });
});

/** apt-get that behaves like Debian's postgresql packages: pg_createcluster reads createcluster.d. */
function postgresScratch(options: { honourCreatecluster: boolean }) {
    const s = scratch({ mounts: ["/var/lib/postgresql"] });
    const installed = path.join(s.state, "installed");
    s.stub("apt-get", [
        `[ "$1" = install ] || exit 0`,
        `for a in "$@"; do case $a in -*|install) ;; *) echo "$a" >>"${installed}" ;; esac; done`,
        `for a in "$@"; do case $a in postgresql-1[0-9])`,
        `  major=\${a#postgresql-}`,
        `  dir="$AI_DUALSTACK_ROOT/var/lib/postgresql/$major/main"`,
        options.honourCreatecluster ? `  conf="$AI_DUALSTACK_ROOT/etc/postgresql-common/createcluster.d/ai-dualstack.conf"` : `  conf=/nonexistent`,
        `  if [ -f "$conf" ]; then d=$(sed -n "s/^data_directory = '\\(.*\\)'$/\\1/p" "$conf"); d=\${d//%v/$major}; dir="$AI_DUALSTACK_ROOT\${d//%c/main}"; else dir="$AI_DUALSTACK_ROOT/srv/elsewhere"; fi`,
        `  mkdir -p "$dir" && echo "$major" >"$dir/PG_VERSION" ;;`,
        `esac; done`,
    ].join("\n"));
    s.stub("pg_isready", "exit 0");
    s.stub("runuser", `while [ "$1" != -- ]; do shift; done; shift; exec "$@"`);
    // psql: as the postgres superuser it records the SQL and the role's password; as an app
    // (PGPASSWORD set) it succeeds only when that password was set.
    s.stub("psql", [
        `roles="${s.state}/roles"; touch "$roles"`,
        `if [ -n "\${PGPASSWORD:-}" ]; then u=; while [ $# -gt 0 ]; do [ "$1" = -U ] && u=$2; shift; done; grep -qx "$u:$PGPASSWORD" "$roles"; exit; fi`,
        `sql=$(cat); printf '%s\\n' "$sql" >>"${s.state}/sql"`,
        `app=$(printf '%s\\n' "$sql" | sed -n "s/^\\\\\\\\set app '\\(.*\\)'$/\\1/p"); pw=$(printf '%s\\n' "$sql" | sed -n "s/^\\\\\\\\set pw '\\(.*\\)'$/\\1/p")`,
        `echo "$app:$pw" >>"$roles"`,
    ].join("\n"));
    return s;
}

describe("postgres.sh against a scratch root", () => {
    const bundle = [
        file("/etc/postgresql/15/main/conf.d/ai-dualstack.conf", postgresConf(PG), "0644", "postgres:postgres"),
        file("/etc/postgresql/15/main/pg_hba.conf", pgHba(PG), "0640", "postgres:postgres"),
        value("password.open_webui", PASSWORD),
        value("password.assistant", `${PASSWORD}X`),
    ];

    test("creates the cluster on the data volume, one role and database per app; a second run changes nothing", () => {
        const s = postgresScratch({ honourCreatecluster: true });
        const first = s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui", "assistant"], bundle);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(s.read("etc/postgresql-common/createcluster.d/ai-dualstack.conf")).toContain("data_directory = '/var/lib/postgresql/%v/%c'");
        expect(s.exists("var/lib/postgresql/15/main/PG_VERSION")).toBe(true);
        expect(s.calls()).toEqual(expect.arrayContaining([
            "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql-common",
            "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql-15",
            "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold prometheus-postgres-exporter",
            "systemctl restart postgresql@15-main",
        ]));
        const sql = fs.readFileSync(path.join(s.state, "sql"), "utf8");
        expect(sql).toContain("GRANT pg_monitor TO prometheus;");
        expect(sql).toContain("\\set app 'open_webui'");
        expect(sql).toContain("SELECT format('CREATE DATABASE %I OWNER %I', :'app', :'app') WHERE NOT EXISTS");
        expect(sql).toContain("REVOKE ALL ON DATABASE :\"app\" FROM PUBLIC;");
        // No password on any command line.
        expect(s.calls().join("\n")).not.toContain(PASSWORD);

        s.resetCalls();
        fs.rmSync(path.join(s.state, "sql"));
        const second = s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui", "assistant"], bundle);
        expect(second.status).toBe(0);
        expect(second.stdout).toContain("open_webui: role, database and password in place");
        expect(s.calls().filter((c) => /^(apt-get|systemctl (restart|start|reload))/.test(c))).toEqual([]);
        // The exporter's role is ensured on every run (idempotent SQL), nothing else.
        expect(s.calls().filter((c) => c.startsWith("runuser"))).toEqual(["runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d postgres"]);
        expect(fs.readFileSync(path.join(s.state, "sql"), "utf8")).toBe("SELECT 'CREATE ROLE prometheus LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prometheus') \\gexec\nGRANT pg_monitor TO prometheus;\n");
    });

    test("a pg_hba.conf change reloads PostgreSQL (its connections stay); a conf.d change restarts it", () => {
        const s = postgresScratch({ honourCreatecluster: true });
        expect(s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], bundle).status).toBe(0);
        const hba = bundle.map((e) => (e.kind === "file" && e.path.endsWith("pg_hba.conf") ? file(e.path, `${e.content}# one more line\n`, e.mode, e.owner) : e));
        s.resetCalls();
        expect(s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], hba).status).toBe(0);
        expect(s.calls().filter((c) => /^systemctl (restart|start|reload)/.test(c))).toEqual(["systemctl reload postgresql@15-main"]);
        const confd = hba.map((e) => (e.kind === "file" && e.path.endsWith("ai-dualstack.conf") ? file(e.path, `${e.content}# one more line\n`, e.mode, e.owner) : e));
        s.resetCalls();
        expect(s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], confd).status).toBe(0);
        expect(s.calls().filter((c) => /^systemctl (restart|start|reload)/.test(c))).toEqual(["systemctl restart postgresql@15-main"]);
    });

    test("a changed password is set again, and only for that app", () => {
        const s = postgresScratch({ honourCreatecluster: true });
        s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], bundle);
        fs.rmSync(path.join(s.state, "sql"));
        const changedBundle = bundle.map((e) => (e.kind === "value" && e.name === "password.open_webui" ? value(e.name, `${PASSWORD}new`) : e));
        expect(s.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], changedBundle).status).toBe(0);
        expect(fs.readFileSync(path.join(s.state, "sql"), "utf8")).toContain(`\\set pw '${PASSWORD}new'`);
    });

    test("refuses when the cluster is not on the data volume, and a weak password", () => {
        const off = postgresScratch({ honourCreatecluster: false });
        const r = off.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], bundle);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("cluster 15/main is not on the data volume (/var/lib/postgresql/15/main)");

        const weak = postgresScratch({ honourCreatecluster: true });
        const w = weak.run("postgres.sh", ["15", "/var/lib/postgresql", "open_webui"], [...bundle.slice(0, 2), value("password.open_webui", "short'; DROP")]);
        expect(w).toMatchObject({ status: 1, stderr: "postgres: password of open_webui must be 16+ letters and digits\n" });
    });
});

describe("redis.sh against a scratch root", () => {
    const conf = redisConf({ listenAddress: "10.10.10.21", dataDir: "/var/lib/redis", maxMemoryMiB: 256, password: PASSWORD });
    const bundle = [file(REDIS_INCLUDE, conf, "0640", "root:redis"), file(REDIS_DROPIN, redisDropIn("/var/lib/redis"))];
    const setup = (version: string) => {
        const s = scratch({ mounts: ["/var/lib/redis"] });
        fs.mkdirSync(path.join(s.root, "etc", "redis"), { recursive: true });
        fs.writeFileSync(path.join(s.root, "etc", "redis", "redis.conf"), "bind 127.0.0.1 -::1\nport 6379\n");
        s.stub("redis-server", `echo "Redis server v=${version} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1"`);
        return s;
    };

    test("pins the major, includes our settings last, restarts once; a second run changes nothing", () => {
        const s = setup("7.0.15");
        const first = s.run("redis.sh", ["7", "/var/lib/redis"], bundle);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(s.read("etc/apt/preferences.d/ai-dualstack-redis")).toBe("Package: redis-server redis-tools\nPin: version 5:7.*\nPin-Priority: 1001\n");
        expect(s.read("etc/redis/redis.conf").trim().split("\n").pop()).toBe("include /etc/redis/ai-dualstack.conf");
        expect(s.read("etc/redis/ai-dualstack.conf")).toContain(`requirepass ${PASSWORD}`);
        expect(s.calls()).toEqual(expect.arrayContaining(["systemctl daemon-reload", "systemctl restart redis-server"]));
        expect(s.calls().join("\n")).not.toContain(PASSWORD);

        s.resetCalls();
        expect(s.run("redis.sh", ["7", "/var/lib/redis"], bundle).status).toBe(0);
        expect(s.read("etc/redis/redis.conf").match(/include \/etc\/redis\/ai-dualstack.conf/g)).toHaveLength(1);
        expect(s.calls().filter((c) => /^(apt-get|systemctl (restart|start|daemon-reload))/.test(c))).toEqual([]);
    });

    test("refuses a redis-server of another major", () => {
        const s = setup("6.2.14");
        expect(s.run("redis.sh", ["7", "/var/lib/redis"], bundle)).toMatchObject({ status: 1, stderr: "redis: redis-server is major 6, config pins 7\n" });
    });
});

describe("in the graph", () => {
    const seed = seedEnvironments();
    const envs: [string, () => Evaluation][] = [["private", () => seed.private], ["public", () => seed.public]];

    const users = (config: Evaluation["config"]) => serviceUsers(workloadDeclarations(config));

    test.each(envs)("%s: the database and cache steps get their passwords from @pulumi/random, secret on stdin", (env, get) => {
        const { graph, config } = get();
        const apps = users(config);
        // the apps come from the workload model: Open WebUI in each environment
        expect(apps.postgres).toEqual([env === "private" ? "assistant" : "platform"]);
        const passwords = ofType(graph.resources, "random:index/randomPassword:RandomPassword").filter((p) => p.name.startsWith(`${env}-services-`) && !p.name.endsWith("-grafana-admin"));
        expect(passwords.map((p) => p.name).sort()).toEqual([
            ...apps.postgres.map((a) => `${env}-services-postgres-${a}`),
            `${env}-services-redis`,
        ].sort());
        passwords.forEach((p) => expect(p.inputs).toMatchObject({ length: 32, special: false }));
        const pg = byName(graph.resources, `${env}-db-provision-postgres`);
        expect(input(pg, "stdin")).toBe("[secret]");
        expect(String(input(pg, "create"))).toContain(`postgres 15 /var/lib/postgresql ${apps.postgres.join(" ")}`);
        expect(pg.dependencies).toContain(byName(graph.resources, `${env}-db-provision-base`).urn);
        const redis = byName(graph.resources, `${env}-cache-provision-redis`);
        expect(input(redis, "stdin")).toBe("[secret]");
        expect(String(input(redis, "create"))).toContain("redis 7 /var/lib/redis");
    });

    test.each(envs)("%s: connection strings are secret outputs and no password is anywhere in the plan", (_env, get) => {
        const { graph, config } = get();
        expect(graph.outputs.postgresUrls).toEqual(Object.fromEntries(users(config).postgres.map((a) => [a, "[secret]"])));
        expect(graph.outputs.redisUrls).toEqual(Object.fromEntries(users(config).redis.map((a) => [a, "[secret]"])));
        expect({ postgres: graph.outputs.postgres, redis: graph.outputs.redis }).toEqual({ postgres: "[secret]", redis: "[secret]" });
        // The offline random values are known (tools/lib/evaluate.ts): none may leak.
        expect(JSON.stringify(graph)).not.toContain(MOCK_GENERATED_SECRET);
    });

    test.each(envs)("%s: every app's database and cache are its own environment's", (_env, get) => {
        const { config } = get();
        const subnet = parseCidr(config.network.subnet);
        const targets = serviceTargets(config, users(config));
        expect(targets.postgres.length).toBe(users(config).postgres.length);
        expect(targets.redis.map((t) => t.db)).toEqual(users(config).redis.map((_a, i) => i));
        for (const t of [...targets.postgres, ...targets.redis]) {
            expect(subnet && isHostInCidr(t.host, subnet)).toBe(true);
        }
    });
});
