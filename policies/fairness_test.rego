package modelgate.fairness_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.fairness.deny with input as inp
}

warns(inp) := w if {
	w := data.modelgate.fairness.warn with input as inp
}

codes(inp) := td.codes(denies(inp))

group(attr, g, key, v) := td.put(td.base, sprintf("/evidence/fairness/%s/groups/%s/%s", [attr, g, key]), v)

patch_group(doc, attr, g, key, v) := td.put(doc, sprintf("/evidence/fairness/%s/groups/%s/%s", [attr, g, key]), v)

medium(doc) := td.put(doc, "/manifest/metadata/riskTier", "medium")

test_fair_model_allowed if {
	count(denies(td.base)) == 0
}

# --- small groups --------------------------------------------------------------

test_small_group_warned_and_not_judged if {
	# 65+ has 12 rows and a selection rate four times the others'.
	w := td.one(warns(td.base), "fairness.undefined")
	w.msg == "fraud-detector 2.3.0: group 65+ (12 rows) of age_band has fewer than 30 rows and was not judged"
	w.attribute == "age_band"
	w.groups == ["65+ (12 rows)"]
	w.threshold == 30
}

test_small_group_with_zero_selection_not_judged if {
	count(denies(group("age_band", "65+", "selection_rate", 0))) == 0
}

test_group_exactly_at_min_size_judged if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/fairness/age_band/groups/65+/count", "value": 30},
		{"op": "replace", "path": "/evidence/fairness/age_band/groups/65+/selection_rate", "value": 0.02},
	])
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.group == "65+"
	count(warns(inp)) == 0
}

test_min_group_size_from_config if {
	inp := td.put(td.base, "/config/thresholds/fairness/minGroupSize", 1000)
	w := {m | some m in warns(inp); m.attribute == "age_band"}
	count(w) == 1
	some m in w
	m.groups == ["18-25 (640 rows)", "65+ (12 rows)"]
	m.msg == "fraud-detector 2.3.0: groups 18-25 (640 rows), 65+ (12 rows) of age_band have fewer than 1000 rows and were not judged"
}

test_group_without_count_not_judged if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/evidence/fairness/age_band/groups/18-25/count"},
		{"op": "replace", "path": "/evidence/fairness/age_band/groups/18-25/selection_rate", "value": 0.001},
	])
	count(denies(inp)) == 0
	some w in warns(inp)
	"18-25 (null rows)" in w.groups
}

# --- fairness.disparate_impact -------------------------------------------------

test_disparate_impact_below_four_fifths_denied if {
	inp := group("sex", "F", "selection_rate", 0.045)
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.msg == "fraud-detector 2.3.0: disparate_impact_ratio for sex is 0.7031, below 0.8 (selection rate 0.045 for F against 0.064 for the reference group M)"
	m.attribute == "sex"
	m.metric == "disparate_impact_ratio"
	m.value == 0.703125
	m.threshold == 0.8
	m.group == "F"
	m.reference_group == "M"
	codes(inp) == {"fairness.disparate_impact"}
}

test_disparate_impact_exactly_four_fifths_allowed if {
	count(denies(group("sex", "F", "selection_rate", 0.0512))) == 0
}

test_disparate_impact_just_below_printed_below if {
	m := td.one(denies(group("sex", "F", "selection_rate", 0.0511974)), "fairness.disparate_impact")
	startswith(m.msg, "fraud-detector 2.3.0: disparate_impact_ratio for sex is 0.79996, below 0.8 ")
}

test_disparate_impact_threshold_from_config if {
	inp := td.put(td.base, "/config/thresholds/fairness/disparateImpactMin", 0.96)
	ms := td.by_code(denies(inp), "fairness.disparate_impact")
	{[m.attribute, m.threshold] | some m in ms} == {["sex", 0.96], ["age_band", 0.96]}
}

test_reference_group_from_manifest if {
	inp := td.drop(group("sex", "F", "selection_rate", 0.045), "/evidence/fairness/sex/reference_group")
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.reference_group == "M"
	contains(m.msg, "for the reference group M")
}

test_reference_group_higher_rate_is_not_a_disparity if {
	# The four-fifths rule relative to the reference group: M selected less is
	# not judged against F.
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/fairness/sex/groups/F/selection_rate", "value": 0.09},
		{"op": "replace", "path": "/evidence/fairness/sex/groups/F/tpr", "value": 0.8},
	])
	count(denies(inp)) == 0
}

test_without_reference_group_min_over_max if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/evidence/fairness/sex/reference_group"},
		{"op": "remove", "path": "/manifest/spec/fairness/referenceGroups"},
		{"op": "replace", "path": "/evidence/fairness/sex/groups/M/selection_rate", "value": 0.04},
	])
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.msg == "fraud-detector 2.3.0: disparate_impact_ratio for sex is 0.6557, below 0.8 (lowest selection rate 0.04 for M against the highest 0.061 for F)"
	m.reference_group == "F"
}

