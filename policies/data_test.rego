package modelgate.data_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.data.deny with input as inp
}

warns(inp) := w if {
	w := data.modelgate.data.warn with input as inp
}

codes(inp) := td.codes(denies(inp))

# drifted marks columns of the base evidence as drifted and sets the share.
drifted(columns, share) := json.patch(td.base, array.concat(
	[{"op": "replace", "path": sprintf("/evidence/drift/columns/%s/drifted", [c]), "value": true} | some c in columns],
	[{"op": "replace", "path": "/evidence/drift/share_drifted", "value": share}],
))

test_clean_data_allowed if {
	count(denies(td.base)) == 0
	count(warns(td.base)) == 0
}

# --- data.missing --------------------------------------------------------------

test_no_evidence_denied if {
	ds := denies(td.put(td.base, "/evidence", null))
	td.codes(ds) == {"data.missing"}
	{m.field | some m in ds} == {"evidence.data", "evidence.drift"}
}

test_no_data_results_denied if {
	m := td.one(denies(td.drop(td.base, "/evidence/data")), "data.missing")
	m.msg == "fraud-detector 2.3.0: the manifest declares data checks (spec.data) but the evidence has no data results"
}

test_no_contract_verdict_denied if {
	m := td.one(denies(td.drop(td.base, "/evidence/data/contract/passed")), "data.missing")
	m.field == "evidence.data.contract.passed"
}

test_null_contract_verdict_denied if {
	"data.missing" in codes(td.put(td.base, "/evidence/data/contract", null))
}

test_no_drift_results_denied if {
	m := td.one(denies(td.drop(td.base, "/evidence/drift")), "data.missing")
	m.msg == "fraud-detector 2.3.0: the manifest declares drift checks for amount, country, merchant_category, hour, account_age_days but the evidence has no drift results"
}

test_undefined_share_denied if {
	m := td.one(denies(td.put(td.base, "/evidence/drift/share_drifted", null)), "data.missing")
	m.msg == "fraud-detector 2.3.0: the share of drifted columns is undefined (drift.share_drifted is null), so drift cannot be judged"
}

test_declared_column_without_verdict_denied if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/evidence/drift/columns/hour"},
		{"op": "replace", "path": "/evidence/drift/columns/amount/drifted", "value": null},
	])
	m := td.one(denies(inp), "data.missing")
	m.columns == ["amount", "hour"]
	m.msg == "fraud-detector 2.3.0: the evidence has no drift verdict for the declared columns amount, hour"
}

test_no_data_declared_nothing_needed if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/manifest/spec/data"},
		{"op": "remove", "path": "/evidence/data"},
		{"op": "remove", "path": "/evidence/drift"},
	])
	count(denies(inp)) == 0
}

test_data_without_drift_declared if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/manifest/spec/data/drift"},
		{"op": "remove", "path": "/evidence/drift"},
	])
	count(denies(inp)) == 0
}

# --- data.contract -------------------------------------------------------------

violations := [
	{"column": "amount", "rule": "min", "count": 12, "message": "12 values below 0", "rows": [3, 17]},
	{"column": "country", "rule": "allowed", "count": 1, "message": "1 value not in US, GB, DE, FR, NL, ES"},
]

test_failed_contract_denied_with_violations if {
	inp := td.put(td.base, "/evidence/data/contract", {"passed": false, "violations": violations})
	m := td.one(denies(inp), "data.contract")
	m.msg == "fraud-detector 2.3.0: the data contract failed: amount min: 12 rows; country allowed: 1 row"
	m.violations == [
		{"column": "amount", "rule": "min", "count": 12},
		{"column": "country", "rule": "allowed", "count": 1},
	]
	codes(inp) == {"data.contract"}
}

test_failed_contract_without_violations_denied if {
	inp := td.put(td.base, "/evidence/data/contract/passed", false)
	m := td.one(denies(inp), "data.contract")
	m.msg == "fraud-detector 2.3.0: the data contract failed: no violations listed"
}

test_violations_under_a_passing_verdict_denied if {
	inp := td.put(td.base, "/evidence/data/contract/violations", violations)
	"data.contract" in codes(inp)
}

