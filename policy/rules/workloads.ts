/**
 * Reads the workload declarations back from the graph: every workload container carries
 * its declaration in labels (components/workloads/model.ts LABELS), so the policies check
 * the containers, the firewall and the models from the same facts the program used.
 */
import { LABELS } from "../../components/workloads/model";
import { isRecord, ofType, PolicyResource, records, StackView, TYPES } from "./model";

export interface WorkloadView {
    readonly resource: PolicyResource;
    readonly labels: Readonly<Record<string, string>>;
}

export function workloadContainers(stack: StackView): WorkloadView[] {
    return ofType(stack, TYPES.dockerContainer).map((resource) => ({
        resource,
        labels: Object.fromEntries(records(resource.props.labels)
            .filter((l) => typeof l.label === "string" && typeof l.value === "string")
            .map((l) => [String(l.label), String(l.value)])),
    }));
}

/** `11434:11434/subnet,6333:6333/subnet` -> published host ports with their audience. */
export function publishedPorts(view: WorkloadView): { host: number; from: string }[] {
    return (view.labels[LABELS.ports] ?? "").split(",").filter(Boolean).map((entry) => {
        const [ports, from] = entry.split("/");
        return { host: Number(ports.split(":")[0]), from: from ?? "" };
    });
}

export interface ModelDeclaration {
    readonly gpu: { readonly model: string; readonly vramGiB: number };
    readonly models: readonly { readonly name: string; readonly sizeGiB: number; readonly allowCpuOffload?: boolean }[];
}

/** The GPU and models an Ollama container declares. */
export function modelDeclarations(stack: StackView): { resource: PolicyResource; declaration: ModelDeclaration }[] {
    return workloadContainers(stack).flatMap((view) => {
        const gpu = view.labels[LABELS.gpu];
        const models = view.labels[LABELS.models];
        if (gpu === undefined || models === undefined) {
            return [];
        }
        try {
            const parsedGpu: unknown = JSON.parse(gpu);
            const parsedModels: unknown = JSON.parse(models);
            if (!isRecord(parsedGpu) || !Array.isArray(parsedModels)) {
                return [];
            }
            return [{ resource: view.resource, declaration: { gpu: parsedGpu as ModelDeclaration["gpu"], models: parsedModels as ModelDeclaration["models"] } }];
        } catch {
            return [];
        }
    });
}
