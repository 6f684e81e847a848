"""Evaluation of encoders: BEIR, MTEB, personalized passkey retrieval, side-by-side comparison.

``beir``          load/validate/subset BEIR folders; ``evaluate_encoder`` (the one-call API)
``metrics``       pytrec_eval with BEIR's conventions
``retrieval``     ``Retriever`` protocol; encoders through FAISS exact inner product
``cache``         document embeddings on disk (.npy) per encoder, corpus and max length
``bm25``          bm25s baseline (spec ``bm25``)
``hybrid``        BM25 fused with an encoder (spec ``hybrid:<spec>``), by ``embedder.fusion``
``runner``        ``run_beir``: models x datasets, timed, costed, stored (``e5 bench beir``)
``results``       ``Result`` and the SQLAlchemy store (``e5 bench results``)
``report``        rich table, CSV/JSON/Markdown export, bar chart
``compare``       ``e5 bench compare``
``passkey``       ``e5 bench passkey``
``mteb_wrapper``  mteb model wrapper and local BEIR folders as mteb tasks (``e5 bench mteb``)
"""
