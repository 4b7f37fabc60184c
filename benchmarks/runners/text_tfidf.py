"""TF-IDF + logistic regression (scikit-learn) on a labelled split; runs in the ``sklearn``
venv. Reads ``--data`` (JSON: ``train``, ``val``, ``test`` lists of ``[text, label]``), picks
the regularisation ``C`` on the validation split, prints one JSON line with test accuracy.
``--analyzer word`` counts word 1-2 grams, ``char_wb`` character 1-4 grams inside words."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--analyzer", choices=["word", "char_wb"], default="word")
    args = p.parse_args()
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    texts = {k: [t for t, _ in v] for k, v in data.items()}
    labels = {k: [y for _, y in v] for k, v in data.items()}
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer=args.analyzer, sublinear_tf=True,
                                 ngram_range=(1, 2) if args.analyzer == "word" else (1, 4))
    train = vectorizer.fit_transform(texts["train"])
    best = None
    for c in (1.0, 10.0, 100.0):
        model = LogisticRegression(C=c, max_iter=3000).fit(train, labels["train"])
        val = accuracy_score(labels["val"], model.predict(vectorizer.transform(texts["val"])))
        if best is None or val > best[0]:
            best = (val, c, model)
    val_acc, c, model = best
    predicted = model.predict(vectorizer.transform(texts["test"]))
    print(json.dumps({"test_acc": accuracy_score(labels["test"], predicted),
                      "test_f1_macro": f1_score(labels["test"], predicted, average="macro"),
                      "val_acc": val_acc, "C": c, "seconds": time.perf_counter() - start,
                      "sklearn": sklearn.__version__}))


if __name__ == "__main__":
    main()
