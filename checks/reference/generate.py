#!/usr/bin/python3
"""Reference numbers for the checks engine.

Writes small data sets that exercise the edge cases of every check into
checks/testdata/<case>/ (a manifest and its CSV files), and for each of them and
for the example manifests of examples/gitops a golden.json of the numbers that
the reference implementations give:

  drift       scipy.stats.ks_2samp(method='asymp'), scipy.stats.wasserstein_distance,
              scipy.spatial.distance.jensenshannon(base=2), and PSI and Evidently's
              normed Wasserstein distance as SPEC section 3 defines them;
  evaluation  sklearn.metrics;
  fairness    fairlearn's definitions (fairlearn is not packaged by Debian, so they
              are computed with numpy below, as fairlearn computes them);
  contract    pandas, counting what each rule forbids.

It also writes checks/testdata/kstwo.json, scipy.stats.kstwo.sf over every regime
of the Kolmogorov distribution, and checks/testdata/drift.json, the drift
statistics of sample pairs of many sizes.

Run with Debian's /usr/bin/python3 and python3-sklearn, python3-scipy,
python3-pandas and python3-yaml (`make goldens`). The output is deterministic.

Conventions where the libraries leave a choice (SPEC section 3 fixes the rest):
  * Only an empty field is null. Nulls are left out of drift samples; a row whose
    sensitive attribute is null belongs to no group (pandas' groupby, which
    fairlearn uses, drops it).
  * CSV is read with float_precision='round_trip': correctly rounded, as Go's
    parser is.
  * PSI deciles are numpy.quantile(reference, numpy.arange(1, 10) / 10); bins are
    numpy.histogram's over [-inf, deciles..., inf].
  * A value that sklearn or fairlearn would report as 0 (or 1) for a 0/0 is null:
    precision without predicted positives, recall and TPR without positives, FPR
    without negatives, roc_auc with one class, r2 with constant labels
    (r2_score(force_finite=False)), a ratio whose denominator is 0.
  * Equalized odds takes the larger of the TPR and FPR differences that are
    defined; a difference or ratio over groups uses the groups whose rate is
    defined. Disparate impact is null when the reference group has no rows or
    selects no one.
  * A numeric column is judged with Evidently's defaults: the KS p-value (< 0.05)
    when the reference file has at most 1000 rows, else the normed Wasserstein
    distance (>= 0.1); a categorical one with the Jensen-Shannon distance (>= 0.1).
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import scipy.spatial.distance
import scipy.stats
import sklearn
import sklearn.metrics as skm
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TESTDATA = os.path.join(ROOT, "checks", "testdata")
EXAMPLES = os.path.join(ROOT, "examples", "gitops", "models")

PSI_FLOOR = 0.0001
KS_PVALUE, WASSERSTEIN_NORMED, JENSEN_SHANNON = 0.05, 0.1, 0.1
AUTO_KS_ROWS = 1000


def number(v):
    """A finite float, or None where the value is undefined."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------------
# Reading, as modelgate reads: only empty fields are null.

def read_csv(path, columns=None):
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                       usecols=columns, encoding="utf-8-sig")


def numeric(series):
    """The values of a column of numbers, nulls dropped."""
    return pd.to_numeric(series.dropna(), errors="raise").to_numpy(dtype=float)


def floats_exact(series):
    """Parses numbers correctly rounded, as Python's float() does."""
    return np.array([float(v) for v in series.dropna()], dtype=float)


def boolean(v):
    s = str(v).strip().lower()
    if s in ("true", "1", "1.0"):
        return 1
    if s in ("false", "0", "0.0"):
        return 0
    return float(s) if float(s) in (0.0, 1.0) else None


# ---------------------------------------------------------------------------
# Drift.

def psi(ref_counts, cur_counts):
    r = np.asarray(ref_counts, dtype=float) / np.sum(ref_counts)
    c = np.asarray(cur_counts, dtype=float) / np.sum(cur_counts)
    r = np.where(r == 0, PSI_FLOOR, r)
    c = np.where(c == 0, PSI_FLOOR, c)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_drift(ref, cur):
    ks = scipy.stats.ks_2samp(ref, cur, alternative="two-sided", method="asymp")
    w = scipy.stats.wasserstein_distance(ref, cur)
    cuts = np.quantile(ref, np.arange(1, 10) / 10)
    edges = np.concatenate(([-np.inf], cuts, [np.inf]))
    r, _ = np.histogram(ref, edges)
    c, _ = np.histogram(cur, edges)
    return {
        "ks_statistic": number(ks.statistic),
        "ks_pvalue": number(ks.pvalue),
        "psi": psi(r, c),
        "wasserstein": number(w),
        "wasserstein_normed": number(w / max(np.std(ref), 0.001)),
    }


