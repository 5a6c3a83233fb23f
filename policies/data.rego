# Data quality and drift.
#
#   data.missing   the manifest declares data checks (spec.data, spec.data.drift)
#                  and the evidence lacks their results, or holds them without a
#                  verdict
#   data.contract  the data contract failed; the message names every violation
#   data.drift     evidence.drift.share_drifted >= config.thresholds.drift.shareDrifted;
#                  a column that drifted while the share stays below it is a warning
package modelgate.data

import data.modelgate.lib

declared if is_object(lib.spec.data)

declared_drift := [c | columns := lib.spec.data.drift.columns; is_array(columns); some c in columns; is_string(c)]

results := r if {
	r := lib.evidence.data
	is_object(r)
} else := {}

drift := d if {
	d := lib.evidence.drift
	is_object(d)
} else := {}

drift_columns := c if {
	c := drift.columns
	is_object(c)
} else := {}

threshold := lib.threshold(["drift", "shareDrifted"])

# --- data.missing --------------------------------------------------------------

deny contains msg if {
	lib.promotion
	declared
	not is_object(object.get(lib.evidence, "data", null))
	msg := lib.message("data.missing", "the manifest declares data checks (spec.data) but the evidence has no data results", {"field": "evidence.data"})
}

deny contains msg if {
	lib.promotion
	is_object(lib.evidence.data)
	not is_boolean(object.get(results, ["contract", "passed"], null))
	msg := lib.message("data.missing", "the evidence's data results have no contract verdict (data.contract.passed)", {"field": "evidence.data.contract.passed"})
}

deny contains msg if {
	lib.promotion
	count(declared_drift) > 0
	not is_object(object.get(lib.evidence, "drift", null))
	msg := lib.message(
		"data.missing",
		sprintf("the manifest declares drift checks for %s but the evidence has no drift results", [lib.list(declared_drift)]),
		{"field": "evidence.drift", "columns": declared_drift},
	)
}

deny contains msg if {
	lib.promotion
	is_object(lib.evidence.drift)
	not is_number(object.get(drift, "share_drifted", null))
	msg := lib.message(
		"data.missing",
		sprintf("the share of drifted columns is undefined (drift.share_drifted is %s), so drift cannot be judged", [json.marshal(object.get(drift, "share_drifted", null))]),
		{"field": "evidence.drift.share_drifted"},
	)
}

deny contains msg if {
	lib.promotion
	is_object(lib.evidence.drift)
	count({c | some c in declared_drift} - judged_columns) > 0
	unjudged := [c | some c in declared_drift; not c in judged_columns]
	msg := lib.message(
		"data.missing",
		sprintf("the evidence has no drift verdict for the declared %s %s", [lib.plural(count(unjudged), "column", "columns"), lib.list(unjudged)]),
		{"field": "evidence.drift.columns", "columns": unjudged},
	)
}

# --- data.contract -------------------------------------------------------------

violations := [v | vs := results.contract.violations; is_array(vs); some v in vs]

deny contains msg if {
	lib.promotion
	contract_failed
	summary := [{"column": object.get(v, "column", ""), "rule": object.get(v, "rule", ""), "count": object.get(v, "count", null)} |
		some v in violations
		is_object(v)
	]
	msg := lib.message(
		"data.contract",
		sprintf("the data contract failed: %s", [violations_text(summary)]),
		{"violations": summary},
	)
}

contract_failed if results.contract.passed == false

# Violations listed under a passing verdict are still violations.
contract_failed if count(violations) > 0

violations_text(summary) := "no violations listed" if {
	count(summary) == 0
} else := concat("; ", [violation_text(v) | some v in violations; is_object(v)])

# A row count's count is how far the file is from the bound, which would read as
# its number of rows: its message says both.
violation_text(v) := sprintf("row_count: %s", [v.message]) if {
	v.rule == "row_count"
	is_string(v.message)
} else := sprintf("%s: %s %s", [
	trim_space(sprintf("%v %v", [object.get(v, "column", ""), object.get(v, "rule", "")])),
	lib.num(object.get(v, "count", null)), rows(object.get(v, "count", null)),
])

rows(n) := "row" if {
	n == 1
} else := "rows"

# --- data.drift ----------------------------------------------------------------

# The columns with a drift verdict.
judged_columns := {c | some c, column in drift_columns; is_boolean(column.drifted)}

drifted := sort([c | some c, v in drift_columns; v.drifted == true])

deny contains msg if {
	lib.promotion
	share := drift.share_drifted
	is_number(share)
	not lib.below(share, threshold)
	msg := lib.message(
		"data.drift",
		sprintf("share_drifted is %s, at or above %s: %d of %d columns drifted (%s)", [lib.num_vs(share, threshold), lib.exact(threshold), count(drifted), count(drift_columns), column_list]),
		{
			"value": share,
			"threshold": threshold,
			"columns": drifted,
		},
	)
}

warn contains msg if {
	lib.promotion
	share := drift.share_drifted
	is_number(share)
	lib.below(share, threshold)
	some c in drifted
	msg := lib.message(
		"data.drift",
		sprintf("column %s drifted (%s); share_drifted %s stays below %s", [c, statistic_text(drift_columns[c]), lib.num_vs(share, threshold), lib.exact(threshold)]),
		{
			"column": c,
			"value": share,
			"threshold": threshold,
		},
	)
}

column_list := lib.list([sprintf("%s: %s", [c, statistic_text(drift_columns[c])]) | some c in drifted])

# The statistic a column was judged by, as "method value".
statistic_keys := {
	"ks": "ks_pvalue",
	"ks_pvalue": "ks_pvalue",
	"wasserstein": "wasserstein_normed",
	"wasserstein_normed": "wasserstein_normed",
	"psi": "psi",
	"jensen_shannon": "jensen_shannon",
	"jensenshannon": "jensen_shannon",
}

statistic_text(col) := sprintf("%s %s", [key, lib.num(col[key])]) if {
	key := statistic_keys[col.method]
	is_number(col[key])
} else := sprintf("%v", [col.method]) if {
	col.method
} else := "drifted"
