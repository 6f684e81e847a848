"""Hybrid retrieval in collections on real SQLite (FTS5) and PostgreSQL (tsvector + GIN) with real FAISS:
round trip, incremental add/change/delete in the lexical hits, existing collections upgraded on the next
run, queries hostile to a query parser, path filters in every mode."""

import pytest
import test_rag_store as store
from sqlalchemy import text as sql
from test_rag_store import FILES, index

from embedder.fusion import FusionConfig
from rag.catalog import remove_collection
from rag.collection import open_collection
from rag.errors import RagError
from rag.lexical import drop_lexical, fts_table, has_lexical, query_terms
from rag.search import search

HOSTILE = [
    '"',
    '""',
    '"unbalanced quote',
    "lava*",
    "*",
    "NEAR(lava ash)",
    "lava NEAR ash",
    "-lava",
    "lava -ash",
    "OR",
    "lava OR",
    "AND NOT",
    "(lava",
    "lava)",
    "^lava",
    "col:lava",
    "text:lava",
    "!?.,;:",
    "'; DROP TABLE x",
    "lava & | ! <-> :*",
    "\\",
    "ünïcödé lavá",
    "lava " * 2000 + "x" * 10_000,
]

workspace, folder = (
    store.workspace,
    store.folder,
)  # the store tests' fixtures: SQLite and PostgreSQL, a folder


def open_notes(workspace, encoder):
    return open_collection("notes", encoder, workspace=workspace)


def test_hybrid_round_trip_reports_both_sides(workspace, folder, hash_encoder):
    index(folder, hash_encoder, workspace)
    collection = open_notes(workspace, hash_encoder)
    assert collection.lexical
    hybrid = search(collection, "volcano erupts", k=3)  # the default mode where there is a lexical index
    assert hybrid[0].path == "geo/volcano.md"
    assert hybrid[0].dense_rank == 1 and hybrid[0].lexical_rank == 1 and "lexical #1" in hybrid[0].found_by
    lexical = search(collection, "kneading doughs", k=5, mode="lexical")  # stemmed: knead, dough
    assert lexical and {hit.path for hit in lexical} == {"kitchen/bread.md"}
    assert all(hit.dense_rank is None and hit.lexical_rank == rank for rank, hit in enumerate(lexical, 1))
    assert FILES[lexical[0].path][lexical[0].start : lexical[0].end] == lexical[0].text
    dense = search(collection, "volcano erupts", k=3, mode="dense")
    assert all(hit.lexical_rank is None and hit.dense_rank == rank for rank, hit in enumerate(dense, 1))
    linear = search(collection, "volcano erupts", k=3, fusion=FusionConfig(method="linear", alpha=0.2))
    assert linear[0].path == "geo/volcano.md" and 0.99 <= linear[0].score <= 1.0
    assert search(collection, "zeppelin", mode="lexical") == []


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_path_glob_filters_every_mode(workspace, folder, hash_encoder, mode):
    index(folder, hash_encoder, workspace)
    collection = open_notes(workspace, hash_encoder)
    hits = search(collection, "volcano lava bread rivers", k=10, path_glob="kitchen/*", mode=mode)
    assert hits and {hit.path for hit in hits} == {"kitchen/bread.md"}
    assert search(collection, "lava", path_glob="nothing/*", mode=mode) == []


def test_incremental_changes_reach_the_lexical_hits(workspace, folder, hash_encoder):
    index(folder, hash_encoder, workspace)
    (folder / "geo/volcano.md").write_text("# Volcanoes\n\nA caldera forms when the summit collapses.")
    (folder / "kitchen/bread.md").unlink()
    (folder / "sea.txt").write_text("Tides follow the moon; the harbour floods twice a day.")
    report = index(folder, hash_encoder, workspace)
    assert (report.added, report.changed, report.removed) == (
        ["sea.txt"],
        ["geo/volcano.md"],
        ["kitchen/bread.md"],
    )
    collection = open_notes(workspace, hash_encoder)
    paths = {
        term: [hit.path for hit in search(collection, term, mode="lexical")]
        for term in ("caldera", "magma", "dough", "harbour tides")
    }
    assert paths == {"caldera": ["geo/volcano.md"], "magma": [], "dough": [], "harbour tides": ["sea.txt"]}
    assert lexical_ids(collection) == set(collection.chunk_ids().tolist())