def categorical_drift(ref, cur):
    rc, cc = ref.value_counts(), cur.value_counts()
    cats = sorted(set(rc.index) | set(cc.index))
    r = np.array([rc.get(k, 0) for k in cats], dtype=float)
    c = np.array([cc.get(k, 0) for k in cats], dtype=float)
    return {
        "psi": psi(r, c),
        "jensen_shannon": number(scipy.spatial.distance.jensenshannon(r, c, base=2)),
    }


def drift_section(spec, folder, ref_rows):
    ref_df = read_csv(os.path.join(folder, spec["reference"]))
    cur_df = read_csv(os.path.join(folder, spec["current"]))
    types = {c["name"]: c["type"] for c in spec.get("contract", {}).get("columns", [])}
    columns, drifted = {}, 0
    for name in spec["drift"]["columns"]:
        typ = types.get(name)
        if typ is None:
            try:
                floats_exact(ref_df[name])
                floats_exact(cur_df[name])
                typ = "float"
            except ValueError:
                typ = "string"
        if typ in ("float", "int"):
            ref = floats_exact(ref_df[name])
            # Values of the current data that break the contract's type are left
            # out, as nulls are; the contract reports them.
            cur = np.array([v for v in (typed(x, typ) for x in cur_df[name].dropna()) if v is not None])
            out = {"kind": "numeric", **numeric_drift(ref, cur)}
            if ref_rows <= AUTO_KS_ROWS:
                out["method"] = "ks"
                out["drifted"] = not (out["ks_pvalue"] is not None and out["ks_pvalue"] >= KS_PVALUE)
            else:
                out["method"] = "wasserstein"
                out["drifted"] = not (out["wasserstein_normed"] < WASSERSTEIN_NORMED)
        else:
            ref, cur = ref_df[name].dropna(), cur_df[name].dropna()
            if typ == "bool":
                ref = ref.map(lambda v: "true" if boolean(v) else "false")
                cur = cur.map(lambda v: "true" if boolean(v) == 1 else "false" if boolean(v) == 0 else None).dropna()
            out = {"kind": "categorical", "method": "jensen_shannon", **categorical_drift(ref, cur)}
            out["drifted"] = not (out["jensen_shannon"] < JENSEN_SHANNON)
        columns[name] = out
        drifted += out["drifted"]
    return {"columns": columns, "share_drifted": drifted / len(columns)}


def typed(v, typ):
    f = try_float(v)
    if typ == "int" and f is not None and f != math.trunc(f):
        return None
    return f


def try_float(v):
    try:
        f = float(v)
    except ValueError:
        return None
    return f if math.isfinite(f) and str(v).strip().lower() not in ("nan", "inf", "-inf", "infinity") else None


# ---------------------------------------------------------------------------
# Contract: what each rule forbids, counted with pandas.

