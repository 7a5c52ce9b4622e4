"""The linker: mention strings in, ranked concept candidates out.

Dense (bi-encoder + FAISS) and sparse (char n-gram TF-IDF) retrieval over
every KB name, merged per concept, exact names first, optionally reranked
(see :class:`~clinlink.linking.candidates.Reranker`), NIL below a threshold.
Indexes are built once and cached in the compiled KB directory.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import OrderedDict
from copy import copy
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from clinlink import progress
from clinlink.errors import KnowledgeBaseError
from clinlink.kb import KnowledgeBase
from clinlink.kb.compiled import atomic_directory, register_artifact
from clinlink.kb.knowledge_base import XREF_ALIASES
from clinlink.linking.candidates import NIL_THRESHOLD, Candidate, Reranker, merge, rank, rerank_gated, search_concepts
from clinlink.linking.coding_lexicon import ICD10CM_PREFIX, CodingLexicon
from clinlink.linking.choice import (
    CODE_THRESHOLD, ICD10CM, VOCABULARY_SOURCES, LinkedMention, both_sides, choose, combination_icd, side_context, sides_of, specific_icd,
    vocabulary_key,
)
from clinlink.linking.dense import DenseIndex
from clinlink.linking.encoder import TextEncoder
from clinlink.linking.filters import FilterCache
from clinlink.linking.icd_names import icd_core_names
from clinlink.linking.name_vectors import name_vectors
from clinlink.linking.sites import site_query
from clinlink.linking.names import NameTable, matches_identity, record_identity, table_identity
from clinlink.linking.sparse import SparseIndex
from clinlink.memory import collector_paused
from clinlink.text.normalize import normalize

log = logging.getLogger(__name__)

#: Ensemble weight of the dense score: the setting GeneReviews chooses and GSC+ scores best with (leave-one-corpus-out,
#: see benchmarks/linking.py); no setting beats it on GSC+, GeneReviews and held-out synonyms together.
DENSE_WEIGHT = 0.9
MERGE_METHOD = "sum"
#: Concepts each retriever proposes before merging (at least ``k``).
RETRIEVE_K = 32
EXACT_SHORTCUTS = ("vector", "sparse", "none")


#: ICD-10-CM titles that do not say where ("Other injury of unspecified body region"): a site read around the
#: mention replaces them.
_NO_SITE = re.compile(
    r"unspecified (?:site|body region)|^enlarged lymph nodes, unspecified$|^pain, unspecified$|^unspecified abdominal pain$|"
    r"^localized swelling, mass and lump, unspecified$|^hemorrhage, not elsewhere classified$",
    re.IGNORECASE,
)


class Linker:
    """Links mention strings to KB concepts; build it with :meth:`from_kb`."""

    def __init__(
        self,
        kb: KnowledgeBase,
        table: NameTable,
        encoder: TextEncoder | None = None,
        dense: DenseIndex | None = None,
        sparse: SparseIndex | None = None,
        reranker: Reranker | None = None,
        dense_weight: float = DENSE_WEIGHT,
        merge_method: str = MERGE_METHOD,
        nil_threshold: float = NIL_THRESHOLD,
        retrieve_k: int = RETRIEVE_K,
        batch_size: int = 128,
        exact_boost: bool = True,
        exact_shortcut: str = "vector",
        cache_size: int = 50_000,
        filter_cache: FilterCache | None = None,
    ):
        if dense is None and sparse is None:
            raise ValueError("a linker needs a dense or a sparse index")
        if dense is not None and encoder is None:
            raise ValueError("a dense index needs its encoder")
        for index in (dense, sparse):
            if index is not None and len(index) != len(table):
                raise KnowledgeBaseError(f"index has {len(index)} rows but the name table {len(table)}; rebuild it")
        self.kb = kb
        self.table = table
        self.encoder = encoder
        self.dense = dense
        self.sparse = sparse
        self.reranker = reranker
        self.dense_weight = dense_weight
        self.merge_method = merge_method
        self.nil_threshold = nil_threshold
        self.retrieve_k = retrieve_k
        self.batch_size = batch_size
        self.exact_boost = exact_boost
        if exact_shortcut not in EXACT_SHORTCUTS:
            raise ValueError(f"exact_shortcut must be one of {EXACT_SHORTCUTS}, not {exact_shortcut!r}")
        self.exact_shortcut = exact_shortcut
        self.cache_size = cache_size
        self.filter_cache = filter_cache or FilterCache(None, None)
        self._allowed = lru_cache(maxsize=32)(self._filtered_rows)
        self._cache: OrderedDict[tuple, list[Candidate]] = OrderedDict()
        self._concept_codes = lru_cache(maxsize=65_536)(self._codes_with_names)
        self._source = lru_cache(maxsize=65_536)(lambda concept_id: self.kb.get(concept_id).source)
        self._names = lru_cache(maxsize=65_536)(self._exact_names)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_kb(
        cls,
        kb: KnowledgeBase,
        encoder: TextEncoder | str | Path | None = None,
        sparse: bool = True,
        dense: bool = True,
        reranker: Reranker | None = None,
        index_kind: str = "flat",
        ngram_range: tuple[int, int] = (3, 3),
        cache_dir: Path | None = None,
        rebuild: bool = False,
        **settings,
    ) -> Linker:
        """A linker over ``kb`` with its indexes loaded from, or built into, ``<kb dir>/index/``.

        ``encoder``: a :class:`TextEncoder` or a model dir/id (default: the
        packaged trained bi-encoder if present, else all-MiniLM-L6-v2).
        ``cache_dir`` overrides where indexes live (a KB built in memory and
        no ``cache_dir``: indexes are built and kept in memory only).
        ``settings``: ``dense_weight``, ``merge_method``, ``nil_threshold``, ``retrieve_k``,
        ``batch_size``, ``exact_boost`` (rank exact normalized-name matches first),
        ``exact_shortcut`` for a mention that is a KB name once normalized: "vector" (default: not
        encoded, the name's stored vector is its dense query, same candidates), "sparse" (no dense
        search either: its other candidates come from the sparse index alone; fastest, used by the
        pipeline component) or "none"; ``cache_size`` (mentions whose
        candidates are kept between calls of :meth:`link`, 0: none).
        """
        with collector_paused():  # the name table and indexes are long-lived: later collections skip them
            root = Path(cache_dir) if cache_dir else (Path(kb.path) / "index" if kb.path else None)
            text_encoder = None
            if dense:
                text_encoder = encoder if isinstance(encoder, TextEncoder) else TextEncoder(encoder)
            suffix = "" if index_kind == "flat" else f"-{index_kind}"
            dense_dir = root / f"{text_encoder.fingerprint[:12]}{suffix}" if root and dense else None
            sparse_dir = root / f"tfidf-{ngram_range[0]}-{ngram_range[1]}" if root and sparse else None
            identity = table_identity(kb)
            current = {d for d in (dense_dir, sparse_dir) if d is not None and not rebuild and matches_identity(d, identity)}
            table = _saved_table(current) or NameTable.from_kb(kb)
            dense_index = sparse_index = None
            if dense:
                dense_index = _cached(
                    dense_dir, table, DenseIndex.load, lambda: _build_dense(table, text_encoder, index_kind), rebuild, kb,
                    identity, dense_dir in current,
                )
            if sparse:
                sparse_index = _cached(
                    sparse_dir, table, SparseIndex.load, lambda: _build_sparse(table, ngram_range), rebuild, kb,
                    identity, sparse_dir in current, normalized_index=True,
                )
            filters = FilterCache(root, identity) if root is not None else None
            return cls(kb, table, text_encoder, dense_index, sparse_index, reranker=reranker, filter_cache=filters, **settings)

    # -- linking ------------------------------------------------------------
    def link(
        self,
        mentions: Sequence[str],
        contexts: Sequence[str | None] | None = None,
        k: int = 5,
        sources: Sequence[str] | None = None,
        within: str | Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        nil_threshold: float | None = None,
        exact_shortcut: str | None = None,
    ) -> list[list[Candidate]]:
        """Top ``k`` candidates per mention, best first; ``[]`` for NIL.

        ``sources`` restricts to vocabularies ("HP"/"HPO", "ICD10CM"), ``within``
        to the subtree(s) under a concept id (itself included), ``groups`` to
        UMLS semantic groups ("DISO"); ``contexts`` (one per mention) go to the reranker;
        ``nil_threshold`` and ``exact_shortcut`` override the linker's for this call.
        """
        if contexts is not None and len(contexts) != len(mentions):
            raise ValueError(f"{len(contexts)} contexts for {len(mentions)} mentions")
        depth = max(k, self.reranker.top_k) if self.reranker else k
        filters = (tuple(sources or ()), (within,) if isinstance(within, str) else tuple(within or ()), tuple(groups or ()))
        results = self._retrieve_cached(mentions, depth, filters, exact_shortcut or self.exact_shortcut)
        threshold = self.nil_threshold if nil_threshold is None else nil_threshold
        if self.reranker is not None:
            results = rerank_gated(self.reranker, mentions, contexts, results)
        return [candidates[:k] if candidates and candidates[0].score >= threshold else [] for candidates in results]

    def annotate(
        self,
        mentions: Sequence[str],
        contexts: Sequence[str | None] | None = None,
        k: int = 5,
        vocabularies: Sequence[str] = ("ICD10CM", "HPO"),
        sources: Sequence[str] | None = None,
        within: str | Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        nil_threshold: float | None = None,
        exact_shortcut: str | None = None,
        presets: Sequence[str | None] | None = None,
        detector_scores: Sequence[float | None] | None = None,
        override_margin: float = 0.1,
        code_threshold: float = CODE_THRESHOLD,
        coding_lexicon: CodingLexicon | None = None,
        positions: Sequence[tuple[int, int] | None] | None = None,
    ) -> list[LinkedMention]:
        """Links each mention as the pipeline's linker component does: the primary concept (see
        :func:`~clinlink.linking.choice.choose`; ``presets`` are the mention detector's concepts and
        ``detector_scores`` its match scores) and, in each of ``vocabularies`` the KB holds, the best code
        ranked within that vocabulary alone, ICD-10-CM made specific (:func:`~clinlink.linking.choice.specific_icd`)
        and combined with the other mentions of the same context (:func:`~clinlink.linking.choice.combination_icd`).
        ``contexts`` (the mentions' sentences) serve the reranker, laterality and combinations. A vocabulary's
        code needs ``code_threshold``, an exact name or to be the primary concept: a mention has no code in a vocabulary
        with nothing close.
        A mention whose text is a ``coding_lexicon`` phrase, or whose primary concept is one of its concepts, takes
        that lexicon's ICD-10-CM code, or none.
        ``positions``: each mention's start and end characters in its context, where the words around it count."""
        count = len(mentions)
        if positions is not None and len(positions) != count:
            raise ValueError(f"{len(positions)} positions for {count} mentions")
        contexts = list(contexts) if contexts is not None else [None] * count
        presets = list(presets) if presets is not None else [None] * count
        scores = list(detector_scores) if detector_scores is not None else [None] * count
        settings = {"nil_threshold": nil_threshold, "exact_shortcut": exact_shortcut}
        candidates = self.link(mentions, contexts, k, sources, within, groups, **settings)
        chosen = [choose(self.kb, c, p, s, override_margin) for c, p, s in zip(candidates, presets, scores)]
        roots = [within] if isinstance(within, str) else list(within or ())
        best: dict[str, list[Candidate | None]] = {}
        other_side: dict[int, Candidate] = {}
        for vocabulary in dict.fromkeys(vocabulary_key(v) for v in vocabularies):
            source = VOCABULARY_SOURCES.get(vocabulary, vocabulary)
            vocabulary_roots = [r for r in roots if self._source(r) == source]
            if (roots and not vocabulary_roots) or not len(self.allowed_rows([source], vocabulary_roots, groups)):
                continue  # a vocabulary the KB (or this pipeline's subtree) does not hold
            picks = [c if c is not None and self._source(c.concept_id) == source else None for c in chosen]
            lexicon_picks = self._lexicon_picks(mentions, chosen, coding_lexicon) if source == ICD10CM else {}
            if source == ICD10CM:
                picks = self._icd_core_picks(mentions, picks, chosen)
            pending = [i for i, pick in enumerate(picks) if pick is None and i not in lexicon_picks]
            found = self.link(
                [mentions[i] for i in pending], [contexts[i] for i in pending], k, [source], vocabulary_roots, groups, **settings
            )
            for i, vocabulary_candidates in zip(pending, found):
                preset = presets[i] if presets[i] and self.kb.find(presets[i]) and self._source(presets[i]) == source else None
                picks[i] = choose(self.kb, vocabulary_candidates, preset, scores[i], override_margin)
            picks = [p if p is not None and (p.exact or p.score >= code_threshold or p is chosen[i]) else None for i, p in enumerate(picks)]
            if source == ICD10CM:
                picks = self._icd_core_picks(mentions, picks, chosen, synonyms=True)
                picks = [lexicon_picks[i] if i in lexicon_picks else pick for i, pick in enumerate(picks)]
                picks = self._site_picks(mentions, contexts, positions or [None] * count, picks)
                picks = self._head_picks(mentions, picks, lexicon_picks)
                picks, other_side = self._specific_icd(picks, chosen, contexts, mentions, positions or [None] * count)
            best[vocabulary] = picks
        return [
            LinkedMention(
                chosen[i], candidates[i],
                self._vocabulary_codes(chosen[i], {v: picks[i] for v, picks in best.items()}, {ICD10CM: other_side[i]} if i in other_side else {}),
            )
            for i in range(count)
        ]

    def _icd_core_picks(
        self, mentions: Sequence[str], picks: list[Candidate | None], chosen: list[Candidate | None], synonyms: bool = False
    ) -> list[Candidate | None]:
        """Mentions that say an ICD-10-CM title's core ("fever" for "Fever NOS"), or whose primary concept's name
        does (a misspelt "pnuemonia" read as Pneumonia), get that code as an exact name; with ``synonyms``, the
        primary concept's exact synonyms are tried instead (for mentions retrieval found no code for)."""
        cores = icd_core_names(self.kb)
        result = list(picks)
        for i, pick in enumerate(picks):
            if pick is not None:
                continue
            names = [mentions[i]] if not synonyms else []
            if chosen[i] is not None:
                names += self._names(chosen[i].concept_id)[1:] if synonyms else [chosen[i].name]
            code = next(filter(None, (cores.get(normalize(name)) for name in names)), None)
            if code is not None:
                result[i] = Candidate(code, self.kb.get(code).name, 1.0, retrieved_by="exact", exact=True)
        return result

    def _head_picks(
        self, mentions: Sequence[str], picks: list[Candidate | None], lexicon_picks: dict[int, Candidate | None]
    ) -> list[Candidate | None]:
        """A mention still without a code whose last words are an ICD-10-CM title's core takes that code, the
        condition it is a kind of: "normocytic anemia" -> D64.9, "lower limb edema" -> R60.9 (the Alphabetic
        Index's own reading: "Anemia, normocytic D64.9"). Not for a mention the coding lexicon leaves uncoded."""
        cores = icd_core_names(self.kb)
        result = list(picks)
        for i, pick in enumerate(picks):
            if pick is not None or i in lexicon_picks:
                continue
            words = normalize(mentions[i]).split()
            code = next(filter(None, (cores.get(" ".join(words[start:])) for start in range(1, len(words)))), None)
            if code is not None:
                result[i] = Candidate(code, self.kb.get(code).name, 1.0, retrieved_by="head")
        return result

    def _lexicon_picks(
        self, mentions: Sequence[str], chosen: Sequence[Candidate | None], lexicon: CodingLexicon | None
    ) -> dict[int, Candidate | None]:
        """Mention index -> the ICD-10-CM code its text, or else its primary concept, has in the coding lexicon
        (None: not coded)."""
        picks: dict[int, Candidate | None] = {}
        for i, mention in enumerate(mentions if lexicon is not None else ()):
            entry = lexicon.lookup(mention, chosen[i].concept_id if chosen[i] is not None else None)
            if entry is None:
                continue
            concept = self.kb.find(ICD10CM_PREFIX + entry.code) if entry.code else None
            if entry.code is None or concept is not None:
                picks[i] = None if concept is None else Candidate(concept.id, concept.name, 1.0, retrieved_by="lexicon", exact=True)
        return picks

    def _site_picks(
        self, mentions: Sequence[str], contexts: Sequence[str | None], positions: Sequence[tuple[int, int] | None], picks: list[Candidate | None]
    ) -> list[Candidate | None]:
        """Mentions of a malignant, metastatic or benign neoplasm, a fracture, a tumor, enlarged lymph nodes, a pain, a
        mass or a stone left without a code, or with one of no site, get the code of their site when the mention or the
        words around it name one (:mod:`clinlink.linking.sites`)."""
        queries = {
            i: site_query(mentions[i], contexts[i], positions[i]) for i, pick in enumerate(picks) if pick is None or _NO_SITE.search(pick.name)
        }
        queries = {i: query for i, query in queries.items() if query is not None}
        if not queries:
            return picks
        result = list(picks)
        for i, query in queries.items():
            if query.code is not None and (concept := self.kb.find(ICD10CM_PREFIX + query.code)) is not None:
                result[i] = Candidate(concept.id, concept.name, 1.0, retrieved_by="site", exact=True)
        queries = {i: query for i, query in queries.items() if query.code is None}
        found = self.link([query.text for query in queries.values()], k=10, sources=[ICD10CM], nil_threshold=0.0) if queries else []
        for (i, query), candidates in zip(queries.items(), found):
            accepted = [c for c in candidates if query.accepts(c.concept_id.removeprefix(ICD10CM_PREFIX), c.name)]
            stated = sides_of(side_context(mentions[i], contexts[i], positions[i]))
            on_side = [c for c in accepted if sides_of(c.name) == stated] if len(stated) == 1 else []  # the side stated first
            result[i] = next(iter(on_side + accepted), picks[i])
        return result

    def _exact_names(self, concept_id: str) -> tuple[str, ...]:
        """The concept's preferred name and its EXACT synonyms (not related, broad or abbreviations)."""
        concept = self.kb.get(concept_id)
        return (concept.name, *(s.name for s in concept.synonyms if s.kind == "EXACT"))

    def _specific_icd(
        self,
        picks: list[Candidate | None],
        chosen: list[Candidate | None],
        contexts: list[str | None],
        mentions: Sequence[str],
        positions: Sequence[tuple[int, int] | None],
    ) -> tuple[list[Candidate | None], dict[int, Candidate]]:
        """Each ICD-10-CM pick as its combination code with another mention of the same context, else its specific
        code; a finding on both sides with no bilateral code becomes its right code, its left code returned apart
        (by mention index)."""
        by_context: dict[str, list[tuple[int, str]]] = {}
        for i, context in enumerate(contexts):
            if context:
                names = [mentions[i], *(c.name for c in (chosen[i], picks[i]) if c is not None)]
                by_context.setdefault(context, []).extend((i, name) for name in names)
        refined: list[Candidate | None] = []
        left: dict[int, Candidate] = {}
        for i, pick in enumerate(picks):
            if pick is None:
                refined.append(None)
                continue
            others = [name for j, name in by_context.get(contexts[i] or "", []) if j != i]
            code = combination_icd(self.kb, pick.concept_id, others) if others else None
            side_text = side_context(mentions[i], contexts[i], positions[i])
            code = specific_icd(self.kb, code or pick.concept_id, side_text)
            sides = both_sides(self.kb, code, side_text)
            if sides is not None:
                code = sides[0]
                left[i] = Candidate(sides[1], self.kb.get(sides[1]).name, pick.score, exact=pick.exact)
            refined.append(pick if code == pick.concept_id else Candidate(code, self.kb.get(code).name, pick.score, exact=pick.exact))
        return refined, left

    def _vocabulary_codes(
        self, primary: Candidate | None, picks: dict[str, Candidate | None], seconds: dict[str, Candidate] | None = None
    ) -> dict[str, list[list]]:
        """``{vocabulary: [[code, name, score], ...]}``: the linked pick of each vocabulary (and its ``seconds``
        code, the other side of a bilateral finding), then the cross-references of the primary concept and the
        picks (score None)."""
        seconds = seconds or {}
        linked = {v: ([p, seconds[v]] if v in seconds else [p]) if p is not None else [] for v, p in picks.items()}
        key = (
            primary.concept_id if primary is not None else None,
            tuple((v, *((p.concept_id, p.name, round(float(p.score), 4)) for p in ps)) for v, ps in linked.items()),
        )
        return {vocabulary: [list(entry) for entry in entries] for vocabulary, entries in self._codes_of(key).items()}

    @lru_cache(maxsize=65_536)  # noqa: B019 (one linker per process; the KB it reads never changes)
    def _codes_of(self, key: tuple) -> dict[str, tuple[tuple, ...]]:
        primary, picked = key
        codes: dict[str, list] = {}
        for vocabulary, *linked in picked:
            for concept_id, name, score in linked:
                code = dict(self._concept_codes(concept_id)).get(vocabulary, ((concept_id, None),))[0][0]
                codes.setdefault(vocabulary, []).append((code, name, score))
        picks = {vocabulary: linked[0][0] if linked else None for vocabulary, *linked in picked}
        for concept in dict.fromkeys(c for c in (primary, *picks.values()) if c is not None):
            for vocabulary, xrefs in self._concept_codes(concept):
                if picks.get(vocabulary) is not None:
                    continue  # the vocabulary's own pick answers for it
                entries = codes.setdefault(vocabulary, [])
                for code, name in xrefs:
                    if all(entry[0] != code for entry in entries):
                        entries.append((code, name, None))
        return {vocabulary: tuple(entries) for vocabulary, entries in codes.items()}

    def _codes_with_names(self, concept_id: str) -> tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...]:
        """The concept's codes per vocabulary, each with its KB name when the KB holds that concept (cached)."""
        result = []
        for vocabulary, codes in self.kb.codes(concept_id).items():
            named = []
            for code in codes:
                concept = self.kb.find(code if vocabulary == "HPO" else f"{vocabulary}:{code}")
                named.append((code, concept.name if concept else None))
            result.append((vocabulary, tuple(named)))
        return tuple(result)

    def _retrieve_cached(self, mentions: Sequence[str], k: int, filters: tuple, shortcut: str) -> list[list[Candidate]]:
        """:meth:`retrieve` through an LRU cache of (mention, k, filters, shortcut) -> candidates; callers get copies."""
        keys = [(mention, k, filters, shortcut) for mention in mentions]
        unique = list(dict.fromkeys(keys))
        missing = [key for key in unique if key not in self._cache]
        fresh: dict[tuple, list[Candidate]] = {}
        if missing:
            sources, within, groups = filters
            allowed = self.allowed_rows(sources, within, groups)
            fresh = dict(zip(missing, self.retrieve([key[0] for key in missing], k, allowed, exact_shortcut=shortcut)))
        results = [[copy(c) for c in (fresh[key] if key in fresh else self._cache[key])] for key in keys]
        if self.cache_size > 0:
            for key in unique:
                if key in self._cache:
                    self._cache.move_to_end(key)
            self._cache.update(fresh)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return results

    def retrieve(
        self,
        mentions: Sequence[str],
        k: int,
        allowed: np.ndarray | None = None,
        exclude: Sequence[set[int]] | None = None,
        exact_shortcut: str | None = None,
    ) -> list[list[Candidate]]:
        """Merged, ranked top ``k`` candidates per mention (no reranking, no NIL).

        Each retriever proposes ``max(k, retrieve_k)`` concepts before the merge.
        ``allowed``: sorted name rows results may come from (see :meth:`allowed_rows`);
        ``exclude``: per mention, name rows to ignore (held-out evaluation);
        ``exact_shortcut``: overrides the linker's (see :meth:`from_kb`).
        """
        shortcut = exact_shortcut or self.exact_shortcut
        if shortcut not in EXACT_SHORTCUTS:
            raise ValueError(f"exact_shortcut must be one of {EXACT_SHORTCUTS}, not {shortcut!r}")
        if exclude is None:
            unique = list(dict.fromkeys(mentions))
            positions = {mention: i for i, mention in enumerate(unique)}
            ranked = self._retrieve_unique(unique, k, allowed, None, shortcut)
            return [[copy(c) for c in ranked[positions[mention]]] for mention in mentions]
        return self._retrieve_unique(list(mentions), k, allowed, exclude, shortcut)

    def _retrieve_unique(
        self, mentions: list[str], k: int, allowed: np.ndarray | None, exclude: Sequence[set[int]] | None, shortcut: str
    ) -> list[list[Candidate]]:
        if not mentions:
            return []
        dense_queries = sparse_queries = None
        dense_hits = sparse_hits = None
        depth = max(k, self.retrieve_k)
        exact_rows = [
            self._exact_rows(mention, allowed, exclude[i] if exclude else set()) if self.exact_boost else []
            for i, mention in enumerate(mentions)
        ]
        exact_sets = [{self.table.concept_ids[row] for row in rows} for rows in exact_rows]
        if self.dense is not None:
            skip = shortcut == "sparse" and self.sparse is not None
            searched = [i for i, rows in enumerate(exact_rows) if not (skip and rows)]
            dense_queries = self._dense_queries(mentions, searched, exact_rows if shortcut != "none" else None)
            dense_hits = [None] * len(mentions)
            if searched:
                found = search_concepts(
                    self.dense, dense_queries[searched], self.table, depth, allowed, [exclude[i] for i in searched] if exclude else None
                )
                for i, hits in zip(searched, found):
                    dense_hits[i] = hits
        if self.sparse is not None:
            sparse_queries = self.sparse.encode(mentions)
            sparse_hits = search_concepts(self.sparse, sparse_queries, self.table, depth, allowed, exclude)
        return self._merge_and_rank(mentions, k, exact_sets, dense_hits, dense_queries, sparse_hits, sparse_queries, exclude)

    def _merge_and_rank(
        self, mentions: list[str], k: int, exact_sets: list[set[str]], dense_hits: list | None, dense_queries,
        sparse_hits: list | None, sparse_queries, exclude: Sequence[set[int]] | None,
    ) -> list[list[Candidate]]:
        """Adds exact-name concepts to the leading retriever's hits, scores every concept a retriever
        did not propose with that retriever (one batched call each), then merges and ranks."""
        dense_missing: list[list[str]] = [[] for _ in mentions]
        sparse_missing: list[list[str]] = [[] for _ in mentions]
        extras = []  # per mention: exact-name concepts neither retriever proposed, added to the leading one
        for i in range(len(mentions)):
            dense_i = None if dense_hits is None else dense_hits[i]
            sparse_i = None if sparse_hits is None else sparse_hits[i]
            lead = dense_i if dense_i is not None else sparse_i
            extra = [c for c in exact_sets[i] if c not in lead and (sparse_i is None or c not in sparse_i)]
            extras.append(extra)
            if dense_i is None:
                sparse_missing[i] = list(extra)
                continue
            dense_missing[i] = extra + ([c for c in sparse_i if c not in dense_i] if sparse_i is not None else [])
            if sparse_i is not None:
                sparse_missing[i] = [c for c in dense_i if c not in sparse_i] + extra
        dense_filled = self._score_concepts(self.dense, dense_queries, dense_missing, exclude)
        sparse_filled = self._score_concepts(self.sparse, sparse_queries, sparse_missing, exclude)
        results = []
        for i, extra in enumerate(extras):
            dense_i = None if dense_hits is None else dense_hits[i]
            sparse_i = None if sparse_hits is None else sparse_hits[i]
            lead, filled = (dense_i, dense_filled[i]) if dense_i is not None else (sparse_i, sparse_filled[i])
            lead.update((c, filled.pop(c)) for c in extra)
            merged = merge(dense_i, sparse_i, dense_filled[i], sparse_filled[i], self.dense_weight, self.merge_method)
            results.append(rank(merged, exact_sets[i], self.table, self.preferred_name, k))
        return results

    def _score_concepts(
        self, index, queries, requests: list[list[str]], exclude: Sequence[set[int]] | None
    ) -> list[dict[str, tuple[float, int]]]:
        """Per query, the exact (best score, best row) over each requested concept's names, not excluded."""
        owners, chunks, wanted = [], [], []
        for i, concept_ids in enumerate(requests):
            excluded = exclude[i] if exclude else None
            for concept_id in concept_ids:
                rows = self.table.rows_by_concept[concept_id]
                if excluded:
                    rows = np.asarray([r for r in rows.tolist() if r not in excluded], dtype=np.int64)
                owners.append(i)
                chunks.append(rows)
                wanted.append(concept_id)
        filled: list[dict[str, tuple[float, int]]] = [{} for _ in requests]
        if not chunks:
            return filled
        lengths = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
        rows = np.concatenate(chunks)
        scores = index.score_pairs(queries, np.repeat(np.asarray(owners, dtype=np.int64), lengths), rows)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        best = np.maximum.reduceat(scores, starts)
        ties = np.flatnonzero(scores == np.repeat(best, lengths))
        best_rows = rows[ties[np.searchsorted(ties, starts)]]
        for owner, concept_id, score, row in zip(owners, wanted, best.tolist(), best_rows.tolist()):
            filled[owner][concept_id] = (score, row)
        return filled

    def _exact_rows(self, mention: str, allowed: np.ndarray | None, excluded: set[int]) -> list[int]:
        """Rows of the names the mention is, once normalized, among the ``allowed`` (sorted) rows."""
        rows = [row for row in self.table.rows_by_normalized.get(normalize(mention), ()) if row not in excluded]
        if allowed is None or not rows:
            return rows
        at = np.minimum(np.searchsorted(allowed, rows), len(allowed) - 1)
        return [row for row, kept in zip(rows, (allowed[at] == rows).tolist()) if kept]

    def _dense_queries(self, mentions: list[str], searched: list[int], exact_rows: list[list[int]] | None) -> np.ndarray:
        """Query vectors of the ``searched`` mentions (other rows stay zero). With ``exact_rows`` (the
        "vector" and "sparse" shortcuts) a mention that is a KB name reuses that name's stored vector
        instead of running the encoder: the same text once normalized."""
        queries = np.zeros((len(mentions), self.encoder.dim), dtype=np.float32)
        reused = [i for i in searched if exact_rows and exact_rows[i]]
        encoded = [i for i in searched if not (exact_rows and exact_rows[i])]
        if encoded:
            queries[encoded] = self.encoder.encode([mentions[i] for i in encoded], self.batch_size)
        if reused:
            queries[reused] = self.dense.vectors(np.asarray([exact_rows[i][0] for i in reused], dtype=np.int64))
        return queries

    # -- filters and lookups ------------------------------------------------
    def allowed_rows(
        self,
        sources: Sequence[str] | None = None,
        within: str | Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> np.ndarray | None:
        """Sorted name rows of the concepts that pass the filters (None: no filter)."""
        if not sources and not within and not groups:
            return None
        key_within = (within,) if isinstance(within, str) else tuple(within or ())
        return self._allowed(tuple(sources or ()), key_within, tuple(groups or ()))

    def _filtered_rows(self, sources: tuple[str, ...], within: tuple[str, ...], groups: tuple[str, ...]) -> np.ndarray:
        """:meth:`_allowed_rows`, through the rows saved beside the indexes (see :mod:`clinlink.linking.filters`)."""
        return self.filter_cache.rows((sources, within, groups), lambda: self._allowed_rows(sources, within, groups))

    def _allowed_rows(self, sources: tuple[str, ...], within: tuple[str, ...], groups: tuple[str, ...]) -> np.ndarray:
        wanted_sources = {XREF_ALIASES.get(s.upper(), s.upper()) for s in sources}
        subtree: set[str] | None = None
        if within:
            subtree = set()
            for top in within:
                root = self.kb.require(top)
                subtree |= self.kb.descendants(root) | {root}
        keep = []
        for concept_id in self.table.rows_by_concept:
            concept = self.kb.get(concept_id)
            if wanted_sources and concept.source.upper() not in wanted_sources:
                continue
            if groups and concept.group not in groups:
                continue
            if subtree is not None and concept_id not in subtree:
                continue
            keep.append(concept_id)
        return self.table.rows_of(keep)

    def preferred_name(self, concept_id: str) -> str:
        return self.kb.get(concept_id).name

    def codes(self, concept_id: str) -> dict[str, list[str]]:
        """The concept's codes per vocabulary (UMLS, SNOMEDCT, ICD10CM, HPO), through cross-references."""
        return self.kb.codes(concept_id)


def _build_dense(table: NameTable, encoder: TextEncoder, kind: str) -> DenseIndex:
    """Takes the names' vectors shipped with the encoder and encodes the others on all cores (the pipeline
    may have set torch to one thread for linking)."""
    import torch

    started = time.perf_counter()
    unique = list(dict.fromkeys(table.names))
    position = {name: i for i, name in enumerate(unique)}
    threads = torch.get_num_threads()
    torch.set_num_threads(max(threads, os.cpu_count() or 1))
    try:
        vectors = name_vectors(encoder, unique)[[position[name] for name in table.names]]
    finally:
        torch.set_num_threads(threads)
    metadata = {
        "model": str(encoder.model_dir),
        "fingerprint": encoder.fingerprint,
        "pooling": encoder.pooling,
        "max_length": encoder.max_length,
    }
    index = DenseIndex.build(vectors, metadata, kind=kind)
    index.metadata["build_seconds"] = round(time.perf_counter() - started, 2)
    return index


def _build_sparse(table: NameTable, ngram_range: tuple[int, int]) -> SparseIndex:
    started = time.perf_counter()
    index = SparseIndex.build(table.normalized, ngram_range, normalized=True)
    index.metadata["build_seconds"] = round(time.perf_counter() - started, 2)
    return index


def _saved_table(directories: set[Path]) -> NameTable | None:
    """The name table saved with an index built from this very KB (``directories``: those whose identity matches)."""
    for directory in sorted(directories):
        try:
            return NameTable.load(directory)
        except KnowledgeBaseError as error:
            log.warning("%s, rebuilding", error)
    return None


def _record_identity(directory: Path, identity: dict | None) -> None:
    """Records ``identity`` in an index directory saved without one (best effort: a read-only cache stays as it is)."""
    if identity is None:
        return
    try:
        record_identity(directory, identity)
    except OSError as error:
        log.debug("%s: identity not recorded (%s)", directory, error)


def _cached(
    directory: Path | None, table: NameTable, load: Callable, build: Callable, rebuild: bool, kb: KnowledgeBase,
    identity: dict | None, current: bool, normalized_index: bool = False,
):
    """Load the index in ``directory`` if it was built from the same names (``current``: recorded with this
    KB's ``identity``; else compared row by row, and for an index of ``normalized_index`` names also by the
    same normalization code), else build (and save) it."""
    if directory is not None and directory.is_dir() and not rebuild:
        if current:
            return load(directory)
        try:
            saved = NameTable.load(directory)
            stale = normalized_index and not saved.normalizer_current
            if saved.same_rows(table) and not stale:
                table.adopt_normalized(saved)
                _record_identity(directory, identity)
                return load(directory)
            log.info("%s: built from other names, rebuilding", directory)
        except KnowledgeBaseError as error:
            log.warning("%s, rebuilding", error)
    with progress.step(f"building the linker's index in {directory} (once)" if directory else "building an in-memory index"):
        index = build()
    if directory is None:
        return index
    try:
        with atomic_directory(directory) as staging:
            index.save(staging)
            table.save(staging, identity)
    except OSError as error:
        log.warning("%s: cannot cache the index here (%s); keeping it in memory", directory, error.strerror or error)
        return index
    if kb.path is not None and Path(directory).is_relative_to(Path(kb.path)):
        artifact = str(directory.relative_to(kb.path))
        register_artifact(kb.path, artifact, {"dir": artifact, **index.metadata})
    return load(directory)
