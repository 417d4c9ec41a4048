/**
 * Pinned images of the workloads whose image the config does not name: one place for
 * every tag. Ollama's and the vector store's come from ai-dualstack:workloads, the agentic
 * chatbot's and the POC apps' from ai-dualstack:apps. Bump a tag here and `pulumi up`
 * replaces just that container.
 */
export const IMAGES = {
    openWebUi: "ghcr.io/open-webui/open-webui:v0.6.18",
    privateGpt: "zylonai/private-gpt:0.6.2-ollama",
    tika: "apache/tika:3.2.1.0",
    nodeExporter: "quay.io/prometheus/node-exporter:v1.9.1",
    cadvisor: "gcr.io/cadvisor/cadvisor:v0.52.1",
    nvidiaGpuExporter: "utkuozdemir/nvidia_gpu_exporter:1.3.2",
    /** the verify step's GPU container: NVIDIA's own sample workload runs nvidia-smi in plain Ubuntu */
    gpuCheck: "ubuntu:24.04",
} as const;