def contract_section(spec, folder):
    df = read_csv(os.path.join(folder, spec["current"]))
    rows = len(df)
    violations = {}

    def add(column, rule, mask):
        idx = np.flatnonzero(np.asarray(mask))
        if len(idx):
            violations[f"{column}/{rule}"] = {"count": int(len(idx)), "rows": [int(i) + 1 for i in idx[:5]]}

    contract = spec.get("contract", {})
    rc = contract.get("rowCount", {})
    if "min" in rc and rows < rc["min"]:
        violations["/row_count"] = {"count": rc["min"] - rows}
    if "max" in rc and rows > rc["max"]:
        violations["/row_count"] = {"count": rows - rc["max"]}
    for col in contract.get("columns", []):
        name, typ = col["name"], col["type"]
        if name not in df.columns:
            violations[f"{name}/present"] = {"count": 1}
            continue
        s = df[name]
        null = s.isna().to_numpy()
        if typ in ("float", "int"):
            values = np.array([try_float(v) if not n else None for v, n in zip(s, null)], dtype=object)
            if typ == "int":
                values = np.array([v if v is None or v == math.trunc(v) else None for v in values], dtype=object)
            invalid = np.array([v is None for v in values]) & ~null
            add(name, "type", invalid)
            if col.get("nullable") is False:
                add(name, "nullable", null)
            ok = ~null & ~invalid
            v = np.array([x if x is not None else np.nan for x in values], dtype=float)
            if "min" in col:
                add(name, "min", ok & ~(v >= col["min"]))
            if "max" in col:
                add(name, "max", ok & ~(v <= col["max"]))
            if "allowed" in col:
                add(name, "allowed", ok & ~np.isin(v, [float(a) for a in col["allowed"]]))
            if col.get("unique"):
                add(name, "unique", ok & pd.Series(v).duplicated(keep=False).to_numpy())
        else:
            texts = s.to_numpy(dtype=object)
            if typ == "bool":
                parsed = [None if n else boolean(t) for t, n in zip(texts, null)]
                invalid = np.array([p is None for p in parsed]) & ~null
                texts = np.array([None if p is None else ("true" if p else "false") for p in parsed], dtype=object)
            else:
                invalid = np.zeros(rows, dtype=bool)
            add(name, "type", invalid)
            if col.get("nullable") is False:
                add(name, "nullable", null)
            ok = ~null & ~invalid
            if "allowed" in col:
                allowed = {allowed_text(a) for a in col["allowed"]}
                add(name, "allowed", ok & ~np.array([t in allowed for t in texts]))
            if "pattern" in col:
                matches = s.fillna("").str.fullmatch(col["pattern"]).to_numpy(dtype=bool)
                add(name, "pattern", ok & ~matches)
            if col.get("unique"):
                add(name, "unique", ok & pd.Series(texts).where(ok).duplicated(keep=False).to_numpy() & ok)
    return {"rows": rows, "contract": {"passed": not violations, "violations": violations}}


def allowed_text(a):
    if isinstance(a, bool):
        return "true" if a else "false"
    return str(a)


# ---------------------------------------------------------------------------
# Evaluation.

def ratio(num, den):
    return None if den == 0 else num / den


def binary_metrics(y, score, pred):
    tp = int(np.sum((y == 1) & (pred == 1)))
    fp = int(np.sum((y == 0) & (pred == 1)))
    fn = int(np.sum((y == 1) & (pred == 0)))
    m = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0) if tp + fp else None,
        "recall": skm.recall_score(y, pred, zero_division=0) if tp + fn else None,
        "f1": skm.f1_score(y, pred, zero_division=0) if 2 * tp + fp + fn else None,
        "roc_auc": skm.roc_auc_score(y, score) if 0 < y.sum() < len(y) else None,
        "log_loss": skm.log_loss(y, score, eps=1e-15, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, score, pos_label=1),
    }
    return {k: number(v) for k, v in m.items()}


def multiclass_metrics(y, pred):
    return {
        "accuracy": number(skm.accuracy_score(y, pred)),
        "macro_f1": number(skm.f1_score(y, pred, average="macro", zero_division=0)),
    }


def regression_metrics(y, pred):
    return {
        "rmse": number(math.sqrt(skm.mean_squared_error(y, pred))),
        "mae": number(skm.mean_absolute_error(y, pred)),
        "r2": number(skm.r2_score(y, pred, force_finite=False)) if len(y) > 1 else None,
    }


def class_labels(series):
    """Classes written as numbers are numbers, so that 1 and 1.0 are one class."""
    values = [try_float(v) for v in series]
    if all(v is not None for v in values):
        return np.array(values, dtype=float)
    return series.to_numpy(dtype=str)


def predictions(task, ev, path):
    df = read_csv(path)
    if task == "binary_classification":
        y = np.array([boolean(v) for v in df[ev["label"]]], dtype=int)
        score = floats_exact(df[ev["score"]])
        if "prediction" in ev:
            pred = np.array([boolean(v) for v in df[ev["prediction"]]], dtype=int)
        else:
            pred = (score >= ev.get("threshold", 0.5)).astype(int)
        return df, binary_metrics(y, score, pred), (y, pred)
    if task == "multiclass_classification":
        y, pred = class_labels(df[ev["label"]]), class_labels(df[ev["prediction"]])
        return df, multiclass_metrics(y, pred), None
    y, pred = floats_exact(df[ev["label"]]), floats_exact(df[ev["prediction"]])
    return df, regression_metrics(y, pred), None


# ---------------------------------------------------------------------------
# Fairness: fairlearn's MetricFrame over selection_rate, true_positive_rate,
# false_positive_rate and accuracy_score, and its between-groups aggregates.

