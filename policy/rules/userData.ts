/**
 * Reads back what the AI VM's cloud-init snippet puts on the VM (the AI manifest and the
 * compose file), so policies can check models and images from the graph alone.
 */
import { parse } from "yaml";
import { AI_PATHS } from "../../components/compute/cloudInit";
import { get, isRecord, ofType, PolicyResource, records, StackView, TYPES } from "./model";

export interface Manifest {
    readonly environment?: string;
    readonly gpu: { readonly model: string; readonly vramGiB: number };
    readonly models: readonly { readonly name: string; readonly sizeGiB: number }[];
}

interface WrittenFile {
    readonly snippet: PolicyResource;
    readonly path: string;
    readonly content: string;
}

/** Every file that a cloud-init snippet in the stack writes. */
export function writtenFiles(stack: StackView): WrittenFile[] {
    return ofType(stack, TYPES.snippet).flatMap((snippet) => {
        const data = get(snippet.props, "sourceRaw.data");
        if (typeof data !== "string" || !data.startsWith("#cloud-config")) {
            return [];
        }
        let doc: unknown;
        try {
            doc = parse(data);
        } catch {
            return [];
        }
        return records(isRecord(doc) ? doc.write_files : undefined)
            .filter((f) => typeof f.path === "string" && typeof f.content === "string")
            .map((f) => ({ snippet, path: String(f.path), content: String(f.content) }));
    });
}

export function manifests(stack: StackView): { snippet: PolicyResource; manifest: Manifest }[] {
    return writtenFiles(stack)
        .filter((f) => f.path === AI_PATHS.manifest)
        .flatMap((f) => {
            try {
                return [{ snippet: f.snippet, manifest: JSON.parse(f.content) as Manifest }];
            } catch {
                return [];
            }
        });
}

/** Images named by compose files that snippets write. */
export function composeImages(stack: StackView): { resource: PolicyResource; image: string; where: string }[] {
    return writtenFiles(stack)
        .filter((f) => /\.ya?ml$/.test(f.path))
        .flatMap((f) => {
            let doc: unknown;
            try {
                doc = parse(f.content);
            } catch {
                return [];
            }
            const services = isRecord(doc) && isRecord(doc.services) ? doc.services : {};
            return Object.entries(services)
                .filter(([, svc]) => isRecord(svc) && typeof svc.image === "string")
                .map(([name, svc]) => ({ resource: f.snippet, image: String((svc as Record<string, unknown>).image), where: `${f.path} service ${name}` }));
        });
}
