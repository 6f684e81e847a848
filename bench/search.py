"""Query latency and recall of collection search: exact vs HNSW vs IVF-PQ (plain and re-ranked), ours vs raw FAISS.

For each size, random unit vectors (clustered like real embeddings, or uniform with --data uniform)
are stored as a real collection (SQLite rows for documents and chunks, FAISS ids = chunk ids). For
each index type it prints p50/p99 latency of one query at a time for (a) raw ``faiss`` search and
(b) our ``search_vector`` (FAISS + the SQL fetch of hit metadata), their ratio (target <= 1.2),
recall@10 against the exact index, build time and bytes per vector of the index file. The IVF-PQ
row is repeated with ",RFlat": PQ candidates re-ranked with the exact vectors (``--k-factor``).
A third call, (c) "bare SQL", is raw FAISS followed by the same SQL statement on a plain DBAPI cursor
with no code of ours in between: the least that any FAISS + SQL search of these rows can cost.
Besides the ratio of the p50s, "paired" is the median over queries of each query's own ratio: on a
shared machine whose speed drifts, it compares calls that ran within a millisecond of each other.

With ``--hybrid`` it times instead ``rag.search`` in each mode on the first index named: dense, lexical
(SQLite FTS5) and hybrid (both, RRF over 100 candidates per side), then dense again after the lexical
index is dropped (the lexical side must not slow a dense query down). Chunk texts are 60 words drawn
from a Zipf-distributed vocabulary of 30,000; a query is 5 words of the chunk its vector was drawn near;
queries are "encoded" by a table lookup, so encoding costs nothing in any mode.

    python bench/search.py [--sizes 100000 1000000] [--queries 200] [--data clustered|uniform]
                           [--indexes flat hnsw ivfpq ivfpq-rflat] [--hybrid]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import faiss
import numpy as np
from sqlalchemy import insert

from rag.collection import Collection, open_or_create
from rag.config import IndexConfig, Workspace
from rag.lexical import drop_lexical
from rag.search import hits_statement, search, search_vector
from rag.store import ChunkRow, DocumentRow, reader_for
from rag.vectors import DEFAULT_K_FACTOR, VectorIndex

CHUNKS_PER_DOC = 100
VOCABULARY, WORDS_PER_CHUNK, QUERY_WORDS = 30_000, 60, 5
INDEX_KINDS = ("flat", "hnsw", "ivfpq", "ivfpq-rflat")
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
        out[start : start + size] = unit(centres[rng.integers(0, len(centres), size)] + noise)
    return out


def chunk_texts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` texts of ``WORDS_PER_CHUNK`` words, word frequencies following Zipf's law as in real text."""
    ranks = np.minimum(rng.zipf(1.1, (n, WORDS_PER_CHUNK)), VOCABULARY)
    return [" ".join(f"w{r}" for r in row) for row in ranks.tolist()]


