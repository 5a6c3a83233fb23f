#!/usr/bin/python3
"""The benchmark's peer: the checks of checks/bench's model, written as a data
scientist would write them with pandas, numpy, scipy and scikit-learn, computing
the same numbers as `modelgate check`.

usage: peer.py DIR OUT.json
"""

import json
import math
import sys

import numpy as np
import pandas as pd
import scipy.spatial.distance
import scipy.stats
import sklearn.metrics as skm


def num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def psi(r, c):
    r = np.where(r == 0, 0.0001, r / r.sum())
    c = np.where(c == 0, 0.0001, c / c.sum())
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_drift(ref, cur, reference_rows):
    ks = scipy.stats.ks_2samp(ref, cur, method="asymp")
    w = scipy.stats.wasserstein_distance(ref, cur)
    edges = np.concatenate(([-np.inf], np.quantile(ref, np.arange(1, 10) / 10), [np.inf]))
    out = {
        "kind": "numeric",
        "ks_statistic": num(ks.statistic),
        "ks_pvalue": num(ks.pvalue),
        "psi": psi(np.histogram(ref, edges)[0].astype(float), np.histogram(cur, edges)[0].astype(float)),
        "wasserstein": num(w),
        "wasserstein_normed": num(w / max(np.std(ref), 0.001)),
    }
    if reference_rows <= 1000:
        out["method"], out["drifted"] = "ks", not out["ks_pvalue"] >= 0.05
    else:
        out["method"], out["drifted"] = "wasserstein", not out["wasserstein_normed"] < 0.1
    return out


def categorical_drift(ref, cur):
    counts = pd.concat([ref.value_counts().rename("r"), cur.value_counts().rename("c")], axis=1).fillna(0).sort_index()
    r, c = counts["r"].to_numpy(float), counts["c"].to_numpy(float)
    js = scipy.spatial.distance.jensenshannon(r, c, base=2)
    return {"kind": "categorical", "method": "jensen_shannon", "psi": psi(r, c),
            "jensen_shannon": num(js), "drifted": not js < 0.1}


def violation(out, column, rule, mask):
    n = int(mask.sum())
    if n:
        out.append({"column": column, "rule": rule, "count": n,
                    "rows": (np.flatnonzero(mask.to_numpy())[:5] + 1).tolist()})


def contract(cur):
    v = []
    if len(cur) < 1000:
        v.append({"column": "", "rule": "row_count", "count": 1000 - len(cur)})
    ids = cur["txn_id"]
    violation(v, "txn_id", "nullable", ids.isna())
    violation(v, "txn_id", "unique", ids.notna() & ids.duplicated(keep=False))
    amount = pd.to_numeric(cur["amount"], errors="coerce")
    violation(v, "amount", "type", amount.isna() & cur["amount"].notna())
    violation(v, "amount", "nullable", cur["amount"].isna())
    violation(v, "amount", "min", amount < 0)
    violation(v, "amount", "max", amount > 100000)
    hour = pd.to_numeric(cur["hour"], errors="coerce")
    violation(v, "hour", "type", (hour.isna() | (hour != np.trunc(hour))) & cur["hour"].notna())
    violation(v, "hour", "nullable", cur["hour"].isna())
    violation(v, "hour", "min", hour < 0)
    violation(v, "hour", "max", hour > 23)
    violation(v, "country", "nullable", cur["country"].isna())
    violation(v, "country", "allowed", cur["country"].notna() & ~cur["country"].isin(["US", "GB", "DE", "FR", "NL", "ES"]))
    flag = cur["card_present"].astype(str).str.lower()
    violation(v, "card_present", "type", cur["card_present"].notna() & ~flag.isin(["true", "false", "1", "0"]))
    violation(v, "card_present", "nullable", cur["card_present"].isna())
    return {"rows": len(cur), "contract": {"passed": not v, "violations": v}}


