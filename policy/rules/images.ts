/** Container images carry a pinned tag or digest, never none and never `latest`. */
import { isPinnedImage } from "../../config/fields";
import { ofType, PolicyResource, Rule, text, TYPES } from "./model";

/** `repo:tag` or `repo@sha256:…`, with the tag not `latest` (a registry port is not a tag): the config's own rule. */
export const isPinned = isPinnedImage;

export const imagesPinned: Rule = {
    name: "images-pinned",
    description: "No container image without a tag, or with the tag latest.",
    level: "mandatory",
    config: {},
    check(stack) {
        const images: { resource: PolicyResource; image: string; where: string }[] = [
            ...ofType(stack, TYPES.dockerContainer).map((r) => ({ resource: r, image: text(r.props.image ?? ""), where: "image" })),
            ...ofType(stack, TYPES.dockerImage).map((r) => ({ resource: r, image: text(r.props.name ?? ""), where: "name" })),
            ...ofType(stack, TYPES.dockerBuild).map((r) => ({ resource: r, image: text(r.props.imageName ?? ""), where: "imageName" })),
        ];
        return images
            .filter(({ image }) => image !== "[unknown]" && !isPinned(image))
            .map(({ resource, image, where }) => ({
                urn: resource.urn,
                message: `${resource.name} (${where}) uses image ${image || "(none)"} without a pinned tag; name a version like ollama/ollama:0.9.6`,
            }));
    },
};
