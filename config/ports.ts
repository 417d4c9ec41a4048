/**
 * Host ports of the AI VM's fixed services: one place, read by the config checks (an app
 * may not take one of them) and by the workload catalogue (components/workloads).
 */
export const AI_SERVICE_PORTS = {
    ssh: 22,
    ollama: 11434,
    qdrant: 6333,
    qdrantGrpc: 6334,
    chroma: 8000,
    nodeExporter: 9100,
    nvidiaExporter: 9835,
    cadvisor: 8080,
} as const;

/** What each fixed port is, in the words a config error uses. */
export const AI_SERVICE_PORT_NAMES: Readonly<Record<keyof typeof AI_SERVICE_PORTS, string>> = {
    ssh: "SSH",
    ollama: "Ollama",
    qdrant: "Qdrant",
    qdrantGrpc: "Qdrant gRPC",
    chroma: "ChromaDB",
    nodeExporter: "the node exporter",
    nvidiaExporter: "the NVIDIA GPU exporter",
    cadvisor: "cAdvisor",
};
