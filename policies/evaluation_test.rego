package modelgate.evaluation_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.evaluation.deny with input as inp
}

codes(inp) := td.codes(denies(inp))

metric(m, v) := td.put(td.base, sprintf("/evidence/evaluation/metrics/%s", [m]), v)

base_metric(doc, m, v) := td.put(doc, sprintf("/evidence/evaluation/baseline/metrics/%s", [m]), v)

test_good_metrics_allowed if {
	count(denies(td.base)) == 0
	count(denies(td.regression)) == 0
}

# --- evaluation.missing --------------------------------------------------------

test_no_evaluation_results_denied if {
	m := td.one(denies(td.drop(td.base, "/evidence/evaluation")), "evaluation.missing")
	m.msg == "fraud-detector 2.3.0: the manifest declares an evaluation (spec.evaluation) but the evidence has no evaluation metrics"
	codes(td.drop(td.base, "/evidence/evaluation")) == {"evaluation.missing"}
}

test_no_evidence_denied if {
	codes(td.put(td.base, "/evidence", null)) == {"evaluation.missing"}
}

test_null_metrics_denied if {
	codes(td.put(td.base, "/evidence/evaluation/metrics", null)) == {"evaluation.missing"}
}

test_no_baseline_results_denied if {
	m := td.one(denies(td.drop(td.base, "/evidence/evaluation/baseline")), "evaluation.missing")
	m.msg == "fraud-detector 2.3.0: the manifest declares a baseline (eval/baseline_predictions.csv) but the evidence has no baseline metrics"
}

test_no_baseline_declared_none_needed if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/manifest/spec/evaluation/baseline"},
		{"op": "remove", "path": "/evidence/evaluation/baseline"},
	])
	count(denies(inp)) == 0
}

test_no_evaluation_declared_nothing_needed if {
	inp := json.patch(td.regression, [
		{"op": "remove", "path": "/manifest/spec/evaluation"},
		{"op": "remove", "path": "/evidence/evaluation"},
	])
	count(denies(inp)) == 0
}

# --- evaluation.minimum --------------------------------------------------------

test_metric_below_minimum_denied if {
	inp := base_metric(metric("roc_auc", 0.68), "roc_auc", 0.68)
	m := td.one(denies(inp), "evaluation.minimum")
	m.msg == "fraud-detector 2.3.0: roc_auc is 0.68, below the minimum 0.7"
	m.metric == "roc_auc"
	m.value == 0.68
	m.threshold == 0.7
	m.direction == "higher_is_better"
	codes(inp) == {"evaluation.minimum"}
}

test_metric_exactly_at_minimum_allowed if {
	inp := base_metric(metric("roc_auc", 0.7), "roc_auc", 0.7)
	count(denies(inp)) == 0
}

test_metric_just_below_minimum_printed_below if {
	inp := base_metric(metric("roc_auc", 0.69999), "roc_auc", 0.69999)
	m := td.one(denies(inp), "evaluation.minimum")
	m.msg == "fraud-detector 2.3.0: roc_auc is 0.69999, below the minimum 0.7"
}

test_minimums_from_config if {
	inp := td.put(td.base, "/config/thresholds/evaluation/minimum/binary_classification", {"roc_auc": 0.95, "recall": 0.8})
	ds := denies(inp)
	{m.metric | some m in td.by_code(ds, "evaluation.minimum")} == {"roc_auc", "recall"}
}

test_empty_minimums_from_config if {
	inp := td.put(metric("roc_auc", 0.55), "/config/thresholds/evaluation/minimum/binary_classification", {})
	td.codes(denies(inp)) == {"evaluation.regression"}
}

test_minimums_default_without_config if {
	inp := td.drop(base_metric(metric("roc_auc", 0.6), "roc_auc", 0.6), "/config/thresholds")
	m := td.one(denies(inp), "evaluation.minimum")
	m.threshold == 0.7
}

