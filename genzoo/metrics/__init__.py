"""Evaluation: metrics, feature extractors and reference statistics.

    import genzoo
    report = genzoo.evaluate("runs/dcgan-fashion-mnist", data="fashion-mnist", metrics=["fid", "kid", "prdc"], n=5000)
    report["fid"]                       # a float
    for r in report.results: print(r.name, r.value)   # "FID (fashion-mnist classifier features)" ...

Metrics are registered by name in :data:`genzoo.registry.metrics` (entry-point group
``genzoo.metrics``); feature extractors in :data:`extractors` (group
``genzoo.feature_extractors``). A metric subclasses :class:`Metric` and returns
:class:`Result` objects from an :class:`EvalContext`. See docs/evaluation.md.
"""

from __future__ import annotations

from genzoo.metrics import builtin as _builtin  # noqa: F401  (registers the built-in metrics)
from genzoo.metrics import cas as _cas  # noqa: F401  (registers cas, the classification accuracy score)
from genzoo.metrics.core import EvalContext, EvalReport, Metric, MetricUnavailable, Result
from genzoo.metrics.evaluate import ALL, EvalDuringTraining, evaluate, metric_names
from genzoo.metrics.extractors import FeatureExtractor, default_extractor, extractors, get_extractor

__all__ = [
    "ALL", "EvalContext", "EvalDuringTraining", "EvalReport", "FeatureExtractor", "Metric", "MetricUnavailable",
    "Result", "default_extractor", "evaluate", "extractors", "get_extractor", "metric_names",
]