def lexical_ids(collection) -> set[int]:
    """Chunk ids in the lexical index itself (SQLite: FTS5's own term index, not its content view)."""
    with collection.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            table = fts_table(collection.id)
            conn.exec_driver_sql(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v{table} USING fts5vocab(main, {table}, instance)"
            )
            return {row[0] for row in conn.exec_driver_sql(f"SELECT DISTINCT doc FROM temp.v{table}")}
        rows = conn.execute(
            sql("SELECT id FROM rag_chunks WHERE collection_id = :c AND length(lexical) > 0"),
            {"c": collection.id},
        )
        return {row[0] for row in rows}


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_queries_hostile_to_a_parser_are_plain_text(workspace, folder, hash_encoder, query, mode):
    index(folder, hash_encoder, workspace)
    collection = open_notes(workspace, hash_encoder)
    hits = search(collection, query, k=3, mode=mode)
    assert isinstance(hits, list)
    if "lava" in query.lower():  # "lavá" too: diacritics are folded on SQLite
        assert hits and hits[0].path == "geo/volcano.md"


def test_query_terms_drop_syntax_stopwords_and_bound_the_length():
    assert query_terms('"NEAR(lava* -ash) OR the" the') == ["near", "lava", "ash"]
    assert query_terms("the of and") == ["the", "of", "and"]  # only stopwords: kept, not an empty query
    assert query_terms("!?.,;:") == []
    assert len(query_terms(" ".join(f"w{i}" for i in range(500)))) == 64


def test_existing_collection_gets_its_lexical_index_on_the_next_run(workspace, folder, hash_encoder):
    index(folder, hash_encoder, workspace)
    collection = open_notes(workspace, hash_encoder)
    with collection.engine.begin() as conn:  # as a collection built before hybrid search
        if conn.dialect.name == "sqlite":
            drop_lexical(conn, collection.id)
        else:
            conn.exec_driver_sql("ALTER TABLE rag_chunks DROP COLUMN lexical")
    old = open_notes(workspace, hash_encoder)
    assert not old.lexical and search(old, "volcano", k=1)[0].dense_rank == 1  # dense by default
    with pytest.raises(RagError, match="no lexical index yet.*e5 index"):
        search(old, "volcano", mode="hybrid")
    report = index(folder, hash_encoder, workspace)
    assert not report.changed_anything  # nothing re-encoded: the index is built from the stored chunks
    upgraded = open_notes(workspace, hash_encoder)
    assert upgraded.lexical and search(upgraded, "erupts", mode="lexical")[0].path == "geo/volcano.md"
    assert lexical_ids(upgraded) == set(upgraded.chunk_ids().tolist())


def test_removing_a_collection_removes_its_lexical_index(workspace, folder, hash_encoder):
    index(folder, hash_encoder, workspace)
    index(folder, hash_encoder, workspace, name="other")
    collection = open_notes(workspace, hash_encoder)
    remove_collection("notes", workspace=workspace)
    with collection.engine.connect() as conn:
        assert not has_lexical(conn, collection.id) or conn.dialect.name == "postgresql"
    other = open_collection("other", hash_encoder, workspace=workspace)
    assert search(other, "erupts", mode="lexical")[0].path == "geo/volcano.md"


def test_lexical_search_needs_no_encoder_and_bad_modes_are_refused(workspace, folder, hash_encoder):
    index(folder, hash_encoder, workspace)
    bare = open_collection("notes", workspace=workspace)
    assert search(bare, "bread", mode="lexical")[0].path == "kitchen/bread.md"
    with pytest.raises(RagError, match="without an encoder"):
        search(bare, "bread")
    with pytest.raises(ValueError, match="mode must be one of dense, lexical, hybrid"):
        search(open_notes(workspace, hash_encoder), "bread", mode="keyword")