test_age_band_min_over_max_over_eligible_groups if {
	inp := group("age_band", "41-65", "selection_rate", 0.05)
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.attribute == "age_band"
	m.group == "41-65"
	m.reference_group == "18-25"
}

test_small_reference_group_falls_back_to_min_over_max if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/fairness/sex/groups/M/count", "value": 20},
		{"op": "add", "path": "/evidence/fairness/sex/groups/X", "value": {"count": 400, "selection_rate": 0.03, "tpr": 0.74, "fpr": 0.02, "accuracy": 0.95}},
	])
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.msg == "fraud-detector 2.3.0: disparate_impact_ratio for sex is 0.4918, below 0.8 (lowest selection rate 0.03 for X against the highest 0.061 for F; the reference group M is not usable: it has fewer than 30 rows)"
}

test_reference_group_never_selected_falls_back if {
	inp := group("sex", "M", "selection_rate", 0)
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.value == 0
	contains(m.msg, "the reference group M is not usable: its selection rate is undefined or 0")
}

test_missing_reference_group_falls_back if {
	inp := td.put(td.base, "/evidence/fairness/sex/reference_group", "U")
	count(denies(inp)) == 0
	inp2 := td.put(group("sex", "F", "selection_rate", 0.045), "/evidence/fairness/sex/reference_group", "U")
	m := td.one(denies(inp2), "fairness.disparate_impact")
	contains(m.msg, "the reference group U is not usable: it has no results")
}

test_disparate_impact_for_medium_risk_denied if {
	"fairness.disparate_impact" in codes(medium(group("sex", "F", "selection_rate", 0.045)))
}

# --- fairness.equalized_odds ---------------------------------------------------

test_equalized_odds_above_bound_denied if {
	inp := group("sex", "F", "tpr", 0.6)
	m := td.one(denies(inp), "fairness.equalized_odds")
	m.msg == "fraud-detector 2.3.0: equalized_odds_difference for sex is 0.15, above 0.1 (tpr 0.6 for F against 0.75 for M)"
	m.attribute == "sex"
	m.metric == "equalized_odds_difference"
	m.value == 0.15
	m.threshold == 0.1
	m.rate == "tpr"
	codes(inp) == {"fairness.equalized_odds"}
}

test_equalized_odds_from_fpr if {
	inp := group("age_band", "18-25", "fpr", 0.15)
	m := td.one(denies(inp), "fairness.equalized_odds")
	m.rate == "fpr"
	contains(m.msg, "(fpr 0.019 for 41-65 against 0.15 for 18-25)")
}

test_equalized_odds_exactly_at_bound_allowed if {
	count(denies(group("sex", "F", "tpr", 0.65))) == 0
	count(denies(group("age_band", "18-25", "fpr", 0.119))) == 0
}

test_equalized_odds_just_above_bound_printed_above if {
	m := td.one(denies(group("sex", "F", "tpr", 0.64999)), "fairness.equalized_odds")
	contains(m.msg, "is 0.10001, above 0.1")
}

test_equalized_odds_skips_null_rates if {
	inp := group("sex", "F", "tpr", null)
	count(denies(inp)) == 0
	count(warns(inp)) == 1
}

test_equalized_odds_small_groups_excluded if {
	# 65+ (12 rows) has fpr 0.25: not judged.
	count(denies(group("age_band", "65+", "tpr", 0.1))) == 0
}

# --- fairness.undefined --------------------------------------------------------

all_small := td.put(td.base, "/config/thresholds/fairness/minGroupSize", 100000)

test_no_eligible_group_denied_for_high_risk if {
	ms := td.by_code(denies(all_small), "fairness.undefined")
	{[m.attribute, m.metric] | some m in ms} == {
		["sex", "disparate_impact_ratio"], ["sex", "equalized_odds_difference"],
		["age_band", "disparate_impact_ratio"], ["age_band", "equalized_odds_difference"],
	}
	some m in ms
	m.attribute == "sex"
	m.metric == "disparate_impact_ratio"
	m.msg == "fraud-detector 2.3.0: disparate_impact_ratio for sex is undefined: no group has 100000 or more rows"
	m.value == null
}

test_no_eligible_group_warned_for_medium_risk if {
	inp := medium(all_small)
	count(denies(inp)) == 0
	count(td.by_code(warns(inp), "fairness.undefined")) == 6
}

test_null_selection_rates_denied if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/fairness/sex/groups/F/selection_rate", "value": null},
		{"op": "replace", "path": "/evidence/fairness/sex/groups/M/selection_rate", "value": null},
	])
	m := td.one(denies(inp), "fairness.undefined")
	m.msg == "fraud-detector 2.3.0: disparate_impact_ratio for sex is undefined: fewer than two groups with 30 or more rows have a defined selection_rate"
}

