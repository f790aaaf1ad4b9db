"""The failure-signature rules scored on two labelled corpora of failures of Python, Java,
JavaScript/TypeScript, Go, .NET and Ruby tools, each labelled with its cause, near-misses
that must stay apart included: `failure_corpus/` (220 failures, 44 causes, written by hand
as the tools print them, by someone other than the rules' author) and `failure_templates`
(177 failures, 33 causes, filled-in templates). Pairwise precision
(of the pairs put in one group, how many share a cause) and recall (of the pairs sharing
a cause, how many were put in one group) must both be at least 0.95."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any

import pytest

from runhub.services.failure_signature import signature

from . import failure_corpus, failure_templates
from .failure_corpus import CorpusFailure

TARGET = 0.95


def group_key(failure: CorpusFailure | failure_templates.CorpusFailure) -> str:
    return signature(
        failure.message, failure.text, test_name=failure.test, folder=failure.folder
    ).key


def pairwise_scores(failures: list[Any]) -> tuple[float, float, list[str]]:
    """(precision, recall, the wrong pairs described) over every pair of failures."""
    keys = [group_key(f) for f in failures]
    same_group = same_cause = both = 0
    wrong: list[str] = []
    for (i, a), (j, b) in combinations(enumerate(failures), 2):
        grouped, caused = keys[i] == keys[j], a.cause == b.cause
        same_group += grouped
        same_cause += caused
        both += grouped and caused
        if grouped != caused and len(wrong) < 40:
            verb = "merged" if grouped else "split"
            wrong.append(f"{verb}: {a.cause} / {b.cause}: {keys[i]!r} vs {keys[j]!r}")
    precision = both / same_group if same_group else 1.0
    recall = both / same_cause if same_cause else 1.0
    return precision, recall, wrong


CORPORA = {"hand-written": failure_corpus.load_corpus, "templates": failure_templates.load_corpus}
corpus = pytest.mark.parametrize("load_corpus", list(CORPORA.values()), ids=list(CORPORA))


@corpus
def test_the_corpus_is_big_and_varied_enough(load_corpus: Any) -> None:
    failures = load_corpus()
    causes = Counter(f.cause for f in failures)
    assert len(failures) >= 150 and len(causes) >= 25
    languages = Counter(f.language for f in failures)
    assert set(languages) == {"python", "java", "javascript", "go", "dotnet", "ruby"}
    for language in languages:
        assert len({f.cause for f in failures if f.language == language}) >= 4, language


@corpus
def test_pairwise_precision_and_recall(load_corpus: Any) -> None:
    precision, recall, wrong = pairwise_scores(load_corpus())
    report = "\n".join(wrong)
    assert precision >= TARGET, f"precision {precision:.3f}\n{report}"
    assert recall >= TARGET, f"recall {recall:.3f}\n{report}"


@corpus
def test_each_language_on_its_own(load_corpus: Any) -> None:
    """No language is carried by the others: each scores on its own pairs as well."""
    failures = load_corpus()
    for language in sorted({f.language for f in failures}):
        own = [f for f in failures if f.language == language]
        precision, recall, wrong = pairwise_scores(own)
        report = "\n".join(wrong)
        assert precision >= 0.9 and recall >= 0.9, (
            f"{language}: {precision:.3f}/{recall:.3f}\n{report}"
        )
