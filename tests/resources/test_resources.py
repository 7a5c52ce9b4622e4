"""One resolver for packaged data: names -> packaged files, paths -> the user's, clear errors otherwise."""

import re
from pathlib import Path

import pytest

import clinlink
from clinlink.errors import ConfigError
from clinlink.kb.config import find_config, read_config
from clinlink.linking.encoder import DEFAULT_BI_ENCODER, default_model_dir, model_dir
from clinlink.pipeline import find_pipeline, read_pipeline_config
from clinlink.resources import LABEL_SET, MODEL, ONTOLOGY, PIPELINE, known, packaged_dir, resolve
from clinlink.similarity.labels import label_set_path, load_label_set

PACKAGE = Path(clinlink.__file__).parent


def test_packaged_resources_live_inside_the_package():
    for kind in (PIPELINE, LABEL_SET, ONTOLOGY, MODEL):
        assert packaged_dir(kind).is_relative_to(PACKAGE)
    assert {"clinical", "radiology", "phenotype"} <= set(known(PIPELINE))
    assert {"chestxray14", "chexpert"} <= set(known(LABEL_SET))
    assert {"default", "hpo"} <= set(known(ONTOLOGY))
    assert {"bi-encoder", "cross-encoder"} <= set(known(MODEL))


def test_every_packaged_config_reads():
    for name in known(PIPELINE):
        assert read_pipeline_config(find_pipeline(name))["components"]
    for name in known(LABEL_SET):
        assert load_label_set(name).labels
    for name in known(ONTOLOGY):
        assert read_config(name).sources


def test_names_and_paths_resolve_alike(tmp_path):
    assert find_pipeline(None) == find_pipeline("clinical") == packaged_dir(PIPELINE) / "clinical.yaml"
    assert find_config(None) == packaged_dir(ONTOLOGY) / "default.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text((packaged_dir(LABEL_SET) / "chexpert.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert label_set_path(own) == own and load_label_set(own).labels
    saved_pipeline = tmp_path / "saved"
    saved_pipeline.mkdir()
    assert find_pipeline(saved_pipeline) == saved_pipeline  # a directory written by nlp.to_disk


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: find_pipeline("clinicl"), r"no pipeline named 'clinicl'; packaged: clinical, phenotype, radiology"),
        (lambda: label_set_path("chexpret"), r"no label set named 'chexpret'; packaged: chestxray14, chexpert"),
        (lambda: find_config("umls"), r"no ontology config named 'umls'; packaged: default, hpo"),
        (lambda: find_config("missing/my-umls.yaml"), r"missing/my-umls.yaml: ontology config not found"),
        (lambda: resolve(LABEL_SET, "../labels/chexpert"), r"not found"),
    ],
)
def test_unknown_names_list_the_packaged_ones(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_a_directory_is_no_label_set(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        label_set_path(tmp_path)


def test_models_resolve_by_name_or_path(tmp_path):
    packaged = model_dir(DEFAULT_BI_ENCODER)
    assert packaged == packaged_dir(MODEL) / "bi-encoder" and default_model_dir() == packaged
    assert model_dir(tmp_path) == tmp_path.resolve()
    assert model_dir("sentence-transformers/not-here") is None  # left to the hub cache lookup


def test_no_module_reaches_outside_the_package_through_its_file():
    """Run-time data is read through clinlink.resources, never ``Path(__file__).parents[...]``."""
    outward = re.compile(r"__file__\)?(\.resolve\(\))?\.(parents\b|parent\.parent\b)")
    offenders = [
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if outward.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_data_file_is_declared_package_data():
    """What the package reads at run time must reach the wheel: pyproject's package-data covers every data file."""
    import tomllib

    pyproject = PACKAGE.parent / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("installed package: no pyproject.toml beside it")
    patterns = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["clinlink"]
    declared = {path for pattern in patterns for path in PACKAGE.glob(pattern)}
    data = {path for path in PACKAGE.rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")}
    assert sorted(str(path.relative_to(PACKAGE)) for path in data - declared) == []


def test_the_suite_never_writes_into_the_user_cache():
    from clinlink.kb.compiled import clinlink_home
    from tests.conftest import TEST_HOME

    assert clinlink_home() == Path(TEST_HOME)


def test_every_folder_of_modules_is_a_regular_package():
    """The wheel takes regular packages only (namespaces = false): a folder of modules without __init__.py is left out."""
    folders = {path.parent for path in PACKAGE.rglob("*.py")}
    assert sorted(str(folder.relative_to(PACKAGE)) for folder in folders if not (folder / "__init__.py").is_file()) == []