def fairness_attribute(df, attr, y, pred, reference):
    groups = {}
    g = df[attr]
    for value in g.dropna().unique():
        mask = (g == value).to_numpy()
        yy, pp = y[mask], pred[mask]
        tp = int(np.sum((yy == 1) & (pp == 1)))
        fp = int(np.sum((yy == 0) & (pp == 1)))
        fn = int(np.sum((yy == 1) & (pp == 0)))
        tn = int(np.sum((yy == 0) & (pp == 0)))
        groups[str(value)] = {
            "count": int(mask.sum()),
            "selection_rate": ratio(tp + fp, len(yy)),
            "tpr": ratio(tp, tp + fn),
            "fpr": ratio(fp, fp + tn),
            "accuracy": ratio(tp + tn, len(yy)),
        }

    def defined(key):
        return [v[key] for v in groups.values() if v[key] is not None]

    def difference(key):
        vals = defined(key)
        return max(vals) - min(vals) if vals else None

    sel = defined("selection_rate")
    dpr = min(sel) / max(sel) if sel and max(sel) > 0 else None
    tpr_d, fpr_d = difference("tpr"), difference("fpr")
    eod = max([d for d in (tpr_d, fpr_d) if d is not None], default=None)
    out = {
        "groups": groups,
        "demographic_parity_difference": difference("selection_rate"),
        "demographic_parity_ratio": dpr,
        "equalized_odds_difference": eod,
        "equal_opportunity_difference": tpr_d,
    }
    if reference is None:
        out["disparate_impact_ratio"] = dpr
    else:
        out["reference_group"] = reference
        ref = groups.get(reference, {}).get("selection_rate")
        out["disparate_impact_ratio"] = min(s / ref for s in sel) if ref else None
    return out


# ---------------------------------------------------------------------------
# A manifest's golden numbers.

def golden(folder, manifest):
    spec = manifest["spec"]
    out = {"inputs": {}}

    def record(role, rel):
        path = os.path.join(folder, rel)
        with open(path, "rb") as f:
            import hashlib
            digest = hashlib.sha256(f.read()).hexdigest()
        out["inputs"][role] = {"path": rel, "sha256": digest, "rows": len(read_csv(path))}

    data = spec.get("data")
    if data:
        record("current", data["current"])
        out["data"] = contract_section(data, folder)
        if "drift" in data:
            record("reference", data["reference"])
            out["drift"] = drift_section(data, folder, out["inputs"]["reference"]["rows"])
    ev = spec.get("evaluation")
    if ev:
        task = spec["task"]
        record("predictions", ev["predictions"])
        df, metrics, binary = predictions(task, ev, os.path.join(folder, ev["predictions"]))
        out["evaluation"] = {"task": task, "rows": len(df), "metrics": metrics}
        if "baseline" in ev:
            record("baseline", ev["baseline"])
            bdf, bmetrics, _ = predictions(task, ev, os.path.join(folder, ev["baseline"]))
            out["evaluation"]["baseline"] = {"rows": len(bdf), "metrics": bmetrics}
        fair = spec.get("fairness")
        if fair:
            y, pred = binary
            refs = fair.get("referenceGroups", {})
            out["fairness"] = {a: fairness_attribute(df, a, y, pred, refs.get(a)) for a in fair["sensitiveAttributes"]}
    return out


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True, allow_nan=False)
        f.write("\n")


# ---------------------------------------------------------------------------
# The test cases.

def manifest(name, task, data=None, evaluation=None, fairness=None):
    spec = {
        "task": task,
        "artifact": {"uri": "s3://models/" + name, "digest": "sha256:" + "0" * 64},
    }
    if data:
        spec["data"] = data
    if evaluation:
        spec["evaluation"] = evaluation
    if fairness:
        spec["fairness"] = fairness
    return {
        "apiVersion": "modelgate/v1",
        "kind": "Model",
        "metadata": {"name": name, "version": "1.0.0", "owner": "@test/ml", "riskTier": "low"},
        "spec": spec,
    }


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_csv(path, columns, rows, newline="\n", bom=False):
    lines = [",".join(columns)] + [",".join(fmt(v) for v in r) for r in rows]
    with open(path, "w", newline="", encoding="utf-8") as f:
        if bom:
            f.write("\ufeff")
        f.write(newline.join(lines) + newline)


