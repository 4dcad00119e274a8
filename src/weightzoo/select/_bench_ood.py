"""The domain-shift part of the benchmark: ZooD ranking and ensemble out of domain.

DomainBed-style: the target half of a dataset is split into training domains
(each a real transformation from ``weightzoo.data.domains``); the test split
under an unseen transformation is the out-of-domain test. Ground truth of the
ranking: each candidate's out-of-domain accuracy with a logistic-regression
head on its standardized features, trained on all training domains (the same
head ZooD's ensemble uses, so ensemble and single models compare fairly).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from weightzoo.data.domains import apply_shift
from weightzoo.select._candidate_tasks import TaskSpec, load_task
from weightzoo.select._rank_methods import extract_all, score_candidates
from weightzoo.select.candidates import CandidateZoo
from weightzoo.select.ranking import weighted_tau
from weightzoo.select.zood import ZooDEnsemble, zood_rank


class OODSettings(BaseModel):
    """The domain-shift task.

    Attributes:
        dataset: offline 1x28x28 dataset (its target half is used).
        train_domains: domains seen in training (``weightzoo.data.domains`` specs).
        test_domain: the unseen domain.
        n_per_domain: training examples per domain.
        n_test: out-of-domain test examples.
        top_k: models in ZooD's ensemble.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    dataset: str = "digits28"
    train_domains: tuple[str, ...] = ("identity", "rotate:45", "noise:0.8", "contrast:0.3")
    test_domain: str = "blur:1.0"
    n_per_domain: int = 150
    n_test: int = 400
    top_k: int = 3


def _domain_data(settings: OODSettings, quick: bool):
    n = settings.n_per_domain if not quick else min(settings.n_per_domain, 60)
    task = TaskSpec(name=f"{settings.dataset}-ood", datasets=(settings.dataset,))
    data = load_task(
        task, "target", n_train=n * len(settings.train_domains), n_eval=settings.n_test
    )
    chunks = torch.tensor_split(torch.arange(data.x_train.shape[0]), len(settings.train_domains))
    x = torch.cat([apply_shift(data.x_train[idx], d, seed=i) for i, (idx, d) in
                   enumerate(zip(chunks, settings.train_domains, strict=True))])  # fmt: skip
    y = torch.cat([data.y_train[idx] for idx in chunks]).numpy()
    domains = np.concatenate([np.full(len(idx), i) for i, idx in enumerate(chunks)])
    x_test = apply_shift(data.x_test, settings.test_domain, seed=len(settings.train_domains))
    return x, y, domains, x_test, data.y_test.numpy()


def _single_accuracy(
    train: np.ndarray, y: np.ndarray, test: np.ndarray, y_test: np.ndarray
) -> float:
    scaler = StandardScaler().fit(train)
    head = LogisticRegression(C=1.0, max_iter=2000, random_state=0)
    head.fit(scaler.transform(train), y)
    return float((head.predict(scaler.transform(test)) == y_test).mean())


