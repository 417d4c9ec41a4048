/** Workload containers: hygiene of each container, and a firewall that opens exactly what they publish. */
import { DATA_MOUNT } from "../../components/compute/aiVm";
import { LABELS } from "../../components/workloads/model";
import { SECRET_MASK, UNKNOWN_MASK } from "../../graph";
import { get, ofType, records, Rule, text, TYPES } from "./model";
import { publishedPorts, workloadContainers } from "./workloads";

const SECRET_ENV = /(PASSWORD|PASSWD|TOKEN|API_KEY|SECRET)/i;
const RESTARTS = new Set(["unless-stopped", "always", "on-failure"]);

export const containerHygiene: Rule = {
    name: "container-hygiene",
    description: "Every container restarts on failure, has a health check and log rotation, takes secrets only as secret values, and keeps data under the data disk.",
    level: "mandatory",
    config: {},
    check(stack) {
        return ofType(stack, TYPES.dockerContainer).flatMap((c) => {
            const wrong: string[] = [];
            if (!RESTARTS.has(text(c.props.restart ?? "no"))) wrong.push(`restart policy is ${text(c.props.restart ?? "no")}`);
            const tests = get(c.props, "healthcheck.tests");
            if (!Array.isArray(tests) || tests.length === 0) wrong.push("has no health check");
            if (c.props.logDriver !== "local" && get(c.props, "logOpts.max-size") === undefined) wrong.push("has no log rotation (logOpts max-size)");
            const envs = Array.isArray(c.props.envs) ? c.props.envs : [];
            envs.forEach((e) => {
                if (typeof e === "string" && e !== SECRET_MASK && e !== UNKNOWN_MASK && SECRET_ENV.test(e.split("=")[0])) {
                    wrong.push(`setting ${e.split("=")[0]} is given in plain text`);
                }
            });
            const dataDirs = records(c.props.labels).find((l) => l.label === LABELS.dataDirs)?.value;
            const dirs = typeof dataDirs === "string" ? dataDirs.split(",").filter(Boolean) : [];
            const hostPaths = records(c.props.volumes).map((v) => text(v.hostPath ?? ""));
            dirs.forEach((d) => {
                if (!hostPaths.some((p) => p.endsWith(`/${d}`) && p.startsWith(`${DATA_MOUNT}/`))) wrong.push(`data directory ${d} is not mounted from the data disk`);
            });
            return wrong.map((w) => ({ urn: c.urn, message: `container ${c.name}: ${w}` }));
        });
    },
};

/** The ports a rule's dport names: `22`, `9100,8080`, `8000:8002`. */
function dportList(dport: unknown): number[] {
    return String(dport).split(",").flatMap((item) => {
        const range = /^(\d+):(\d+)$/.exec(item);
        if (range === null) return [Number(item)];
        const ports: number[] = [];
        for (let p = Number(range[1]); p <= Number(range[2]); p++) ports.push(p);
        return ports;
    });
}

export const firewallMatchesWorkloads: Rule = {
    name: "firewall-matches-workloads",
    description: "The GPU VM's firewall opens exactly the ports its workloads publish (plus SSH), to the audience each declares.",
    level: "mandatory",
    config: {},
    check(stack) {
        const gpuVm = ofType(stack, TYPES.vm).find((vm) => records(vm.props.hostpcis).length > 0);
        const containers = workloadContainers(stack);
        if (gpuVm === undefined || containers.length === 0) {
            return [];
        }
        const rules = ofType(stack, TYPES.firewallRules).find((r) => r.props.vmId === gpuVm.props.vmId);
        // A rule's dport may list ports (the monitoring rule: "9100,8080,9835"; pve-firewall
        // Firewall.pm parse_port_name_number_or_range splits it on ",", `a:b` is a range).
        const opened = new Set(records(rules?.props.rules).filter((r) => r.action === "ACCEPT").flatMap((r) => dportList(r.dport)));
        // Ports published on the VM's loopback only (`/vm`) are never opened in the firewall.
        const published = new Set(containers.flatMap(publishedPorts).filter((p) => p.from !== "vm").map((p) => p.host));
        const findings = [];
        for (const port of published) {
            if (!opened.has(port)) findings.push({ urn: gpuVm.urn, message: `a workload publishes port ${port} but the ${gpuVm.name} firewall does not open it` });
        }
        for (const port of opened) {
            if (port !== 22 && !published.has(port)) findings.push({ urn: rules?.urn ?? gpuVm.urn, message: `the ${gpuVm.name} firewall opens port ${port}, which no workload publishes` });
        }
        return findings;
    },
};