def metrics(df):
    y, p, s = df["label"].to_numpy(), df["prediction"].to_numpy(), df["score"].to_numpy()
    return {
        "accuracy": num(skm.accuracy_score(y, p)),
        "precision": num(skm.precision_score(y, p)),
        "recall": num(skm.recall_score(y, p)),
        "f1": num(skm.f1_score(y, p)),
        "roc_auc": num(skm.roc_auc_score(y, s)),
        "log_loss": num(skm.log_loss(y, s, eps=1e-15, labels=[0, 1])),
        "brier": num(skm.brier_score_loss(y, s)),
    }


def rate(num_, den):
    return None if den == 0 else num_ / den


def fairness(df, attr, reference):
    d = df.assign(tp=(df.label == 1) & (df.prediction == 1), fp=(df.label == 0) & (df.prediction == 1),
                  pos=df.label == 1, neg=df.label == 0, sel=df.prediction == 1, hit=df.label == df.prediction)
    g = d.groupby(attr)[["tp", "fp", "pos", "neg", "sel", "hit"]].sum()
    g["count"] = d.groupby(attr).size()
    groups = {}
    for name, row in g.iterrows():
        groups[str(name)] = {"count": int(row["count"]), "selection_rate": rate(row.sel, row["count"]),
                             "tpr": rate(row.tp, row.pos), "fpr": rate(row.fp, row.neg),
                             "accuracy": rate(row.hit, row["count"])}

    def defined(key):
        return [x[key] for x in groups.values() if x[key] is not None]
    sel, tpr, fpr = defined("selection_rate"), defined("tpr"), defined("fpr")
    dpr = min(sel) / max(sel) if max(sel) > 0 else None
    out = {
        "groups": groups,
        "demographic_parity_difference": max(sel) - min(sel),
        "demographic_parity_ratio": dpr,
        "equalized_odds_difference": max(max(tpr) - min(tpr), max(fpr) - min(fpr)),
        "equal_opportunity_difference": max(tpr) - min(tpr),
        "disparate_impact_ratio": dpr,
    }
    if reference is not None:
        ref = groups[reference]["selection_rate"]
        out["reference_group"] = reference
        out["disparate_impact_ratio"] = min(s / ref for s in sel) if ref else None
    return out


def main():
    folder, out = sys.argv[1], sys.argv[2]
    read = dict(keep_default_na=False, na_values=[""], dtype={"txn_id": str, "country": str, "card_present": str})
    ref = pd.read_csv(f"{folder}/reference.csv", **read)
    cur = pd.read_csv(f"{folder}/current.csv", **read)
    ev = {"data": contract(cur), "drift": {"columns": {}}}
    for col in ("amount", "hour"):
        r = pd.to_numeric(ref[col]).dropna().to_numpy(float)
        c = pd.to_numeric(cur[col], errors="coerce").dropna().to_numpy(float)
        ev["drift"]["columns"][col] = numeric_drift(r, c, len(ref))
    ev["drift"]["columns"]["country"] = categorical_drift(ref["country"].dropna(), cur["country"].dropna())
    cols = ev["drift"]["columns"].values()
    ev["drift"]["share_drifted"] = sum(c["drifted"] for c in cols) / len(cols)
    del ref, cur

    read = dict(keep_default_na=False, na_values=[""], dtype={"txn_id": str, "sex": str, "age_band": str})
    pred = pd.read_csv(f"{folder}/predictions.csv", **read)
    base = pd.read_csv(f"{folder}/baseline.csv", **read)
    ev["evaluation"] = {"task": "binary_classification", "rows": len(pred), "metrics": metrics(pred),
                        "baseline": {"rows": len(base), "metrics": metrics(base)}}
    ev["fairness"] = {"sex": fairness(pred, "sex", "M"), "age_band": fairness(pred, "age_band", None)}
    with open(out, "w") as f:
        json.dump(ev, f, indent=1)


if __name__ == "__main__":
    main()
