# RAG quick start for the ai-dualstack workbench (open as a notebook with jupytext, or run
# cells by hand). Everything it talks to comes from the environment the container got:
# OLLAMA_BASE_URL, OLLAMA_MODEL, VECTOR_STORE (qdrant|chroma), VECTOR_STORE_URL, QDRANT_API_KEY.
import os
from urllib.parse import urlparse

from langchain_ollama import ChatOllama, OllamaEmbeddings

llm = ChatOllama(base_url=os.environ["OLLAMA_BASE_URL"], model=os.environ["OLLAMA_MODEL"])
embeddings = OllamaEmbeddings(base_url=os.environ["OLLAMA_BASE_URL"], model=os.environ["OLLAMA_MODEL"])

if os.environ["VECTOR_STORE"] == "qdrant":
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    client = QdrantClient(url=os.environ["VECTOR_STORE_URL"], api_key=os.environ.get("QDRANT_API_KEY"))
    store = QdrantVectorStore.construct_instance(embedding=embeddings, collection_name="workbench", client_options={"url": os.environ["VECTOR_STORE_URL"], "api_key": os.environ.get("QDRANT_API_KEY")})
else:
    import chromadb
    from langchain_chroma import Chroma

    url = urlparse(os.environ["VECTOR_STORE_URL"])
    store = Chroma(collection_name="workbench", embedding_function=embeddings, client=chromadb.HttpClient(host=url.hostname, port=url.port))

store.add_texts(["ai-dualstack keeps models, vectors and documents on a protected data disk."])
docs = store.similarity_search("Where do the vectors live?", k=1)
print(llm.invoke(f"Answer from this context only: {docs[0].page_content}\nQ: Where do the vectors live?").content)
