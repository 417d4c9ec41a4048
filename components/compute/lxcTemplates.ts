import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName, ImageConfig } from "../../config/schema";
import { fileStem } from "./aiVm";

/**
 * The Debian LXC template, downloaded once per node that runs a container of this
 * environment, under an env-prefixed file name so neither stack owns the other's file.
 * Returns the template's file id on a node, downloading it there on first use.
 */
export function lxcTemplates(name: string, env: EnvironmentName, image: ImageConfig, datastoreId: string, opts: pulumi.CustomResourceOptions): (node: string) => pulumi.Output<string> {
    const downloads = new Map<string, proxmoxve.download.File>();
    return (node) => {
        let file = downloads.get(node);
        if (file === undefined) {
            file = new proxmoxve.download.File(`${name}-lxc-template-${node}`, {
                nodeName: node,
                contentType: "vztmpl",
                datastoreId,
                fileName: `${env}-${fileStem(image.url)}.tar.zst`,
                url: image.url,
                checksum: image.checksum,
                checksumAlgorithm: image.checksumAlgorithm,
                overwrite: false,
            }, opts);
            downloads.set(node, file);
        }
        return file.id;
    };
}