test_multiclass_minimum if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/manifest/spec/task", "value": "multiclass_classification"},
		{"op": "replace", "path": "/evidence/evaluation", "value": {"task": "multiclass_classification", "rows": 900, "metrics": {"accuracy": 0.71, "macro_f1": 0.58}, "baseline": {"rows": 900, "metrics": {"accuracy": 0.7, "macro_f1": 0.57}}}},
	])
	m := td.one(denies(inp), "evaluation.minimum")
	m.msg == "fraud-detector 2.3.0: macro_f1 is 0.58, below the minimum 0.6"
}

# Lower-is-better metrics: the "minimum" is a maximum.

lower := td.put(td.base, "/config/thresholds/evaluation/minimum/binary_classification", {"roc_auc": 0.7, "log_loss": 0.2, "brier": 0.05})

test_lower_is_better_above_maximum_denied if {
	inp := base_metric(td.put(lower, "/evidence/evaluation/metrics/log_loss", 0.25), "log_loss", 0.25)
	m := td.one(denies(inp), "evaluation.minimum")
	m.msg == "fraud-detector 2.3.0: log_loss is 0.25, above the maximum 0.2 (log_loss is lower-is-better: its minimum threshold is a maximum)"
	m.direction == "lower_is_better"
}

test_lower_is_better_exactly_at_maximum_allowed if {
	inp := base_metric(td.put(lower, "/evidence/evaluation/metrics/log_loss", 0.2), "log_loss", 0.2)
	count(denies(inp)) == 0
}

test_lower_is_better_below_maximum_allowed if {
	count(denies(lower)) == 0
}

test_regression_task_rmse_is_a_maximum if {
	inp := td.put(td.regression, "/config/thresholds/evaluation/minimum/regression", {"r2": 0.5, "rmse": 11.5, "mae": 9})
	m := td.one(denies(inp), "evaluation.minimum")
	m.metric == "rmse"
	m.msg == "demand-forecast 1.5.0: rmse is 11.82, above the maximum 11.5 (rmse is lower-is-better: its minimum threshold is a maximum)"
}

test_regression_task_r2_minimum if {
	inp := json.patch(td.regression, [
		{"op": "replace", "path": "/evidence/evaluation/metrics/r2", "value": 0.41},
		{"op": "replace", "path": "/evidence/evaluation/baseline/metrics/r2", "value": 0.41},
	])
	m := td.one(denies(inp), "evaluation.minimum")
	m.msg == "demand-forecast 1.5.0: r2 is 0.41, below the minimum 0.5"
}

# --- evaluation.undefined ------------------------------------------------------

test_null_metric_with_minimum_denied if {
	inp := base_metric(metric("roc_auc", null), "roc_auc", null)
	m := td.one(denies(inp), "evaluation.undefined")
	m.msg == "fraud-detector 2.3.0: roc_auc is undefined (null) in the evidence and cannot be judged: it has a minimum of 0.7"
	m.metric == "roc_auc"
	m.value == null
	codes(inp) == {"evaluation.undefined"}
}

test_absent_metric_with_minimum_denied if {
	inp := td.drop(td.drop(td.base, "/evidence/evaluation/metrics/roc_auc"), "/evidence/evaluation/baseline/metrics/roc_auc")
	m := td.one(denies(inp), "evaluation.undefined")
	contains(m.msg, "roc_auc is absent in the evidence")
}

test_null_metric_with_baseline_denied if {
	m := td.one(denies(metric("roc_auc", null)), "evaluation.undefined")
	m.msg == "fraud-detector 2.3.0: roc_auc is undefined (null) in the evidence and cannot be judged: it has a minimum of 0.7, and the baseline's is 0.924"
}

test_null_metric_without_minimum_with_baseline_denied if {
	m := td.one(denies(metric("precision", null)), "evaluation.undefined")
	m.msg == "fraud-detector 2.3.0: precision is undefined (null) in the evidence and cannot be judged: the baseline's is 0.79"
}

test_null_metric_without_minimum_or_baseline_allowed if {
	inp := base_metric(metric("precision", null), "precision", null)
	count(denies(inp)) == 0
}

test_null_lower_is_better_metric_with_maximum_denied if {
	inp := base_metric(td.put(lower, "/evidence/evaluation/metrics/brier", null), "brier", null)
	m := td.one(denies(inp), "evaluation.undefined")
	contains(m.msg, "it has a maximum of 0.05")
}

