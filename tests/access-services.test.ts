/**
 * The access services: WireGuard on the private security container and Caddy on the public
 * one. The real `wg` parses the rendered configs and checks the key derivation; the real
 * `caddy validate` checks the Caddyfile; the scripts run against scratch roots.
 */
import { execFileSync, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { file } from "../components/provision/steps";
import { CADDY_READ_ONLY_DIRS, CADDYFILE, caddyCanWrite, caddyfile } from "../components/services/caddy";
import { WIREGUARD_CONF, wireguardClientConf, wireguardPublicKey, wireguardServerConf } from "../components/services/wireguard";
import { byName, evaluate, seedEnvironments, haveTool, input, ofType } from "./helpers";
import { scratch } from "./provisionHarness";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "access-"));
const key = () => randomBytes(32).toString("base64");

/**
 * What the real `wg` makes of a wg-quick config: `wg-quick strip` drops the wg-quick-only
 * keys, then `wg setconf` parses the rest. Without a kernel interface setconf stops after
 * parsing ("Unable to modify interface"); a config it cannot parse says so first.
 */
function wgParse(conf: string): { parsed: boolean; stderr: string } {
    const dir = tmp();
    const confPath = path.join(dir, "wg0.conf");
    fs.writeFileSync(confPath, conf, { mode: 0o600 });
    const stripped = spawnSync("wg-quick", ["strip", confPath], { encoding: "utf8" });
    if (stripped.status !== 0) {
        return { parsed: false, stderr: stripped.stderr };
    }
    const strippedPath = path.join(dir, "stripped.conf");
    fs.writeFileSync(strippedPath, stripped.stdout, { mode: 0o600 });
    const set = spawnSync("wg", ["setconf", "ai-dualstack-test0", strippedPath], { encoding: "utf8" });
    const parseError = /parsing error|Line unrecognized|not the correct length|Unable to parse/i.test(set.stderr);
    return { parsed: set.status === 0 || (!parseError && /Unable to modify interface/.test(set.stderr)), stderr: set.stderr };
}

describe("WireGuard", () => {
    test("the public key derivation matches the real `wg pubkey`, also for unclamped bytes", () => {
        expect(haveTool("wg")).toBe(true);
        for (const k of [key(), key(), Buffer.alloc(32, 0xff).toString("base64")]) {
            expect(wireguardPublicKey(k)).toBe(execFileSync("wg", ["pubkey"], { input: k, encoding: "utf8" }).trim());
        }
        expect(() => wireguardPublicKey("c2hvcnQ=")).toThrow(/32 bytes/);
    });

    const server = wireguardServerConf({
        privateKey: key(),
        address: "10.99.10.1/24",
        port: 51820,
        tunnelSubnet: "10.99.10.0/24",
        peers: [
            { name: "laptop", address: "10.99.10.2", publicKey: wireguardPublicKey(key()), presharedKey: key() },
            { name: "phone", address: "10.99.10.3", publicKey: wireguardPublicKey(key()), presharedKey: key() },
        ],
    });

    test("the server config parses with the real wg, one peer per configured peer", () => {
        expect(wgParse(server)).toMatchObject({ parsed: true });
        expect(server.match(/^\[Peer\]$/gm)).toHaveLength(2);
        expect(server).toContain("AllowedIPs = 10.99.10.2/32");
        expect(server).toContain('ip saddr 10.99.10.0/24 oifname "eth0" masquerade');
    });

    test("a generated peer's client config parses too, and routes the environment's subnet", () => {
        // wg resolves an Endpoint name while it parses (it fails here without DNS), so the
        // parse check uses an address; a name in services.wireguard.endpoint must resolve on the peer.
        const client = wireguardClientConf({ privateKey: key(), address: "10.99.10.2", serverPublicKey: wireguardPublicKey(key()), presharedKey: key(), endpoint: "203.0.113.10:51820", allowedIps: ["10.10.10.0/24"], dns: ["10.10.10.1"] });
        expect(wgParse(client)).toMatchObject({ parsed: true });
        expect(client).toContain("AllowedIPs = 10.10.10.0/24");
    });

    test("the check can fail: wg refuses a broken key", () => {
        expect(wgParse(server.replace(/PresharedKey = .*/, "PresharedKey = not-a-key")).parsed).toBe(false);
    });

    test("wireguard.sh installs the config once (real wg-quick strip), enables forwarding; a second run changes nothing", () => {
        const s = scratch();
        s.stub("sysctl", "true");
        const bundle = [file(WIREGUARD_CONF, server, "0600")];
        const first = s.run("wireguard.sh", [], bundle);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(fs.statSync(path.join(s.root, WIREGUARD_CONF)).mode & 0o777).toBe(0o600);
        expect(s.read("etc/sysctl.d/90-ai-dualstack-forward.conf")).toBe("net.ipv4.ip_forward = 1\n");
        expect(s.calls()).toEqual(expect.arrayContaining([
            "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold wireguard-tools nftables",
            `sysctl -q -p ${s.root}/etc/sysctl.d/90-ai-dualstack-forward.conf`,
            "systemctl start wg-quick@wg0",
        ]));
        s.resetCalls();
        expect(s.run("wireguard.sh", [], bundle).status).toBe(0);
        expect(s.calls().filter((c) => /^(apt-get|sysctl|systemctl (restart|start)|wg )/.test(c))).toEqual([]);
    });

    test("a peer change is applied with wg syncconf (the others stay connected); an Address change restarts the tunnel", () => {
        const s = scratch();
        s.stub("sysctl", "true");
        // wg syncconf reads the stripped config wg-quick hands it (real wg-quick strip): keep it to look at.
        s.stub("wg", `[ "$1" = syncconf ] && cat "$3" >"${"$"}(dirname "$0")/../state/synced"; true`);
        expect(s.run("wireguard.sh", [], [file(WIREGUARD_CONF, server, "0600")]).status).toBe(0);
        const morePeers = `${server}\n[Peer]\n# tablet\nPublicKey = ${wireguardPublicKey(key())}\nAllowedIPs = 10.99.10.4/32\n`;
        s.resetCalls();
        expect(s.run("wireguard.sh", [], [file(WIREGUARD_CONF, morePeers, "0600")]).status).toBe(0);
        expect(s.calls().filter((c) => /^(systemctl (restart|start)|wg )/.test(c))).toEqual(["wg syncconf wg0 /dev/fd/63"]);
        const synced = fs.readFileSync(path.join(s.state, "synced"), "utf8");
        expect(synced).toContain("AllowedIPs = 10.99.10.4/32");
        expect(synced).not.toMatch(/^(Address|PostUp)/m);
        s.resetCalls();
        expect(s.run("wireguard.sh", [], [file(WIREGUARD_CONF, morePeers.replace("Address = 10.99.10.1/24", "Address = 10.99.10.1/23"), "0600")]).status).toBe(0);
        expect(s.calls().filter((c) => /^(systemctl (restart|start)|wg )/.test(c))).toEqual(["systemctl restart wg-quick@wg0"]);
    });
});