def case_binary(rng, folder):
    """Ties in scores and amounts, nulls, categories in one sample only, a constant
    column, a group without positives, a group without negatives, contract
    violations of every rule."""
    def transactions(n, prefix, shift):
        rows = []
        for i in range(n):
            amount = round(float(rng.gamma(2.0, 40.0 + 10 * shift)) * 2) / 2  # ties
            hour = int(rng.integers(0, 24))
            country = ["US", "DE", "FR", "JP" if shift == 0 else "BR"][int(rng.integers(0, 4))]
            rows.append([f"{prefix}{i:04d}", amount if rng.random() > 0.05 else None, hour, country,
                         5.0, ["true", "false", "1", "0"][int(rng.integers(0, 4))] if rng.random() > 0.1 else None,
                         f"{prefix}-{int(rng.integers(0, 99999)):05d}"])
        return rows
    ref = transactions(300, "r", 0)
    cur = transactions(250, "c", 1)
    cur[7][0] = cur[3][0]      # a duplicate id
    cur[11][0] = cur[3][0]
    cur[20][1] = -4.5          # below min
    cur[40][1] = 1250.0        # above max
    cur[41][2] = 25            # hour above max
    cur[42][2] = "7.5"         # not an int
    cur[60][2] = "seven"       # not a number
    cur[61][3] = None          # country null
    cur[70][6] = "x-1"         # breaks the pattern
    cols = ["id", "amount", "hour", "country", "constant", "flag", "code"]
    write_csv(os.path.join(folder, "reference.csv"), cols, ref)
    write_csv(os.path.join(folder, "current.csv"), cols, cur)

    def preds(n, skill):
        rows = []
        for i in range(n):
            sex = ["F", "M", "X"][int(rng.integers(0, 3))]
            age = ["18-29", "30-44", "65+", None][int(rng.integers(0, 4))]
            label = int(rng.random() < 0.3) if sex != "X" else 0   # X: no positives
            if age == "65+":
                label = 1                                             # 65+: no negatives
            score = 1 / (1 + math.exp(-(rng.normal() + skill * (2 * label - 1))))
            score = round(score, 2)                                   # ties
            if i % 37 == 0:
                score = float(label)                                  # p = 0 and 1: log loss clipping
            rows.append([f"e{i:04d}", label, score, sex, age])
        return rows
    cols = ["id", "label", "score", "sex", "age_band"]
    write_csv(os.path.join(folder, "predictions.csv"), cols, preds(400, 1.2))
    write_csv(os.path.join(folder, "baseline.csv"), cols, preds(400, 0.8))
    return manifest("binary", "binary_classification",
                    data={"reference": "reference.csv", "current": "current.csv",
                          "contract": {"rowCount": {"min": 300}, "columns": [
                              {"name": "id", "type": "string", "nullable": False, "unique": True},
                              {"name": "amount", "type": "float", "nullable": True, "min": 0, "max": 1000},
                              {"name": "hour", "type": "int", "nullable": False, "min": 0, "max": 23},
                              {"name": "country", "type": "string", "nullable": False, "allowed": ["US", "DE", "FR", "JP"]},
                              {"name": "constant", "type": "float"},
                              {"name": "flag", "type": "bool", "nullable": True},
                              {"name": "code", "type": "string", "pattern": "[rc]-[0-9]{5}"},
                              {"name": "missing_column", "type": "string"}]},
                          "drift": {"columns": ["amount", "hour", "country", "constant", "flag"]}},
                    evaluation={"predictions": "predictions.csv", "label": "label", "score": "score",
                                "threshold": 0.4, "baseline": "baseline.csv"},
                    fairness={"sensitiveAttributes": ["sex", "age_band"], "referenceGroups": {"sex": "F"}})


