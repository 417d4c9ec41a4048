import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { BoxFacts, HostConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { imageFileNames } from "./names";

export interface SharedImagesArgs {
    readonly hosts: readonly HostConfig[];
    readonly images: BoxFacts["images"];
}

/**
 * The downloads both environments boot from, once per node: the pinned Ubuntu cloud image
 * (content type `import`, PVE 8.4+) and the Debian LXC template. The environments refer to
 * them by volume id (names.ts imageFileIds), so neither environment owns a file the other
 * uses and an environment's rebuild never deletes them.
 */
export class SharedImages extends pulumi.ComponentResource {
    public readonly files: readonly proxmoxve.download.File[];

    constructor(name: string, args: SharedImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "SharedImages"), name, {}, opts);
        const { images } = args;
        const names = imageFileNames(images);
        this.files = args.hosts.flatMap((host) => [
            new proxmoxve.download.File(`${name}-cloud-${host.name}`, {
                nodeName: host.name,
                contentType: "import",
                datastoreId: images.datastore,
                fileName: names.cloudImage,
                url: images.ubuntuCloud.url,
                checksum: images.ubuntuCloud.checksum,
                checksumAlgorithm: images.ubuntuCloud.checksumAlgorithm,
                overwrite: false,
            }, { parent: this }),
            new proxmoxve.download.File(`${name}-lxc-${host.name}`, {
                nodeName: host.name,
                contentType: "vztmpl",
                datastoreId: images.datastore,
                fileName: names.lxcTemplate,
                url: images.debianTemplate.url,
                checksum: images.debianTemplate.checksum,
                checksumAlgorithm: images.debianTemplate.checksumAlgorithm,
                overwrite: false,
            }, { parent: this }),
        ]);
        this.registerOutputs({ files: this.files.map((f) => f.id) });
    }
}
