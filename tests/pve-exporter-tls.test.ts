/**
 * The exporter reads the Proxmox API with TLS verified, for real: the pve.yml we render goes
 * through proxmoxer.ProxmoxAPI(target, **module) exactly as prometheus-pve-exporter calls it
 * (src/pve_exporter/collector/__init__.py collect_pve), with REQUESTS_CA_BUNDLE set as our
 * unit sets it, against an HTTPS server whose certificate is made the way pve-cluster makes
 * a node's (src/PVE/Cluster/Setup.pm gen_pveca_cert and gen_pve_ssl_cert: a CA, then a node
 * certificate with `subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,IP:<node ip>,DNS:<node>`
 * copied from the request).
 *
 * Debian's python3-proxmoxer is 1.2.0 and python3-requests 2.28; the exporter's lock pins
 * proxmoxer 2.3.0 and requests 2.34.2. The path exercised is the same in both: proxmoxer
 * hands verify_ssl to requests as `verify`, and requests replaces a `verify` of True with
 * REQUESTS_CA_BUNDLE (requests src/requests/sessions.py merge_environment_settings, read at
 * v2.34.2).
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { clusterCaCertificate, PVE_CA_BUNDLE, pveExporterConfig, pveExporterUnit } from "../components/services/pveExporter";

const TOKEN = "ai-dualstack-monitoring@pve!metrics=0b6a4d5e-1c2f-4a3b-9d8e-7f6a5b4c3d2e";
/** the node's address: in the certificate only as the `IP:<node ip>` entry (not 127.0.0.1) */
const NODE_IP = "127.0.0.2";
/** a loopback address the certificate does not name */
const OTHER_IP = "127.0.0.3";
/** a node with a certificate of its own (ACME) from a public CA, naming only its DNS name (which resolves to ACME_IP) */
const ACME_IP = "127.0.0.1";
const ACME_NAME = "localhost";

/** A fake Proxmox API: /api2/json/version for the right token, 401 otherwise, on both addresses. */
const SERVER = `
import http.server, json, ssl, sys, threading
token = sys.argv[1]
class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/api2/json/version" and self.headers.get("Authorization") == "PVEAPIToken=" + token
        body = json.dumps({"data": {"version": "9.0.3", "release": "9.0"}} if ok else {"data": None}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ports = []
for spec in sys.argv[2:]:
    address, cert, key = spec.split(",")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer((address, 0), Api)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    ports.append(str(server.server_address[1]))
    threading.Thread(target=server.serve_forever, daemon=True).start()
print(" ".join(ports), flush=True)
threading.Event().wait()
`;

/** What the exporter does with a module of pve.yml for one target. */
const CLIENT = `
import sys, yaml
from proxmoxer import ProxmoxAPI
with open(sys.argv[1], encoding="utf-8") as handle:
    module = yaml.safe_load(handle)["default"]
print(ProxmoxAPI(sys.argv[2], **module).version.get()["version"])
`;

