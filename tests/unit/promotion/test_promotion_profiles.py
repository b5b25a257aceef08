"""Cluster profiles: what dev and staging pin must land in the registry prod's ranker reads, through pull requests."""

import pytest

from components.common.config import load_settings


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_requests_copy_into_the_registry_prod_reads(env):
    settings, prod = load_settings(env, environ={}), load_settings("prod", environ={})
    assert settings.promotion.target.tracking_uri == prod.mlflow.tracking_uri != settings.mlflow.tracking_uri
    assert prod.promotion.target is None  # prod promotes within its own registry


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_cluster_profiles_use_pull_requests_and_local_keeps_the_sandbox(env):
    settings = load_settings(env, environ={})
    assert (settings.promotion.forge.kind, settings.promotion.forge.repository) == ("github", "rankops/rankops")
    assert (settings.registry.forge.kind, settings.registry.forge.repository) == ("github", "rankops/rankops")
    assert settings.promotion.git_url.endswith("github.com/rankops/rankops.git")
    local = load_settings("local", environ={})
    assert (local.promotion.forge.kind, local.registry.forge.kind, local.promotion.target) == ("local", "local", None)


def test_a_forge_without_repository_is_refused_naming_the_key(monkeypatch):
    from components.common.config import ConfigError

    monkeypatch.setenv("RANKOPS_PROMOTION__FORGE__KIND", "github")
    with pytest.raises(ConfigError, match="promotion.forge"):
        load_settings("local")


def test_a_forge_without_the_remote_it_merges_on_is_refused(monkeypatch):
    from components.common.config import ConfigError

    monkeypatch.setenv("RANKOPS_PROMOTION__FORGE__KIND", "github")
    monkeypatch.setenv("RANKOPS_PROMOTION__FORGE__REPOSITORY", "rankops/rankops")
    with pytest.raises(ConfigError, match="reads merges from the remote: set git_url"):
        load_settings("local")
