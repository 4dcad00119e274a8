"""Property prediction from weights: tasks, splits by model, metrics, probes,
end-to-end training, and the in-distribution / cross-dataset /
cross-architecture benchmarks.

Typical use::

    from weightzoo.predict import train_predictor, evaluate_predictor
    predictor, metrics = train_predictor("zoo", task="test_acc", encoder="sne", protocol="e2e")
    predictor.save("sne_test_acc")
"""

from weightzoo.predict.api import embed_zoo, evaluate_predictor, train_predictor
from weightzoo.predict.benchmark import (
    BenchmarkConfig,
    BenchmarkResult,
    load_benchmark_config,
    run_benchmark,
)
from weightzoo.predict.e2e import E2EConfig, train_end_to_end
from weightzoo.predict.metrics import accuracy, kendall_tau, r2, score_task
from weightzoo.predict.predictor import PropertyPredictor, fit_probe_predictor
from weightzoo.predict.probe import PROBES, BoostedProbe, LinearProbe, build_probe
from weightzoo.predict.splits import ModelSplit, split_across_zoos, split_by_model
from weightzoo.predict.tasks import TASKS, Task, get_task, task_targets

__all__ = [
    "PROBES",
    "TASKS",
    "BenchmarkConfig",
    "BenchmarkResult",
    "BoostedProbe",
    "E2EConfig",
    "LinearProbe",
    "ModelSplit",
    "PropertyPredictor",
    "Task",
    "accuracy",
    "build_probe",
    "embed_zoo",
    "evaluate_predictor",
    "fit_probe_predictor",
    "get_task",
    "kendall_tau",
    "load_benchmark_config",
    "r2",
    "run_benchmark",
    "score_task",
    "split_across_zoos",
    "split_by_model",
    "task_targets",
    "train_end_to_end",
    "train_predictor",
]