describe("Caddy", () => {
    const routes = [{ host: "chat.example.org", upstream: "10.20.20.10:3000" }, { host: "api.example.org", upstream: "10.20.20.10:11434" }];
    const rendered = caddyfile({ email: "admin@example.org", storageRoot: "/var/lib/caddy/certificates", routes });

    const validate = (text: string) => {
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "Caddyfile"), text);
        return spawnSync("caddy", ["validate", "--config", path.join(dir, "Caddyfile"), "--adapter", "caddyfile"], { encoding: "utf8", timeout: 60_000 });
    };

    test("the rendered Caddyfile passes the real `caddy validate`, one site per route", () => {
        expect(haveTool("caddy")).toBe(true);
        const r = validate(rendered);
        expect(r.stderr).not.toMatch(/Error:/);
        expect(r.status).toBe(0);
        expect(rendered.match(/^\S+ \{$/gm)).toEqual(["api.example.org {", "chat.example.org {"]);
        expect(rendered).toContain("\treverse_proxy 10.20.20.10:3000\n");
        expect(rendered).toContain("\temail admin@example.org\n");
    });

    test("the check can fail: caddy refuses a misspelt directive", () => {
        expect(validate(rendered.replace("reverse_proxy", "reverse_prox")).status).not.toBe(0);
    });

    const storage = ["/var/lib/caddy", "/var/lib/caddy/certificates"];

    test("caddy.sh validates with the real caddy before it restarts; a second run changes nothing", () => {
        const s = scratch({ mounts: ["/var/lib/caddy"] });
        const bundle = [file(CADDYFILE, rendered)];
        const first = s.run("caddy.sh", storage, bundle);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(s.calls()).toEqual(expect.arrayContaining([`chown caddy:caddy ${s.root}/var/lib/caddy`, `chown caddy:caddy ${s.root}/var/lib/caddy/certificates`, "systemctl start caddy"]));
        s.resetCalls();
        expect(s.run("caddy.sh", storage, bundle).status).toBe(0);
        expect(s.calls().filter((c) => /^(apt-get|systemctl (restart|start|reload))/.test(c))).toEqual([]);
        // A new route is a reload (Debian's unit: caddy reload --force), never a restart.
        const more = caddyfile({ email: "admin@example.org", storageRoot: "/var/lib/caddy/certificates", routes: [...routes, { host: "docs.example.org", upstream: "10.20.20.10:8080" }] });
        s.resetCalls();
        expect(s.run("caddy.sh", storage, [file(CADDYFILE, more)]).status).toBe(0);
        expect(s.calls().filter((c) => /^systemctl (restart|start|reload)/.test(c))).toEqual(["systemctl reload caddy"]);

        const broken = scratch({ mounts: ["/var/lib/caddy"] });
        const r = broken.run("caddy.sh", storage, [file(CADDYFILE, rendered.replace("reverse_proxy", "reverse_prox"))]);
        expect(r).toMatchObject({ status: 1, stderr: expect.stringContaining("/etc/caddy/Caddyfile does not validate") });
        expect(broken.calls().filter((c) => c.startsWith("systemctl restart"))).toEqual([]);
    });

    /** The directories the installed Debian caddy.service makes read-only (systemd.exec(5), ProtectSystem=). */
    const readOnlyForCaddy = (): string[] => {
        const unit = ["/lib/systemd/system/caddy.service", "/usr/lib/systemd/system/caddy.service"].find((f) => fs.existsSync(f));
        expect(unit).toBeDefined();
        const protect = /^ProtectSystem=(\S+)$/m.exec(fs.readFileSync(unit as string, "utf8"))?.[1] ?? "no";
        const dirs: Record<string, string[]> = { no: [], false: [], yes: ["/usr", "/boot", "/efi"], true: ["/usr", "/boot", "/efi"], full: ["/usr", "/boot", "/efi", "/etc"], strict: ["/"] };
        return dirs[protect];
    };

    test("Caddy can write its certificate storage under the real Debian caddy.service (ProtectSystem)", () => {
        const ro = readOnlyForCaddy();
        expect(ro).toEqual([...CADDY_READ_ONLY_DIRS]);
        const publicConfig = fs.readFileSync(path.join(__dirname, "..", "Pulumi.public.yaml"), "utf8");
        const mount = /role: security,[^}]*dataMountPath: (\S+),/.exec(publicConfig)?.[1];
        expect(mount).toBe("/var/lib/caddy");
        const under = (dir: string, root: string) => root === "/" || dir === root || dir.startsWith(`${root}/`);
        expect(ro.filter((d) => under(`${mount}/certificates`, d))).toEqual([]);
        expect(caddyCanWrite("/etc/caddy/certificates")).toBe(false);
    });

    test("caddy.sh refuses a storage path caddy.service makes read-only, before installing anything", () => {
        const s = scratch({ mounts: ["/etc/caddy"] });
        const r = s.run("caddy.sh", ["/etc/caddy", "/etc/caddy/certificates"], [file(CADDYFILE, rendered)]);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("Caddy cannot write /etc/caddy/certificates: caddy.service has ProtectSystem=full");
        expect(s.calls().filter((c) => c.startsWith("apt-get"))).toEqual([]);
    });
});