def case_large_reference(rng, folder):
    """A reference of more than 1000 rows (Wasserstein judges), a prediction column,
    inferred column types, a reference group with no rows."""
    ref = [[round(float(rng.normal(10, 2)), 3), round(float(rng.normal(0, 1)), 4), ["a", "b", "c"][int(rng.integers(0, 3))]] for _ in range(1500)]
    cur = [[round(float(rng.normal(10.5, 2)), 3), round(float(rng.normal(0, 1)), 4), ["a", "b", "c", "d"][int(rng.integers(0, 4))]] for _ in range(1200)]
    cols = ["x", "y", "cat"]
    write_csv(os.path.join(folder, "reference.csv"), cols, ref)
    write_csv(os.path.join(folder, "current.csv"), cols, cur)
    rows = []
    for i in range(600):
        label = int(rng.random() < 0.5)
        score = round(float(rng.beta(2 + 3 * label, 5 - 3 * label)), 3)
        pred = int(score >= 0.5) if i % 10 else 1 - int(score >= 0.5)
        rows.append([label, score, "true" if pred else "false", ["A", "B"][int(rng.integers(0, 2))]])
    write_csv(os.path.join(folder, "predictions.csv"), ["y", "p", "yhat", "group"], rows)
    return manifest("large-reference", "binary_classification",
                    data={"reference": "reference.csv", "current": "current.csv",
                          "drift": {"columns": ["x", "y", "cat"]}},
                    evaluation={"predictions": "predictions.csv", "label": "y", "score": "p", "prediction": "yhat"},
                    fairness={"sensitiveAttributes": ["group"], "referenceGroups": {"group": "Z"}})


def case_single_row(rng, folder):
    """One row everywhere: the KS p-value of two single values is undefined, as is
    roc_auc with one class."""
    cols = ["v", "c"]
    write_csv(os.path.join(folder, "reference.csv"), cols, [[1.5, "a"]])
    write_csv(os.path.join(folder, "current.csv"), cols, [[2.5, "b"]])
    write_csv(os.path.join(folder, "predictions.csv"), ["label", "score", "g"], [[0, 0.7, "g1"]])
    return manifest("single-row", "binary_classification",
                    data={"reference": "reference.csv", "current": "current.csv",
                          "contract": {"rowCount": {"min": 1, "max": 1}, "columns": [{"name": "v", "type": "float"}]},
                          "drift": {"columns": ["v", "c"]}},
                    evaluation={"predictions": "predictions.csv", "label": "label", "score": "score"},
                    fairness={"sensitiveAttributes": ["g"]})


def case_multiclass(rng, folder):
    """Classes written as 1 and 1.0, a class only predicted, one never predicted."""
    rows = []
    for i in range(300):
        y = int(rng.integers(0, 3))
        p = y if rng.random() < 0.7 else int(rng.integers(0, 4))
        if y == 2:
            p = min(p, 1) if rng.random() < 0.5 else p
        rows.append([y, f"{p}.0"])
    write_csv(os.path.join(folder, "predictions.csv"), ["label", "pred"], rows)
    return manifest("multiclass", "multiclass_classification",
                    evaluation={"predictions": "predictions.csv", "label": "label", "prediction": "pred"})


def case_multiclass_text(rng, folder):
    names = ["cat", "dog", "bird", "fish"]
    rows = []
    for i in range(250):
        y = names[int(rng.integers(0, 3))]
        p = y if rng.random() < 0.6 else names[int(rng.integers(0, 4))]
        rows.append([y, p])
    write_csv(os.path.join(folder, "predictions.csv"), ["label", "pred"], rows)
    return manifest("multiclass-text", "multiclass_classification",
                    evaluation={"predictions": "predictions.csv", "label": "label", "prediction": "pred"})


def case_regression(rng, folder):
    def rows(noise):
        out = []
        for _ in range(500):
            y = round(float(rng.gamma(3, 10)), 1)
            out.append([y, round(y + float(rng.normal(0, noise)), 2)])
        return out
    write_csv(os.path.join(folder, "predictions.csv"), ["y", "yhat"], rows(4))
    write_csv(os.path.join(folder, "baseline.csv"), ["y", "yhat"], rows(6))
    return manifest("regression", "regression",
                    evaluation={"predictions": "predictions.csv", "label": "y", "prediction": "yhat", "baseline": "baseline.csv"})


def case_regression_constant(rng, folder):
    """Constant labels: r2 is 0/0."""
    write_csv(os.path.join(folder, "predictions.csv"), ["y", "yhat"], [[3.0, round(3 + float(rng.normal()), 3)] for _ in range(40)])
    return manifest("regression-constant", "regression",
                    evaluation={"predictions": "predictions.csv", "label": "y", "prediction": "yhat"})