test_row_count_says_rows_and_bound if {
	inp := td.put(td.base, "/evidence/data/contract", {"passed": false, "violations": [
		{"column": "", "rule": "row_count", "count": 980, "message": "20 rows, fewer than the minimum 1,000"},
		{"column": "amount", "rule": "min", "count": 12, "message": "12 values below 0"},
	]})
	m := td.one(denies(inp), "data.contract")
	m.msg == "fraud-detector 2.3.0: the data contract failed: row_count: 20 rows, fewer than the minimum 1,000; amount min: 12 rows"
}

test_row_count_violation if {
	inp := td.put(td.base, "/evidence/data/contract", {"passed": false, "violations": [{"column": "", "rule": "rowCount.min", "count": 1, "message": "812 rows, fewer than 1000"}]})
	m := td.one(denies(inp), "data.contract")
	contains(m.msg, "rowCount.min")
}

# --- data.drift ----------------------------------------------------------------

test_drift_above_share_denied if {
	inp := json.patch(drifted(["amount", "country", "hour"], 0.6), [
		{"op": "replace", "path": "/evidence/drift/columns/amount/ks_pvalue", "value": 0.00031},
		{"op": "replace", "path": "/evidence/drift/columns/country/jensen_shannon", "value": 0.1834},
		{"op": "replace", "path": "/evidence/drift/columns/hour/method", "value": "wasserstein"},
		{"op": "replace", "path": "/evidence/drift/columns/hour/wasserstein_normed", "value": 0.1412},
	])
	m := td.one(denies(inp), "data.drift")
	m.msg == "fraud-detector 2.3.0: share_drifted is 0.6, at or above 0.5: 3 of 5 columns drifted (amount: ks_pvalue 0.00031, country: jensen_shannon 0.1834, hour: wasserstein_normed 0.1412)"
	m.columns == ["amount", "country", "hour"]
	m.value == 0.6
	m.threshold == 0.5
	count(warns(inp)) == 0
}

test_drift_exactly_at_share_denied if {
	inp := drifted(["amount", "country"], 0.5)
	"data.drift" in codes(inp)
}

test_drift_just_below_share_warns if {
	inp := drifted(["amount", "country"], 0.4999)
	count(denies(inp)) == 0
	ws := warns(inp)
	{w.column | some w in ws} == {"amount", "country"}
	td.codes(ws) == {"data.drift"}
	some w in ws
	w.column == "amount"
	w.msg == "fraud-detector 2.3.0: column amount drifted (ks_pvalue 0.2063); share_drifted 0.4999 stays below 0.5"
}

test_drift_share_printed_on_its_side_of_the_threshold if {
	m := td.one(denies(drifted(["amount"], 0.50001)), "data.drift")
	startswith(m.msg, "fraud-detector 2.3.0: share_drifted is 0.50001, at or above 0.5")
	some w in warns(drifted(["amount"], 0.49999))
	contains(w.msg, "share_drifted 0.49999 stays below 0.5")
}

test_drift_threshold_from_config if {
	inp := td.put(drifted(["amount", "country"], 0.4), "/config/thresholds/drift/shareDrifted", 0.3)
	m := td.one(denies(inp), "data.drift")
	m.threshold == 0.3
}

test_drift_threshold_defaults_without_config if {
	inp := td.drop(drifted(["amount", "country", "hour"], 0.6), "/config/thresholds")
	m := td.one(denies(inp), "data.drift")
	m.threshold == 0.5
}

test_unknown_drift_method_named if {
	inp := td.put(drifted(["amount", "country", "hour"], 0.6), "/evidence/drift/columns/amount/method", "custom")
	m := td.one(denies(inp), "data.drift")
	contains(m.msg, "(amount: custom, country:")
}

# --- no promotion --------------------------------------------------------------

test_no_promotion_nothing if {
	inp := td.put(drifted(["amount", "country", "hour"], 0.6), "/promotion", null)
	count(denies(inp)) == 0
	count(warns(inp)) == 0
	count(denies(td.policy_change)) == 0
}
