/** GPU passthrough: one VM per card, the settings passthrough needs, models that fit. */
import { modelDeclarations } from "./workloads";
import { Finding, get, ofType, records, Rule, text, TYPES } from "./model";

export const gpuMappingExclusive: Rule = {
    name: "gpu-mapping-exclusive",
    description: "A PCI mapping (a physical GPU) is used by at most one VM in the stack.",
    level: "mandatory",
    config: {},
    check(stack) {
        const users = new Map<string, string[]>();
        for (const vm of ofType(stack, TYPES.vm)) {
            for (const pci of records(vm.props.hostpcis)) {
                if (typeof pci.mapping === "string") {
                    users.set(pci.mapping, [...(users.get(pci.mapping) ?? []), vm.urn]);
                }
            }
        }
        const findings: Finding[] = [];
        for (const [mapping, vms] of users) {
            if (vms.length > 1) {
                const names = vms.map((u) => u.split("::").pop()).join(", ");
                vms.slice(1).forEach((urn) => findings.push({
                    urn,
                    message: `PCI mapping ${mapping} is used by ${vms.length} VMs (${names}); a GPU can be passed to only one VM`,
                }));
            }
        }
        return findings;
    },
};

export const gpuVmSettings: Rule = {
    name: "gpu-vm-settings",
    description: "A VM with a GPU uses q35, OVMF, CPU type host, no balloon device, and the GPU through a mapping with PCIe on.",
    level: "mandatory",
    config: {},
    check(stack) {
        return ofType(stack, TYPES.vm).flatMap((vm) => {
            const pcis = records(vm.props.hostpcis);
            if (pcis.length === 0) {
                return [];
            }
            const wrong: string[] = [];
            if (vm.props.machine !== "q35") wrong.push(`machine is ${text(vm.props.machine ?? "unset")}, needs q35`);
            if (vm.props.bios !== "ovmf") wrong.push(`bios is ${text(vm.props.bios ?? "unset (SeaBIOS)")}, needs ovmf`);
            if (get(vm.props, "cpu.type") !== "host") wrong.push(`CPU type is ${text(get(vm.props, "cpu.type") ?? "unset")}, needs host`);
            if (get(vm.props, "memory.floating") !== 0) wrong.push("ballooning is on (memory.floating must be 0)");
            pcis.forEach((p, i) => {
                if (p.id !== undefined) wrong.push(`hostpcis[${i}] uses the raw PCI id ${text(p.id)}; use a PCI mapping`);
                if (typeof p.mapping !== "string") wrong.push(`hostpcis[${i}] has no mapping`);
                if (p.pcie !== true) wrong.push(`hostpcis[${i}] has PCIe off`);
            });
            return wrong.map((w) => ({ urn: vm.urn, message: `GPU VM ${vm.name}: ${w}` }));
        });
    },
};

export const modelFitsVram: Rule<{ headroomPercent: number }> = {
    name: "model-fits-vram",
    description: "Each model the environment serves fits its GPU's VRAM, with headroom for the KV cache and runtime.",
    level: "advisory",
    config: {
        headroomPercent: { type: "number", default: 15, minimum: 0, description: "VRAM kept free beyond the weights, in percent of the model size" },
    },
    check(stack, config) {
        return modelDeclarations(stack).flatMap(({ resource, declaration }) => declaration.models
            .filter((m) => m.sizeGiB * (1 + config.headroomPercent / 100) > declaration.gpu.vramGiB)
            .map((m) => ({
                urn: resource.urn,
                message: `model ${m.name} (${m.sizeGiB} GiB + ${config.headroomPercent}% headroom) does not fit the ${declaration.gpu.model}'s ${declaration.gpu.vramGiB} GiB; Ollama would spill to CPU and slow down${m.allowCpuOffload ? " (allowCpuOffload is set)" : ""}`,
            })));
    },
};