describe("in the graph", () => {
    const seed = seedEnvironments();

    test("private: WireGuard on the VPN container with keys from @pulumi/random, secret; no proxy", () => {
        const { graph } = seed.private;
        const step = byName(graph.resources, "private-vpn-provision-wireguard");
        expect(input(step, "stdin")).toBe("[secret]");
        expect(ofType(graph.resources, "random:index/randomBytes:RandomBytes").map((r) => r.name).sort()).toEqual([
            "private-services-wireguard-peer-laptop", "private-services-wireguard-psk-laptop", "private-services-wireguard-server",
        ]);
        expect(graph.outputs.vpnPeers).toEqual({ laptop: "[secret]" });
        expect(graph.outputs.vpnPublicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        expect(graph.resources.some((r) => r.name.endsWith("-provision-caddy"))).toBe(false);
        // The offline key bytes (tools/lib/evaluate.ts) never appear in the plan.
        const serverKey = Buffer.alloc(32);
        Buffer.from("private-services-wireguard-server").copy(serverKey);
        expect(JSON.stringify(graph)).not.toContain(serverKey.toString("base64"));
    });

    test("public: Caddy on the proxy container (its routes: tests/service-wiring.test.ts); no VPN", () => {
        const { graph, config } = seed.public;
        const step = byName(graph.resources, "public-proxy-provision-caddy");
        const mount = config.containers.find((c) => c.role === "security")?.dataMountPath;
        expect(String(input(step, "create"))).toContain(`)" caddy ${mount} ${mount}/certificates`);
        expect(graph.resources.some((r) => r.name.endsWith("-provision-wireguard"))).toBe(false);
        expect(graph.outputs.vpnPeers).toBeUndefined();
    });

    test("public: a proxy data volume under /etc (read-only for caddy.service) stops the run naming the key", async () => {
        await expect(evaluate("public", (c) => {
            const cts = c["ai-dualstack:containers"] as { role: string; dataMountPath: string }[];
            const proxy = cts.find((ct) => ct.role === "security");
            if (proxy) proxy.dataMountPath = "/etc/caddy";
        })).rejects.toThrow(/containers\[\d+\]\.dataMountPath: \/etc\/caddy is read-only for Caddy/);
    });
});