test_non_number_metric_denied if {
	m := td.one(denies(metric("roc_auc", "NaN")), "evaluation.undefined")
	contains(m.msg, "roc_auc is not a number in the evidence")
}

# --- evaluation.regression -----------------------------------------------------

test_drop_beyond_tolerance_denied if {
	inp := base_metric(td.base, "roc_auc", 0.95)
	m := td.one(denies(inp), "evaluation.regression")
	m.msg == "fraud-detector 2.3.0: roc_auc dropped to 0.931 from the baseline's 0.95, by 0.019, more than the tolerated 0.01"
	m.metric == "roc_auc"
	m.value == 0.931
	m.baseline == 0.95
	m.threshold == 0.01
	m.direction == "higher_is_better"
}

test_drop_exactly_at_tolerance_allowed if {
	inp := base_metric(metric("roc_auc", 0.93), "roc_auc", 0.94)
	count(denies(inp)) == 0
	inp2 := base_metric(metric("accuracy", 0.81), "accuracy", 0.82)
	count(denies(inp2)) == 0
}

test_drop_just_beyond_tolerance_denied if {
	inp := base_metric(metric("roc_auc", 0.93), "roc_auc", 0.94001)
	m := td.one(denies(inp), "evaluation.regression")
	contains(m.msg, "by 0.01001, more than the tolerated 0.01")
}

test_improvement_allowed if {
	inp := base_metric(td.base, "roc_auc", 0.5)
	count(denies(inp)) == 0
}

test_lower_is_better_rise_denied if {
	inp := base_metric(td.base, "log_loss", 0.1)
	m := td.one(denies(inp), "evaluation.regression")
	m.msg == "fraud-detector 2.3.0: log_loss rose to 0.112 from the baseline's 0.1, by 0.012, more than the tolerated 0.01 (lower is better)"
	m.direction == "lower_is_better"
}

test_lower_is_better_rise_exactly_at_tolerance_allowed if {
	inp := base_metric(metric("log_loss", 0.11), "log_loss", 0.1)
	count(denies(inp)) == 0
}

test_lower_is_better_drop_allowed if {
	inp := base_metric(td.base, "log_loss", 0.3)
	count(denies(inp)) == 0
}

test_regression_task_rmse_rise_denied if {
	inp := td.put(td.regression, "/evidence/evaluation/baseline/metrics/rmse", 11.5)
	m := td.one(denies(inp), "evaluation.regression")
	m.msg == "demand-forecast 1.5.0: rmse rose to 11.82 from the baseline's 11.5, by 0.32, more than the tolerated 0.01 (lower is better)"
}

test_zero_tolerance if {
	inp := td.put(base_metric(td.base, "roc_auc", 0.9311), "/config/thresholds/evaluation/maxRegression", 0)
	m := td.one(denies(inp), "evaluation.regression")
	m.threshold == 0
	count(denies(td.put(td.base, "/config/thresholds/evaluation/maxRegression", 0))) == 0
}

test_metric_only_in_one_document_not_compared if {
	inp := json.patch(td.base, [
		{"op": "add", "path": "/evidence/evaluation/metrics/custom", "value": 0.1},
		{"op": "add", "path": "/evidence/evaluation/baseline/metrics/other", "value": 0.9},
	])
	count(denies(inp)) == 0
}

test_null_baseline_metric_not_compared if {
	count(denies(base_metric(td.base, "roc_auc", null))) == 0
}

test_several_regressions_each_denied if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/evaluation/baseline/metrics/recall", "value": 0.8},
		{"op": "replace", "path": "/evidence/evaluation/baseline/metrics/brier", "value": 0.02},
	])
	{m.metric | some m in td.by_code(denies(inp), "evaluation.regression")} == {"recall", "brier"}
}

# --- no promotion --------------------------------------------------------------

test_no_promotion_nothing if {
	inp := td.put(metric("roc_auc", null), "/promotion", null)
	count(denies(inp)) == 0
	count(denies(td.policy_change)) == 0
}
