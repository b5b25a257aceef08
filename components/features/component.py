"""KFP wrappers of the feature stage: thin, each body imports and calls one function.

Tables stay in the lakehouse; artifacts carry snapshot refs and URIs in `.metadata`.
Wire them as apply -> materialize and apply -> training_set (the registry artifact orders them).
"""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def features_apply_op(gold: Input[Dataset], registry: Output[Artifact], env: str = "local"):
    """Register the Feast definitions on the gold snapshots named in `gold.metadata` (else the latest)."""
    from components.features.kfp_io import run_apply_op

    run_apply_op(gold, registry, env=env)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def materialize_op(registry: Input[Artifact], metrics: Output[Metrics], env: str = "local", full: bool = False):
    """Load the registered gold snapshots into the online store (incremental unless `full`)."""
    from components.features.kfp_io import run_materialize_op

    run_materialize_op(metrics, env=env, full=full)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def training_set_op(registry: Input[Artifact], training_set: Output[Dataset], env: str = "local",
                    service: str = "ranker_v1"):
    """Point-in-time training set of `service`; metadata: ref, snapshot_id, uri, rows, features."""
    from components.features.kfp_io import run_training_set_op

    run_training_set_op(training_set, env=env, service=service)
