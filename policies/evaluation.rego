# Evaluation metrics: minimums per task and regressions against the baseline.
#
#   evaluation.missing     the manifest declares an evaluation (or a baseline) and
#                          the evidence lacks its metrics
#   evaluation.minimum     a metric misses config.thresholds.evaluation.minimum[task]
#   evaluation.undefined   a metric that has a minimum, or that the baseline has, is
#                          null (undefined, 0/0) or absent
#   evaluation.regression  a metric is worse than the baseline's by more than
#                          config.thresholds.evaluation.maxRegression
#
# Lower is better for log_loss, brier, rmse and mae: for them the "minimum" of
# config.thresholds.evaluation.minimum is a maximum (the metric may not exceed
# it), and a regression is a rise. Every other metric is higher-is-better.
package modelgate.evaluation

import data.modelgate.lib

declared if is_object(lib.spec.evaluation)

baseline_declared if {
	b := lib.spec.evaluation.baseline
	is_string(b)
	trim_space(b) != ""
}

results := r if {
	r := lib.evidence.evaluation
	is_object(r)
} else := {}

metrics := m if {
	m := results.metrics
	is_object(m)
} else := {}

baseline := m if {
	m := results.baseline.metrics
	is_object(m)
} else := {}

task := t if {
	t := lib.spec.task
	is_string(t)
} else := t if {
	t := results.task
	is_string(t)
} else := ""

minimums := {m: t | some m, t in lib.minimums(task); is_number(t)}

max_regression := lib.threshold(["evaluation", "maxRegression"])

lower_is_better(m) if m in lib.lower_is_better

# --- evaluation.missing --------------------------------------------------------

deny contains msg if {
	lib.promotion
	declared
	not is_object(object.get(lib.evidence, ["evaluation", "metrics"], null))
	msg := lib.message("evaluation.missing", "the manifest declares an evaluation (spec.evaluation) but the evidence has no evaluation metrics", {"field": "evidence.evaluation.metrics"})
}

deny contains msg if {
	lib.promotion
	baseline_declared
	is_object(lib.evidence.evaluation.metrics)
	not is_object(object.get(lib.evidence, ["evaluation", "baseline", "metrics"], null))
	msg := lib.message(
		"evaluation.missing",
		sprintf("the manifest declares a baseline (%s) but the evidence has no baseline metrics", [lib.spec.evaluation.baseline]),
		{"field": "evidence.evaluation.baseline.metrics"},
	)
}

# --- evaluation.minimum --------------------------------------------------------

deny contains msg if {
	lib.promotion
	is_object(lib.evidence.evaluation.metrics)
	some m, limit in minimums
	value := metrics[m]
	is_number(value)
	fails_minimum(m, value, limit)
	msg := lib.message("evaluation.minimum", minimum_text(m, value, limit), {
		"metric": m,
		"value": value,
		"threshold": limit,
		"direction": direction(m),
	})
}

# The comparisons before lib.below and lib.above, which they imply, spare their
# arithmetic for the metrics that clear the threshold.
fails_minimum(m, value, limit) if {
	not lower_is_better(m)
	value < limit
	lib.below(value, limit)
}

fails_minimum(m, value, limit) if {
	lower_is_better(m)
	value > limit
	lib.above(value, limit)
}

minimum_text(m, value, limit) := sprintf("%s is %s, above the maximum %s (%s is lower-is-better: its minimum threshold is a maximum)", [m, lib.num_vs(value, limit), lib.exact(limit), m]) if {
	lower_is_better(m)
} else := sprintf("%s is %s, below the minimum %s", [m, lib.num_vs(value, limit), lib.exact(limit)])

direction(m) := "lower_is_better" if {
	lower_is_better(m)
} else := "higher_is_better"

# --- evaluation.undefined ------------------------------------------------------

# A metric cannot be judged when it is null or absent and has a minimum, or when
# it is null while the baseline's is a number (a regression cannot be ruled out).
undefined := (object.keys(minimums) - numbers) | ((compared & object.keys(metrics)) - numbers)

# The metrics that are numbers, and those whose baseline is one.
numbers := {m | some m, v in metrics; is_number(v)}

compared := {m | some m, b in baseline; is_number(b)}

deny contains msg if {
	lib.promotion
	is_object(lib.evidence.evaluation.metrics)
	some m in undefined
	reasons := [r |
		some r in [
			{"ok": m in object.keys(minimums), "text": sprintf("it has a %s of %s", [limit_name(m), lib.exact(object.get(minimums, m, null))])},
			{"ok": is_number(object.get(baseline, m, null)), "text": sprintf("the baseline's is %s", [lib.num(object.get(baseline, m, null))])},
		]
		r.ok
	]
	msg := lib.message(
		"evaluation.undefined",
		sprintf("%s is %s in the evidence and cannot be judged: %s", [m, state(m), concat(", and ", [r.text | some r in reasons])]),
		{"metric": m, "value": object.get(metrics, m, null)},
	)
}

limit_name(m) := "maximum" if {
	lower_is_better(m)
} else := "minimum"

state(m) := "undefined (null)" if {
	m in object.keys(metrics)
	metrics[m] == null
} else := "not a number" if {
	m in object.keys(metrics)
} else := "absent"

# --- evaluation.regression -----------------------------------------------------

deny contains msg if {
	lib.promotion
	some m in (object.keys(metrics) - improved)
	value := metrics[m]
	is_number(value)
	base := baseline[m]
	is_number(base)
	by := worse_by(m, value, base)
	by > max_regression # lib.above implies it, and spares its arithmetic
	lib.above(by, max_regression)
	worse := lib.clean(by)
	msg := lib.message("evaluation.regression", regression_text(m, value, base, worse), {
		"metric": m,
		"value": value,
		"baseline": base,
		"regression": worse,
		"threshold": max_regression,
		"direction": direction(m),
	})
}

# The metrics better than the baseline's: they are worse by 0 or less, which is
# not above a max_regression of 0 or more. Comparing spares the arithmetic of
# worse_by for them.
improved := lower | higher if {
	max_regression >= 0
	lower := {m | some m in lib.lower_is_better; metrics[m] < baseline[m]}
	higher := {m | some m, value in metrics; value > baseline[m]} - lib.lower_is_better
} else := set()

# worse_by is how much worse value is than the baseline's, in metric units.
worse_by(m, value, base) := value - base if {
	lower_is_better(m)
} else := base - value

regression_text(m, value, base, worse) := sprintf("%s rose to %s from the baseline's %s, by %s, more than the tolerated %s (lower is better)", [m, lib.num(value), lib.num(base), lib.num_vs(worse, max_regression), lib.exact(max_regression)]) if {
	lower_is_better(m)
} else := sprintf("%s dropped to %s from the baseline's %s, by %s, more than the tolerated %s", [m, lib.num(value), lib.num(base), lib.num_vs(worse, max_regression), lib.exact(max_regression)])