test_single_eligible_group_undefined if {
	inp := json.patch(td.base, [{"op": "replace", "path": "/evidence/fairness/sex/groups/F/count", "value": 4}])
	{m.metric | some m in td.by_code(denies(inp), "fairness.undefined")} == {"disparate_impact_ratio", "equalized_odds_difference"}
}

test_nobody_selected_undefined if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/fairness/sex/groups/F/selection_rate", "value": 0},
		{"op": "replace", "path": "/evidence/fairness/sex/groups/M/selection_rate", "value": 0},
	])
	m := td.one(denies(inp), "fairness.undefined")
	m.msg == "fraud-detector 2.3.0: disparate_impact_ratio for sex is undefined: the selection_rate is 0 in every group"
}

test_null_true_and_false_positive_rates_undefined if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/evidence/fairness/sex/groups/F/tpr", "value": null},
		{"op": "replace", "path": "/evidence/fairness/sex/groups/F/fpr", "value": null},
	])
	m := td.one(denies(inp), "fairness.undefined")
	m.metric == "equalized_odds_difference"
	m.msg == "fraud-detector 2.3.0: equalized_odds_difference for sex is undefined: fewer than two groups with 30 or more rows have a defined tpr or fpr"
}

test_empty_groups_undefined if {
	inp := td.put(td.base, "/evidence/fairness/sex/groups", {})
	count(td.by_code(denies(inp), "fairness.undefined")) == 2
}

# --- fairness.missing ----------------------------------------------------------

test_no_fairness_evidence_denied_for_high_risk if {
	inp := td.drop(td.base, "/evidence/fairness")
	m := td.one(denies(inp), "fairness.missing")
	m.msg == "fraud-detector 2.3.0: the manifest declares fairness checks for sex, age_band but the evidence has no fairness results"
	codes(inp) == {"fairness.missing"}
}

test_null_evidence_denied_for_high_risk if {
	codes(td.put(td.base, "/evidence", null)) == {"fairness.missing"}
}

test_high_risk_without_declared_fairness_denied if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/manifest/spec/fairness"},
		{"op": "remove", "path": "/evidence/fairness"},
	])
	m := td.one(denies(inp), "fairness.missing")
	m.msg == "fraud-detector 2.3.0: high-risk models need fairness evidence, but the manifest declares no sensitive attributes (spec.fairness) and the evidence has no fairness results"
}

test_declared_attribute_without_results_denied if {
	inp := td.drop(td.base, "/evidence/fairness/age_band")
	m := td.one(denies(inp), "fairness.missing")
	m.attribute == "age_band"
	m.msg == "fraud-detector 2.3.0: the evidence has no fairness results for the sensitive attribute age_band"
}

test_declared_attribute_without_groups_denied if {
	inp := td.put(td.base, "/evidence/fairness/sex", {"reference_group": "M"})
	m := td.one(denies(inp), "fairness.missing")
	m.attribute == "sex"
}

test_no_fairness_evidence_warned_for_medium_risk if {
	inp := medium(td.drop(td.base, "/evidence/fairness"))
	count(denies(inp)) == 0
	td.codes(warns(inp)) == {"fairness.missing"}
}

test_low_risk_without_fairness_needs_nothing if {
	count(denies(td.regression)) == 0
	count(warns(td.regression)) == 0
}

test_undeclared_attribute_in_evidence_judged if {
	inp := json.patch(td.regression, [{"op": "add", "path": "/evidence/fairness", "value": {"region": {
		"groups": {
			"north": {"count": 900, "selection_rate": 0.2, "tpr": 0.8, "fpr": 0.1, "accuracy": 0.9},
			"south": {"count": 800, "selection_rate": 0.1, "tpr": 0.8, "fpr": 0.1, "accuracy": 0.9},
		},
		"demographic_parity_difference": 0.1,
		"demographic_parity_ratio": 0.5,
		"equalized_odds_difference": 0,
		"equal_opportunity_difference": 0,
		"disparate_impact_ratio": 0.5,
	}}}])
	m := td.one(denies(inp), "fairness.disparate_impact")
	m.msg == "demand-forecast 1.5.0: disparate_impact_ratio for region is 0.5, below 0.8 (lowest selection rate 0.1 for south against the highest 0.2 for north)"
}

# --- no promotion --------------------------------------------------------------

test_no_promotion_nothing if {
	inp := td.put(group("sex", "F", "selection_rate", 0.01), "/promotion", null)
	count(denies(inp)) == 0
	count(warns(inp)) == 0
	count(denies(td.policy_change)) == 0
}
