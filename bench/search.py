"""Query latency and recall of collection search: exact vs HNSW vs IVF-PQ (plain and re-ranked), ours vs raw FAISS.

For each size, random unit vectors (clustered like real embeddings, or uniform with --data uniform)
are stored as a real collection (SQLite rows for documents and chunks, FAISS ids = chunk ids). For
each index type it prints p50/p99 latency of one query at a time for (a) raw ``faiss`` search and
(b) our ``search_vector`` (FAISS + the SQL fetch of hit metadata), their ratio (target <= 1.2),
recall@10 against the exact index, build time and bytes per vector of the index file. The IVF-PQ
row is repeated with ",RFlat": PQ candidates re-ranked with the exact vectors (``--k-factor``).

    python bench/search.py [--sizes 100000 1000000] [--queries 200] [--data clustered|uniform]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import faiss
import numpy as np
from sqlalchemy import insert

from rag.collection import open_or_create
from rag.config import IndexConfig, Workspace
from rag.search import search_vector
from rag.store import ChunkRow, DocumentRow
from rag.vectors import DEFAULT_K_FACTOR, VectorIndex

CHUNKS_PER_DOC = 100
BUILD_THREADS = faiss.omp_get_max_threads()


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def random_vectors(n: int, dim: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors: Gaussian clusters around 1000 random centres, or uniform on the sphere."""
    if kind == "uniform":
        return unit(rng.standard_normal((n, dim), dtype=np.float32))
    centres = unit(rng.standard_normal((1000, dim), dtype=np.float32))
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        noise = rng.standard_normal((size, dim), dtype=np.float32) * 0.04
        out[start:start + size] = unit(centres[rng.integers(0, len(centres), size)] + noise)
    return out


def fill_collection(workspace: Workspace, n: int, dim: int):
    """A collection with ``n`` chunk rows (100 per document); returns it and the chunk ids in order."""
    encoder = SimpleNamespace(name=f"bench:random-{dim}", dim=dim)  # only name and dim are read
    collection = open_or_create(f"bench-{n}", encoder, IndexConfig(), workspace=workspace)
    with collection.session() as session, session.begin():
        docs = [{"collection_id": collection.id, "path": f"doc{d:07d}.txt", "title": f"Document {d}",
                 "content_hash": "x", "size": 1, "mtime_ns": 0} for d in range(n // CHUNKS_PER_DOC)]
        doc_ids = session.scalars(insert(DocumentRow).returning(DocumentRow.id, sort_by_parameter_order=True), docs).all()
        rows = [{"document_id": doc_ids[i // CHUNKS_PER_DOC], "collection_id": collection.id,
                 "ordinal": i % CHUNKS_PER_DOC, "char_start": 0, "char_end": 90, "text": f"chunk {i} " * 10,
                 "text_hash": f"{i:064x}"} for i in range(n)]
        ids = session.scalars(insert(ChunkRow).returning(ChunkRow.id, sort_by_parameter_order=True), rows).all()
    return collection, np.asarray(ids, dtype=np.int64)


def paired_latencies(raw, ours, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Milliseconds per query of both calls, back to back, so that machine load hits both alike; which goes
    first alternates, so that the caches the first one warms for the second favour neither."""
    times: dict = {raw: [], ours: []}
    found = []
    for n, query in enumerate(queries):
        for call in (raw, ours) if n % 2 == 0 else (ours, raw):
            start = time.perf_counter()
            result = call(query)
            times[call].append(time.perf_counter() - start)
            if call is raw:
                found.append(result)
    return np.asarray(times[raw]) * 1e3, np.asarray(times[ours]) * 1e3, found


def factories_for(n: int) -> list[str]:
    lists = 256 if n <= 200_000 else 1024  # few lists: k-means training stays minutes on 2 cores
    return ["Flat", "HNSW32", f"IVF{lists},PQ48", f"IVF{lists},PQ48,RFlat"]


def bench_size(n: int, args, rng: np.random.Generator) -> None:
    vectors = random_vectors(n, args.dim, args.data, rng)
    queries = unit(vectors[rng.integers(0, n, args.queries)] + rng.standard_normal((args.queries, args.dim),
                                                                                      dtype=np.float32) * 0.04)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(f"sqlite:///{Path(tmp) / 'rag.db'}", Path(tmp) / "indexes")
        start = time.perf_counter()
        collection, ids = fill_collection(workspace, n, args.dim)
        print(f"\n{n:,} vectors, {args.dim}-d, {args.data} data; SQL rows written in {time.perf_counter() - start:.1f}s")
        print(f"{'index':<22}{'build s':>8}{'B/vector':>10}{'recall@10':>10}{'raw p50':>9}{'raw p99':>9}"
              f"{'ours p50':>9}{'ours p99':>9}{'ratio p50':>10}")
        truth = None
        for factory in factories_for(n):
            row, found = bench_index(collection, ids, vectors, queries, factory, args, Path(tmp) / "index.faiss")
            truth = found if truth is None else truth
            recall = np.mean([len(set(t) & set(f)) / args.k for t, f in zip(truth, found)])
            raw, ours = row["raw"], row["ours"]
            print(f"{factory:<22}{row['build']:>8.1f}{row['bytes']:>10.0f}{recall:>10.3f}"
                  f"{np.percentile(raw, 50):>9.2f}{np.percentile(raw, 99):>9.2f}"
                  f"{np.percentile(ours, 50):>9.2f}{np.percentile(ours, 99):>9.2f}"
                  f"{np.percentile(ours, 50) / np.percentile(raw, 50):>10.2f}")


def bench_index(collection, ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray, factory: str, args,
                path: Path):
    """Build one index into the collection; time raw FAISS and our search on it."""
    collection.vectors = VectorIndex(args.dim)  # frees the previous index first (RAM at 1M vectors)
    start = time.perf_counter()
    index = VectorIndex(args.dim, factory)
    index.tune(nprobe=args.nprobe, ef_search=args.ef_search, k_factor=args.k_factor)
    index.add(ids, vectors)
    build = time.perf_counter() - start
    collection.vectors = index
    faiss.omp_set_num_threads(args.threads)
    raw_ms, ours_ms, raw = paired_latencies(lambda q: index.index.search(q[None, :], args.k)[1][0],
                                            lambda q: search_vector(collection, q, k=args.k), queries)
    faiss.omp_set_num_threads(BUILD_THREADS)
    index.save(path)  # to disk, not to a bytes copy in RAM
    size = path.stat().st_size / len(ids)
    return {"build": build, "bytes": size, "raw": raw_ms, "ours": ours_ms}, np.stack(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--dim", type=int, default=576)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--ef-search", type=int, default=128)
    parser.add_argument("--k-factor", type=int, default=DEFAULT_K_FACTOR, help="refine: candidates re-ranked per result")
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads while searching (builds use all)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"latencies in ms per single query (k={args.k}, nprobe={args.nprobe}, efSearch={args.ef_search}, "
          f"k_factor={args.k_factor}), {args.threads} FAISS search thread(s); ratio = ours / raw FAISS")
    for n in args.sizes:
        bench_size(n, args, rng)


if __name__ == "__main__":
    main()