describe("prometheus-pve-exporter's TLS to the API, with Debian's proxmoxer and requests", () => {
    let dir: string;
    let server: ChildProcess;
    let ports: string[];

    const openssl = (...args: string[]) => {
        const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
    };

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pve-tls-"));
        // gen_pveca_cert, without faketime
        openssl("genrsa", "-out", "pve-root-ca.key", "2048");
        openssl("req", "-batch", "-days", "3650", "-new", "-x509", "-nodes", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-key", "pve-root-ca.key", "-out", "pve-root-ca.pem", "-subj", "/CN=Proxmox Virtual Environment/OU=0b6a4d5e-test/O=PVE Cluster Manager CA/");
        // gen_pve_ssl_cert for node `pve` at NODE_IP
        openssl("genrsa", "-out", "pve-ssl.key", "2048");
        openssl("req", "-batch", "-new", "-key", "pve-ssl.key", "-out", "req.csr", "-subj", "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=pve.lan",
            "-addext", "basicConstraints=CA:FALSE", "-addext", "extendedKeyUsage=serverAuth",
            "-addext", `subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,IP:${NODE_IP},DNS:pve,DNS:pve.lan`);
        fs.writeFileSync(path.join(dir, "pve-root-ca.srl"), "0000000000000000\n");
        openssl("x509", "-req", "-in", "req.csr", "-days", "728", "-out", "pve-ssl.pem",
            "-CAkey", "pve-root-ca.key", "-CA", "pve-root-ca.pem", "-CAserial", "pve-root-ca.srl", "-copy_extensions", "copyall");
        // A public CA (standing in for Debian's ca-certificates) and a node certificate of its own from it.
        openssl("req", "-batch", "-days", "3650", "-new", "-x509", "-nodes", "-newkey", "rsa:2048", "-keyout", "public-ca.key", "-out", "public-ca.pem", "-subj", "/CN=Public Test Root/");
        openssl("req", "-batch", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "acme.key", "-out", "acme.csr", "-subj", `/CN=${ACME_NAME}`, "-addext", `subjectAltName=DNS:${ACME_NAME}`);
        openssl("x509", "-req", "-in", "acme.csr", "-days", "90", "-out", "acme.pem", "-CAkey", "public-ca.key", "-CA", "public-ca.pem", "-CAcreateserial", "-copy_extensions", "copyall");
        fs.writeFileSync(path.join(dir, "pve.yml"), pveExporterConfig(TOKEN));
        // The bundle as monitoring.sh writes it: the CA the tune key read, through our check,
        // then the system's public CAs.
        fs.mkdirSync(path.join(dir, "bundle"));
        const clusterCa = clusterCaCertificate(fs.readFileSync(path.join(dir, "pve-root-ca.pem"), "utf8"));
        fs.writeFileSync(path.join(dir, "bundle", path.basename(PVE_CA_BUNDLE)), clusterCa + fs.readFileSync(path.join(dir, "public-ca.pem"), "utf8"));
        fs.writeFileSync(path.join(dir, "client.py"), CLIENT);

        server = spawn("/usr/bin/python3", ["-c", SERVER, TOKEN, `${NODE_IP},pve-ssl.pem,pve-ssl.key`, `${OTHER_IP},pve-ssl.pem,pve-ssl.key`, `${ACME_IP},acme.pem,acme.key`], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
        ports = await new Promise<string[]>((resolve, reject) => {
            server.stdout?.once("data", (d: Buffer) => resolve(d.toString().trim().split(" ")));
            server.once("exit", (code) => reject(new Error(`the fake API exited with ${String(code)}`)));
        });
    });

    afterAll(() => {
        server.kill();
    });

    /** The REQUESTS_CA_BUNDLE our unit sets, pointed at this test's copy of the CA file. */
    const unitCaBundle = (): string => {
        const line = pveExporterUnit().split("\n").find((l) => l.startsWith("Environment=REQUESTS_CA_BUNDLE="));
        expect(line).toBe(`Environment=REQUESTS_CA_BUNDLE=${PVE_CA_BUNDLE}`);
        return path.join(dir, "bundle", path.basename(PVE_CA_BUNDLE));
    };

    const scrape = (target: string, env: Record<string, string>) => {
        const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|SSL_CERT_FILE)$/.test(k)));
        // Debian's python3 with Debian's modules (not a pyenv or venv python on PATH).
        return spawnSync("/usr/bin/python3", ["client.py", "pve.yml", target], { cwd: dir, encoding: "utf8", env: { ...clean, ...env } });
    };

    test("with the cluster CA our unit names, the node's API is read at its address with verify_ssl on and the token accepted", () => {
        const r = scrape(`${NODE_IP}:${ports[0]}`, { REQUESTS_CA_BUNDLE: unitCaBundle() });
        expect(r.stderr).toBe("");
        expect(r.stdout.trim()).toBe("9.0.3");
    });

    test("the node's own certificate is refused as the cluster CA (it is not a CA)", () => {
        expect(() => clusterCaCertificate(fs.readFileSync(path.join(dir, "pve-ssl.pem"), "utf8"))).toThrow("is not a CA certificate");
        expect(() => clusterCaCertificate("")).toThrow("holds 0 PEM certificates, expected one");
    });

    test("without it, the node's self-signed chain is refused: the exporter's whole scrape would fail (HTTP 500, TargetDown for job pve)", () => {
        const r = scrape(`${NODE_IP}:${ports[0]}`, {});
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/CERTIFICATE_VERIFY_FAILED/);
    });

    test("a node with a certificate of its own is read by the DNS name in it (hosts[].apiName), trusted through the public CAs of the bundle", () => {
        const byName = scrape(`${ACME_NAME}:${ports[2]}`, { REQUESTS_CA_BUNDLE: unitCaBundle() });
        expect(byName.stderr).toBe("");
        expect(byName.stdout.trim()).toBe("9.0.3");
        // by its address the same node is refused: its certificate names no IP
        const byAddress = scrape(`${ACME_IP}:${ports[2]}`, { REQUESTS_CA_BUNDLE: unitCaBundle() });
        expect(byAddress.status).not.toBe(0);
        expect(byAddress.stderr).toMatch(/doesn't match|does not match|IP address mismatch/);
    });

    test("an address the node's certificate does not name is refused even with the CA (hosts[].address must be the node's IP)", () => {
        const r = scrape(`${OTHER_IP}:${ports[1]}`, { REQUESTS_CA_BUNDLE: unitCaBundle() });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/doesn't match|does not match|IP address mismatch/);
    });
});