def fill_collection(
    workspace: Workspace, n: int, dim: int, texts: list[str] | None = None
) -> tuple[Collection, np.ndarray]:
    """A collection with ``n`` chunk rows (100 per document; ``texts`` or a filler); returns it and the
    chunk ids in order."""
    encoder = SimpleNamespace(name=f"bench:random-{dim}", dim=dim)  # only name and dim are read
    collection = open_or_create(f"bench-{n}", encoder, IndexConfig(), workspace=workspace)
    with collection.session() as session, session.begin():
        docs = [
            {
                "collection_id": collection.id,
                "path": f"doc{d:07d}.txt",
                "title": f"Document {d}",
                "content_hash": "x",
                "size": 1,
                "mtime_ns": 0,
            }
            for d in range(n // CHUNKS_PER_DOC)
        ]
        doc_ids = session.scalars(
            insert(DocumentRow).returning(DocumentRow.id, sort_by_parameter_order=True), docs
        ).all()
        rows = [
            {
                "document_id": doc_ids[i // CHUNKS_PER_DOC],
                "collection_id": collection.id,
                "ordinal": i % CHUNKS_PER_DOC,
                "char_start": 0,
                "char_end": 90,
                "text": texts[i] if texts else f"chunk {i} " * 10,
                "text_hash": f"{i:064x}",
            }
            for i in range(n)
        ]
        ids = session.scalars(
            insert(ChunkRow).returning(ChunkRow.id, sort_by_parameter_order=True), rows
        ).all()
    return collection, np.asarray(ids, dtype=np.int64)


def interleaved_latencies(calls: list, queries: np.ndarray) -> tuple[list[np.ndarray], list]:
    """Milliseconds per query of each call, back to back, so that machine load hits all alike. The order
    cycles through every permutation, so each call runs first as often as the others and follows each of
    them as often: a call that ran just before on the same query leaves its FAISS lists or SQL pages in
    cache for the next. Also returns the first call's results."""
    times: list[list[float]] = [[] for _ in calls]
    found = []
    orders = list(itertools.permutations(range(len(calls))))
    for n, query in enumerate(queries):
        for j in orders[n % len(orders)]:
            start = time.perf_counter()
            result = calls[j](query)
            times[j].append(time.perf_counter() - start)
            if j == 0:
                found.append(result)
    return [np.asarray(t) * 1e3 for t in times], found


def bare_sql_search(index: faiss.Index, workspace: Workspace, k: int) -> Callable[[np.ndarray], list]:
    """Raw FAISS, then the hit rows' SQL statement on a plain DBAPI cursor, rows left as they come."""
    engine = reader_for(workspace.url).engine
    cursor = engine.raw_connection().cursor()
    sql = hits_statement(engine.dialect, k).string

    def call(query: np.ndarray) -> list:
        cursor.execute(sql, index.search(query[None, :], k)[1][0].tolist())
        return cursor.fetchall()

    return call


def factories_for(n: int, kinds: list[str]) -> list[str]:
    """FAISS factory strings of the ``INDEX_KINDS`` named, sized for ``n`` vectors."""
    lists = 256 if n <= 200_000 else 1024  # few lists: k-means training stays minutes on 2 cores
    factories = dict(
        zip(INDEX_KINDS, ["Flat", "HNSW32", f"IVF{lists},PQ48", f"IVF{lists},PQ48,RFlat"], strict=True)
    )
    return [factories[kind] for kind in kinds]


def bench_size(n: int, args: argparse.Namespace, rng: np.random.Generator) -> None:
    vectors = random_vectors(n, args.dim, args.data, rng)
    queries = unit(
        vectors[rng.integers(0, n, args.queries)]
        + rng.standard_normal((args.queries, args.dim), dtype=np.float32) * 0.04
    )
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(f"sqlite:///{Path(tmp) / 'rag.db'}", Path(tmp) / "indexes")
        start = time.perf_counter()
        if args.hybrid:
            bench_modes(workspace, n, vectors, queries, args, rng)
            return
        collection, ids = fill_collection(workspace, n, args.dim)
        print(
            f"\n{n:,} vectors, {args.dim}-d, {args.data} data; SQL rows written in {time.perf_counter() - start:.1f}s"
        )
        print(
            f"{'index':<22}{'build s':>8}{'B/vector':>10}{'recall@10':>10}{'raw p50':>9}{'raw p99':>9}"
            f"{'ours p50':>9}{'ours p99':>9}{'ratio p50':>10}{'paired':>7}{'bare SQL p50':>13}{'bare ratio':>11}"
            f"{'paired':>7}"
        )
        truth = None
        for factory in factories_for(n, args.indexes):
            row, found = bench_index(
                collection, ids, vectors, queries, factory, args, Path(tmp) / "index.faiss"
            )
            truth = found if truth is None else truth
            recall = np.mean([len(set(t) & set(f)) / args.k for t, f in zip(truth, found, strict=True)])
            raw, ours, bare = (np.percentile(row[key], 50) for key in ("raw", "ours", "bare"))
            print(
                f"{factory:<22}{row['build']:>8.1f}{row['bytes']:>10.0f}{recall:>10.3f}"
                f"{raw:>9.2f}{np.percentile(row['raw'], 99):>9.2f}"
                f"{ours:>9.2f}{np.percentile(row['ours'], 99):>9.2f}{ours / raw:>10.2f}"
                f"{np.median(row['ours'] / row['raw']):>7.2f}{bare:>13.2f}{bare / raw:>11.2f}"
                f"{np.median(row['bare'] / row['raw']):>7.2f}"
            )


def bench_index(
    collection: Collection,
    ids: np.ndarray,
    vectors: np.ndarray,
    queries: np.ndarray,
    factory: str,
    args: argparse.Namespace,
    path: Path,
) -> tuple[dict[str, float | np.ndarray], np.ndarray]:
    """Build one index into the collection; time raw FAISS and our search on it."""
    collection.vectors = VectorIndex(args.dim)  # frees the previous index first (RAM at 1M vectors)
    start = time.perf_counter()
    index = VectorIndex(args.dim, factory)
    index.tune(nprobe=args.nprobe, ef_search=args.ef_search, k_factor=args.k_factor)
    index.add(ids, vectors)
    build = time.perf_counter() - start
    collection.vectors = index
    faiss.omp_set_num_threads(args.threads)
    (raw_ms, ours_ms, bare_ms), raw = interleaved_latencies(
        [
            lambda q: index.index.search(q[None, :], args.k)[1][0],
            lambda q: search_vector(collection, q, k=args.k),
            bare_sql_search(index.index, collection.workspace, args.k),
        ],
        queries,
    )
    faiss.omp_set_num_threads(BUILD_THREADS)
    index.save(path)  # to disk, not to a bytes copy in RAM
    size = path.stat().st_size / len(ids)
    return {"build": build, "bytes": size, "raw": raw_ms, "ours": ours_ms, "bare": bare_ms}, np.stack(raw)


class LookupEncoder:
    """Query "encoding" by table lookup: every mode pays the same (nothing) for it."""

    def __init__(self, dim: int, vectors: dict[str, np.ndarray]):
        self.name, self.dim, self.vectors = f"bench:random-{dim}", dim, vectors

    def encode_queries(self, texts: list[str], _instruction: str) -> np.ndarray:
        return np.stack([self.vectors[text] for text in texts])


def bench_modes(
    workspace: Workspace,
    n: int,
    vectors: np.ndarray,
    queries: np.ndarray,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> None:
    """p50/p99 of ``rag.search`` per mode on one collection with chunk texts and a lexical index."""
    start = time.perf_counter()
    texts = chunk_texts(n, rng)
    collection, ids = fill_collection(workspace, n, args.dim, texts)
    print(f"\n{n:,} chunks with texts and an FTS5 index written in {time.perf_counter() - start:.1f}s")
    collection.vectors = VectorIndex(args.dim, factories_for(n, args.indexes)[0])
    collection.vectors.tune(nprobe=args.nprobe, ef_search=args.ef_search, k_factor=args.k_factor)
    collection.vectors.add(ids, vectors)
    near = np.argmax(queries @ vectors.T, axis=1)  # the chunk each query vector was drawn near
    words = [" ".join(rng.choice(texts[i].split(), QUERY_WORDS, replace=False)) for i in near]
    collection.encoder = LookupEncoder(args.dim, dict(zip(words, queries, strict=True)))
    faiss.omp_set_num_threads(args.threads)
    modes = ("dense", "lexical", "hybrid")
    times, _ = interleaved_latencies(
        [lambda q, m=m: search(collection, q, k=args.k, mode=m) for m in modes], words
    )
    with collection.engine.begin() as connection:
        drop_lexical(connection, collection.id)
    collection.lexical = False
    (alone,), _ = interleaved_latencies([lambda q: search(collection, q, k=args.k, mode="dense")], words)
    print(f"{'mode (' + collection.vectors.factory + ')':<36}{'p50 ms':>8}{'p99 ms':>8}")
    for label, ms in [*zip(modes, times, strict=True), ("dense, lexical index dropped", alone)]:
        print(f"{label:<36}{np.percentile(ms, 50):>8.2f}{np.percentile(ms, 99):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--indexes",
        nargs="+",
        choices=INDEX_KINDS,
        default=list(INDEX_KINDS),
        help="the first one is recall's reference",
    )
    parser.add_argument("--dim", type=int, default=576)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--ef-search", type=int, default=128)
    parser.add_argument(
        "--k-factor", type=int, default=DEFAULT_K_FACTOR, help="refine: candidates re-ranked per result"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="FAISS threads while searching (builds use all)"
    )
    parser.add_argument(
        "--hybrid", action="store_true", help="time search modes (dense/lexical/hybrid) instead"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"latencies in ms per single query (k={args.k}, nprobe={args.nprobe}, efSearch={args.ef_search}, "
        f"k_factor={args.k_factor}), {args.threads} FAISS search thread(s); ratio = ours / raw FAISS"
    )
    for n in args.sizes:
        bench_size(n, args, rng)


if __name__ == "__main__":
    main()
