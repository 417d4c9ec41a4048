/**
 * npm run bench [-- --sizes 6,25,50,100 --runs 3]
 *
 * How the offline plan scales with the number of guests: evaluates the private stack with
 * N service containers (a synthetic config: wider VMID range and subnet) and prints the
 * median evaluation time, the resource count, and the graph's shape. The critical path
 * must stay flat as N grows: guests are created in parallel, not one after another.
 */
import { performance } from "perf_hooks";
import { evaluateStack } from "./lib/evaluate";
import { graphShape } from "./lib/graphMetrics";
import { parseFlags, runMain } from "./lib/cli";
import { fromConfigSection, readConfigSection, readStackFile, stackFilePath } from "./lib/stackFile";

const USAGE = "usage: npm run bench [-- --sizes 6,25,50,100] [--runs 3]";

/** The private stack with `count` service containers spread over the roles. */
export function scaledSection(count: number): Record<string, unknown> {
    const config = readConfigSection(stackFilePath("private"));
    const roles = ["database", "cache", "security", "cicd", "monitoring", "backup"];
    config["ai-dualstack:vmidRange"] = { start: 1000, end: 1999 };
    config["ai-dualstack:network"] = { bridge: "vmbr10", vlanId: 10, subnet: "10.10.8.0/22", gateway: "10.10.8.1" };
    const vm = config["ai-dualstack:aiVm"] as Record<string, unknown>;
    Object.assign(vm, { vmid: 1001, dataVmid: 1002, ip: "10.10.8.10", memoryGiB: 16, hugepages: "none" });
    config["ai-dualstack:containers"] = Array.from({ length: count }, (_, i) => ({
        name: `private-svc-${i}`,
        role: roles[i % roles.length],
        vmid: 1100 + i,
        ip: `10.10.${9 + Math.floor(i / 200)}.${(i % 200) + 20}`,
        cores: 1,
        memoryMiB: 512,
        rootDiskGiB: 4,
        dataDiskGiB: 4,
        dataMountPath: "/srv/data",
        startupOrder: 3,
    }));
    return config;
}

async function main(): Promise<number> {
    const flags = parseFlags(process.argv.slice(2), { sizes: { type: "string" }, runs: { type: "string" } }, USAGE);
    if (flags.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const sizes = (flags.sizes ?? "6,25,50,100").split(",").map(Number);
    const runs = Number(flags.runs ?? "3");
    // Warm up module loading so the first size is not charged for it.
    await evaluateStack({ stack: "private", file: readStackFile(stackFilePath("private")) });

    process.stdout.write("guests  resources  custom  critical-path  widest-level  median-ms  ms/guest\n");
    for (const n of sizes) {
        const file = fromConfigSection(scaledSection(n), `synthetic ${n} containers`);
        const times: number[] = [];
        let shape = { customResources: 0, criticalPath: 0, widestLevel: 0 };
        let resources = 0;
        for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            const { graph } = await evaluateStack({ stack: "private", file });
            times.push(performance.now() - t0);
            shape = graphShape(graph);
            resources = graph.resources.length;
        }
        times.sort((a, b) => a - b);
        const median = times[Math.floor(times.length / 2)];
        const guests = n + 2;
        process.stdout.write(`${String(guests).padStart(6)}  ${String(resources).padStart(9)}  ${String(shape.customResources).padStart(6)}  ${String(shape.criticalPath).padStart(13)}  ${String(shape.widestLevel).padStart(12)}  ${median.toFixed(0).padStart(9)}  ${(median / guests).toFixed(1).padStart(8)}\n`);
    }
    return 0;
}

if (require.main === module) {
    runMain(main);
}