def case_quoting(rng, folder):
    """RFC 4180 at its edges: a byte order mark, CRLF line ends, quoted fields with
    commas, line breaks and doubled quotes, quoted numbers."""
    cats = ['plain', 'with, comma', 'two\r\nlines', 'say "hi"', 'x']
    def rows(n, weights):
        out = []
        for _ in range(n):
            c = cats[int(rng.choice(len(cats), p=weights))]
            v = round(float(rng.normal(5, 1)), 2)
            out.append([quote(c), quote(repr(v)) if rng.random() < 0.3 else repr(v)])
        return out
    header = "category,value"
    for name, n, w in (("reference.csv", 200, [0.3, 0.2, 0.2, 0.2, 0.1]), ("current.csv", 180, [0.1, 0.3, 0.3, 0.2, 0.1])):
        with open(os.path.join(folder, name), "w", newline="", encoding="utf-8") as f:
            f.write("\ufeff" + header + "\r\n")
            for r in rows(n, w):
                f.write(",".join(r) + "\r\n")
    return manifest("quoting", "regression",
                    data={"reference": "reference.csv", "current": "current.csv",
                          "drift": {"columns": ["category", "value"]}})


def quote(s):
    return '"' + s.replace('"', '""') + '"'


CASES = [
    ("binary", case_binary),
    ("large_reference", case_large_reference),
    ("single_row", case_single_row),
    ("multiclass", case_multiclass),
    ("multiclass_text", case_multiclass_text),
    ("regression", case_regression),
    ("regression_constant", case_regression_constant),
    ("quoting", case_quoting),
]


# ---------------------------------------------------------------------------
# Direct goldens of the distribution and the drift statistics.

def kstwo_grid():
    out = []
    ns = [1, 2, 3, 5, 10, 37, 100, 140, 141, 250, 1000, 5000, 20000, 100000, 100001, 400000, 1000000, 1000001, 2500000]
    for n in ns:
        ds = {0.5 / n, 0.75 / n, 1.0 / n, 1.5 / n, 2.5 / n, 0.5, 0.6, 0.99, 1 - 1.0 / n, 1 - 0.5 / n}
        for z in (0.2, 0.4, 0.6, 0.8, 0.87, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 19.0):
            ds.add(z / math.sqrt(n))
        for d in sorted(ds):
            if 0 < d < 1:
                out.append({"n": n, "d": d, "sf": number(scipy.stats.kstwo.sf(d, n))})
    return out


def drift_pairs(rng):
    out = []
    sizes = [(1, 1), (1, 2), (2, 3), (5, 7), (12, 9), (40, 60), (100, 140), (150, 151), (300, 280), (1000, 1200),
             (2000, 1500), (5000, 4000)]
    for m, n in sizes:
        for shift in (0.0, 0.05, 0.3, 2.0):
            ref = np.round(rng.normal(0, 1, m), 3)
            cur = np.round(rng.normal(shift, 1.1, n), 3)
            out.append({"reference": ref.tolist(), "current": cur.tolist(), **numeric_drift(ref, cur)})
    ref = rng.integers(0, 5, 500).astype(float)   # heavy ties
    cur = rng.integers(1, 6, 700).astype(float)
    out.append({"reference": ref.tolist(), "current": cur.tolist(), **numeric_drift(ref, cur)})
    return out


def main():
    # The undefined values below are computed on purpose (and made null): numpy's
    # warnings about them are noise here.
    warnings.simplefilter("ignore", RuntimeWarning)
    rng = np.random.default_rng(20261123)
    for name, make in CASES:
        folder = os.path.join(TESTDATA, name)
        os.makedirs(folder, exist_ok=True)
        m = make(rng, folder)
        with open(os.path.join(folder, "model.yaml"), "w") as f:
            json.dump(m, f, indent=1)
            f.write("\n")
        write_json(os.path.join(folder, "golden.json"), golden(folder, m))
    for model in sorted(os.listdir(EXAMPLES)):
        for version in sorted(os.listdir(os.path.join(EXAMPLES, model))):
            folder = os.path.join(EXAMPLES, model, version)
            with open(os.path.join(folder, "model.yaml")) as f:
                m = yaml.safe_load(f)
            out = os.path.join(TESTDATA, "examples")
            os.makedirs(out, exist_ok=True)
            write_json(os.path.join(out, f"{model}-{version}.json"), golden(folder, m))
    write_json(os.path.join(TESTDATA, "kstwo.json"), kstwo_grid())
    write_json(os.path.join(TESTDATA, "drift.json"), drift_pairs(rng))
    print(f"goldens written with numpy {np.__version__}, scipy {scipy.__version__}, "
          f"scikit-learn {sklearn.__version__}, pandas {pd.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
