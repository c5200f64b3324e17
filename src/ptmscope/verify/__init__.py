"""``ptmscope verify``: re-run a model's claimed evaluation on local data and judge the claim.

Modules: ``data`` (evaluation data, pyarrow), ``metrics`` (metrics and bootstrap, numpy),
``claims`` (claim matching and the verdict rule), ``labels`` (dataset labels to model
ids), ``model`` (finding and safely loading a model; torch and transformers),
``predict`` (batched inference), ``run`` (the library entry points ``verify_model`` and
``verify_snapshot``) and ``results`` (the ``verifications`` table). Only ``model``,
``predict`` and ``run`` at call time import torch and transformers, the optional
``verify`` extra.
"""