def run_ood(
    zoo: CandidateZoo, settings: OODSettings, scores: Sequence[str], *, quick: bool
) -> pd.DataFrame:
    """Rank and ensemble the zoo on the domain-shift task.

    Returns:
        One row per entry: ``entry``, ``kind`` (``ranking`` or ``accuracy``),
        ``weighted_tau`` (rankings), ``ood_accuracy``, ``seconds``, ``detail``.
    """
    x, y, domains, x_test, y_test = _domain_data(settings, quick)
    extractors = {n: zoo.extractor(n) for n in zoo.names}
    train = extract_all(extractors, x)
    test = {n: e.extract(x_test).features for n, e in extractors.items()}
    feats = {n: ex.out.features for n, ex in train.items()}
    accuracy = {n: _single_accuracy(feats[n], y, test[n], y_test) for n in zoo.names}
    truth = np.array([accuracy[n] for n in zoo.names])
    rows = []

    start = time.perf_counter()
    table = zood_rank(feats, y, domains)
    zood_seconds = time.perf_counter() - start + sum(ex.seconds for ex in train.values())
    zood_scores = dict(zip(table["model"], table["score"], strict=True))
    zvec = np.array([zood_scores[n] for n in zoo.names])
    rows.append({"entry": "zood", "kind": "ranking", "weighted_tau": weighted_tau(truth, zvec),
                 "seconds": zood_seconds, "detail": f"top-1: {table['model'].iloc[0]}"})  # fmt: skip
    # Each term alone shows which half of ZooD's score ranks.
    disc = dict(zip(table["model"], table["discriminability"], strict=True))
    dvec = np.array([disc[n] for n in zoo.names])
    rows.append({"entry": "zood (discriminability only)", "kind": "ranking",
                 "weighted_tau": weighted_tau(truth, dvec), "seconds": zood_seconds,
                 "detail": f"top-1: {zoo.names[int(np.argmax(dvec))]}"})  # fmt: skip
    stab = dict(zip(table["model"], table["stability"], strict=True))
    svec = np.array([stab[n] for n in zoo.names])
    rows.append({"entry": "zood (stability only)", "kind": "ranking",
                 "weighted_tau": weighted_tau(truth, svec), "seconds": zood_seconds,
                 "detail": f"top-1: {zoo.names[int(np.argmax(svec))]}"})  # fmt: skip
    top1 = {"zood": table["model"].iloc[0]}
    score_vectors = {}
    for method in scores:
        vec, seconds = score_candidates(method, train, y)
        filled = np.where(
            np.isfinite(vec), vec, np.nanmin(vec) - 1 if np.isfinite(vec).any() else 0
        )
        best = zoo.names[int(np.argmax(filled))]
        top1[method] = best
        score_vectors[method] = dict(zip(zoo.names, filled.tolist(), strict=True))
        rows.append({"entry": method, "kind": "ranking", "weighted_tau": weighted_tau(truth, filled),
                     "seconds": seconds, "detail": f"top-1: {best}"})  # fmt: skip

    start = time.perf_counter()
    ensemble = ZooDEnsemble(top_k=settings.top_k).fit(feats, y, scores=zood_scores)
    ens_acc = ensemble.score({m: test[m] for m in ensemble.models_}, y_test)
    kept = ", ".join(f"{m} ({k} features)" for m, k in ensemble.selected_by_model().items())
    rows.append({"entry": f"zood ensemble (top-{settings.top_k})", "kind": "accuracy",
                 "ood_accuracy": ens_acc, "seconds": time.perf_counter() - start + zood_seconds,
                 "detail": kept})  # fmt: skip
    if "logme" in score_vectors:
        # The same feature-selection ensemble over LogME's top-K: separates the
        # ensemble's value from the ranking that picks its members.
        by_logme = ZooDEnsemble(top_k=settings.top_k).fit(feats, y, scores=score_vectors["logme"])
        rows.append({"entry": f"feature-selection ensemble of LogME's top-{settings.top_k}",
                     "kind": "accuracy", "ood_accuracy": by_logme.score(
                         {m: test[m] for m in by_logme.models_}, y_test),
                     "detail": ", ".join(by_logme.models_)})  # fmt: skip
    best = max(accuracy, key=accuracy.get)
    rows.append({"entry": "best single model (oracle)", "kind": "accuracy",
                 "ood_accuracy": accuracy[best], "detail": best})  # fmt: skip
    for method in ("zood", "logme"):
        if method in top1:
            rows.append({"entry": f"{method} top-1 model", "kind": "accuracy",
                         "ood_accuracy": accuracy[top1[method]], "detail": top1[method]})  # fmt: skip
    out = pd.DataFrame(rows)
    out.attrs["domains"] = {"train": list(settings.train_domains), "test": settings.test_domain,
                            "n_train": int(len(y)), "n_test": int(len(y_test))}  # fmt: skip
    return out
