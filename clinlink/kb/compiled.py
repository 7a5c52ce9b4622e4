"""The compiled knowledge base: a directory with a manifest, the concepts and later indexes.

Layout::

    <kb dir>/manifest.json   sources (files, versions, sha256, options, counts), artifacts
    <kb dir>/concepts.bin    the concepts, memory-mapped and read on demand (:mod:`clinlink.kb.store`)
    <kb dir>/<artifact>/...  indexes added by later stages (see :func:`register_artifact`)
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import json
import logging
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clinlink import progress
from clinlink.errors import ConfigError, KnowledgeBaseError, SourceFormatError
from clinlink.kb.concept import Concept
from clinlink.kb.config import OntologyConfig, read_config
from clinlink.kb.knowledge_base import KnowledgeBase
from clinlink.kb.loaders import loader
from clinlink.kb.store import encode_store, open_store

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
CONCEPTS = "concepts.bin"
LEGACY_CONCEPTS = "concepts.pkl"  # format 1's single pickle, removed when a KB is rebuilt


def clinlink_home() -> Path:
    """Root of clinlink's caches: ``$CLINLINK_HOME`` or the user cache dir."""
    override = os.environ.get("CLINLINK_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("clinlink"))


def default_kb_dir(config_name: str = "default") -> Path:
    return clinlink_home() / "kb" / config_name


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A staging folder beside ``target``: filled in the block, it replaces ``target`` by a rename when the
    block ends without error, and is removed otherwise, so readers never see a half-written folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def keep_newest(entries: Iterable[Path], keep: int) -> None:
    """Delete all but the ``keep`` most recently modified of ``entries`` (files or folders)."""
    for stale in sorted(entries, key=lambda entry: entry.stat().st_mtime, reverse=True)[keep:]:
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _file_record(path: Path, known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Path, size, mtime and sha256 of an input file; the sha256 of the last build is
    reused when size and mtime are unchanged (hashing a UMLS release takes minutes)."""
    if path.is_dir():
        raise SourceFormatError(path, "is a directory, expected a file")
    try:
        stat = path.stat()
    except FileNotFoundError as error:
        raise SourceFormatError(path, "file not found") from error
    except OSError as error:
        raise SourceFormatError(path, f"cannot read: {error.strerror or error}") from error
    previous = known.get(str(path))
    if previous and previous.get("size") == stat.st_size and previous.get("mtime_ns") == stat.st_mtime_ns:
        digest = previous["sha256"]
    else:
        try:
            digest = sha256_file(path)
        except OSError as error:
            raise SourceFormatError(path, f"cannot read: {error.strerror or error}") from error
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}


def _source_fingerprint(config: OntologyConfig, manifest: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    known = {f["path"]: f for s in (manifest or {}).get("sources", []) for f in s.get("files", [])}
    fingerprints = []
    for source in config.sources:
        path = source.resolved_path()
        module = loader(source.type)
        files = [_file_record(Path(f), known) for f in module.input_files(path)]
        fingerprints.append(
            {"name": source.name, "type": source.type, "path": str(path), "options": source.options, "files": files}
        )
    return fingerprints


def _identity(fingerprints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What decides staleness: sources, options and file contents (not mtimes)."""
    return [
        {k: s[k] for k in ("name", "type", "path", "options")}
        | {"files": [{k: f.get(k) for k in ("path", "size", "sha256")} for f in s["files"]]}
        for s in fingerprints
    ]


def read_manifest(kb_dir: Path) -> dict[str, Any]:
    path = Path(kb_dir) / MANIFEST
    if not path.exists():
        raise KnowledgeBaseError(f"{path}: no compiled knowledge base here (run 'clinlink kb build')")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise KnowledgeBaseError(f"{path}: unreadable manifest ({error}); rebuild with 'clinlink kb build'") from error
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise KnowledgeBaseError(f"{path}: format {found} is not {FORMAT_VERSION}; rebuild with 'clinlink kb build'")
    concepts = manifest.get("artifacts", {}).get("concepts") if isinstance(manifest.get("artifacts"), dict) else None
    if not isinstance(manifest.get("sources"), list) or not isinstance(concepts, dict) or not {"file", "sha256"} <= set(concepts):
        raise KnowledgeBaseError(f"{path}: manifest lacks its sources or concepts entry; rebuild with 'clinlink kb build'")
    return manifest


def is_stale(kb_dir: Path, config: OntologyConfig) -> bool:
    """True when the KB is missing or any input file or option changed since it was built."""
    try:
        manifest = read_manifest(kb_dir)
        built = _identity(manifest["sources"])
    except (KnowledgeBaseError, KeyError, TypeError):
        return True
    return built != _identity(_source_fingerprint(config, manifest))


def _check_options(module: Any, source_name: str, path: Path, options: dict[str, Any]) -> None:
    """Unknown loader options are a :class:`ConfigError`, not a ``TypeError`` deep in a build."""
    try:
        inspect.signature(module.load).bind(path, **options)
    except TypeError as error:
        raise ConfigError(f"source {source_name!r}: {error}") from error


def build_kb(config: str | Path | OntologyConfig | None = None, out: Path | None = None, force: bool = False) -> Path:
    """Compile the sources of an ontology config into ``out``; skip when nothing changed."""
    config = config if isinstance(config, OntologyConfig) else read_config(config)
    out = Path(out) if out else default_kb_dir(config.name)
    try:
        previous = read_manifest(out)
    except KnowledgeBaseError:
        previous = None
    fingerprints = _source_fingerprint(config, previous)
    if not force and previous is not None and _identity(previous["sources"]) == _identity(fingerprints):
        log.info("knowledge base at %s is up to date", out)
        return out
    started = time.perf_counter()
    concepts: list[Concept] = []
    names = ", ".join(source.name for source in config.sources)
    with progress.step(f"compiling the knowledge base {config.name!r} ({names}) into {out} (once)"):
        for source, fingerprint in zip(config.sources, fingerprints):
            module = loader(source.type)
            _check_options(module, source.name, source.resolved_path(), source.options)
            loaded = module.load(source.resolved_path(), **source.options)
            fingerprint["version"] = module.version(source.resolved_path())
            fingerprint["count"] = len(loaded)
            concepts.extend(loaded)
        kb = KnowledgeBase(concepts)
        payload = encode_store(kb, *kb.lookups())
        atomic_write_bytes(out / CONCEPTS, payload)
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": config.name,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - started, 2),
        "sources": fingerprints,
        "counts": _counts(kb),
        "artifacts": {"concepts": {"file": CONCEPTS, "sha256": hashlib.sha256(payload).hexdigest()}},
    }
    atomic_write_bytes(out / MANIFEST, json.dumps(manifest, indent=2).encode())
    (out / LEGACY_CONCEPTS).unlink(missing_ok=True)
    log.info("compiled %d concepts into %s", len(kb), out)
    return out


def _counts(kb: KnowledgeBase) -> dict[str, int]:
    counts: dict[str, int] = {"concepts": len(kb), "names": 0}
    for concept in kb:
        counts[f"concepts:{concept.source}"] = counts.get(f"concepts:{concept.source}", 0) + 1
        counts["names"] += len(concept.names)
    return counts


def load_compiled(kb_dir: Path, verify: bool = True) -> KnowledgeBase:
    """Load a compiled KB; a missing, corrupted or foreign artifact raises :class:`KnowledgeBaseError`.

    The concepts file is memory-mapped: only its header is read here, each concept on first use.
    """
    kb_dir = Path(kb_dir)
    manifest = read_manifest(kb_dir)
    path = kb_dir / manifest["artifacts"]["concepts"]["file"]
    try:
        with open(path, "rb") as handle:
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as error:  # ValueError: an empty file cannot be mapped
        reason = getattr(error, "strerror", None) or error
        raise KnowledgeBaseError(f"{path}: cannot read ({reason}); rebuild with 'clinlink kb build'") from error
    if verify and hashlib.sha256(buffer).hexdigest() != manifest["artifacts"]["concepts"]["sha256"]:
        raise KnowledgeBaseError(f"{path}: checksum does not match the manifest (corrupted); rebuild with --force")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the header's many small objects load 5x faster without the cyclic GC
    try:
        header, concepts = open_store(path, buffer)
    finally:
        if gc_was_enabled:
            gc.enable()
    kb = KnowledgeBase.from_store(concepts, header.redirects, header.xref_index, sources={s["name"]: s for s in manifest["sources"]})
    kb.path = kb_dir
    kb.manifest = manifest
    return kb


def load_kb(path: str | Path | None = None, config: str | Path | None = None, build: bool = True) -> KnowledgeBase:
    """Load a compiled knowledge base.

    With no ``path``, the KB of ``config`` (default: the packaged ``default`` config,
    HPO + ICD-10-CM) in the cache dir is used, compiled first if it is missing
    or stale and ``build`` is true.
    """
    if path is not None:
        return load_compiled(Path(path))
    ontology = read_config(config)
    kb_dir = default_kb_dir(ontology.name)
    if build:
        build_kb(ontology, kb_dir)
    elif (kb_dir / MANIFEST).exists() and is_stale(kb_dir, ontology):
        raise KnowledgeBaseError(f"{kb_dir}: out of date with the inputs of {ontology.name!r}; run 'clinlink kb build'")
    return load_compiled(kb_dir)


def register_artifact(kb_dir: Path, name: str, metadata: dict[str, Any]) -> None:
    """Record an artifact (e.g. a dense index) that a later stage wrote into the KB dir."""
    manifest = read_manifest(kb_dir)
    manifest.setdefault("artifacts", {})[name] = metadata
    atomic_write_bytes(Path(kb_dir) / MANIFEST, json.dumps(manifest, indent=2).encode())


def source_summary(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source: name, type, version, count and files, for ``kb info``."""
    return [
        {k: source.get(k) for k in ("name", "type", "version", "count", "path")} | {"files": source["files"]}
        for source in manifest.get("sources", [])
    ]

