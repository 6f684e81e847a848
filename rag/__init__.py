"""Index folders into FAISS + SQL, search them with a task instruction, answer with citations."""
