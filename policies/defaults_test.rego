# The built-in policies judge by the documented defaults (schemas/defaults.cue)
# wherever a config leaves a threshold or an approval rule out, as it may in
# `opa eval` or an organisation's own tests: the engine always fills them in,
# and TestRegoDefaultsAreTheConfigDefaults pins these to that config.
package modelgate.defaults_test

import data.modelgate.testdata as td

# The fixture with a config that sets no thresholds, and with an empty config.
partial_configs := [
	td.drop(td.base, "/config/thresholds"),
	td.put(td.base, "/config", {}),
]

denied(pkg, doc, code) := ms if {
	ms := td.by_code(data.modelgate[pkg].deny, code) with input as doc
}

warned(pkg, doc, code) := ms if {
	ms := td.by_code(data.modelgate[pkg].warn, code) with input as doc
}

test_disparate_impact_min_defaults_to_four_fifths if {
	every doc in partial_configs {
		# Against M's selection rate of 0.064: 0.0512 is on 0.8, 0.0511 below.
		count(denied("fairness", td.put(doc, "/evidence/fairness/sex/groups/F/selection_rate", 0.0512), "fairness.disparate_impact")) == 0
		[m] := denied("fairness", td.put(doc, "/evidence/fairness/sex/groups/F/selection_rate", 0.0511), "fairness.disparate_impact")
		m.threshold == 0.8
	}
}

test_equalized_odds_max_defaults_to_a_tenth if {
	every doc in partial_configs {
		# Against M's tpr of 0.75.
		count(denied("fairness", td.put(doc, "/evidence/fairness/sex/groups/F/tpr", 0.65), "fairness.equalized_odds")) == 0
		[m] := denied("fairness", td.put(doc, "/evidence/fairness/sex/groups/F/tpr", 0.6499), "fairness.equalized_odds")
		m.threshold == 0.1
	}
}

test_min_group_size_defaults_to_30 if {
	every doc in partial_configs {
		# 65+ selects four times as often as the others: judged, it denies.
		count(denied("fairness", td.put(doc, "/evidence/fairness/age_band/groups/65+/count", 29), "fairness.disparate_impact")) == 0
		[w] := warned("fairness", td.put(doc, "/evidence/fairness/age_band/groups/65+/count", 29), "fairness.undefined")
		w.threshold == 30
		[m] := denied("fairness", td.put(doc, "/evidence/fairness/age_band/groups/65+/count", 30), "fairness.disparate_impact")
		m.reference_group == "65+"
	}
}

drifted(doc, share) := json.patch(doc, [
	{"op": "replace", "path": "/evidence/drift/columns/amount/drifted", "value": true},
	{"op": "replace", "path": "/evidence/drift/share_drifted", "value": share},
])

test_share_drifted_defaults_to_a_half if {
	every doc in partial_configs {
		count(denied("data", drifted(doc, 0.4999), "data.drift")) == 0
		[m] := denied("data", drifted(doc, 0.5), "data.drift")
		m.threshold == 0.5
	}
}

metric(doc, name, value) := td.put(doc, sprintf("/evidence/evaluation/metrics/%s", [name]), value)

test_evaluation_minimum_defaults if {
	multiclass := json.patch(td.base, [
		{"op": "replace", "path": "/manifest/spec/task", "value": "multiclass_classification"},
		{"op": "replace", "path": "/evidence/evaluation", "value": {"task": "multiclass_classification", "rows": 900, "metrics": {"macro_f1": 0.7}, "baseline": {"rows": 900, "metrics": {"macro_f1": 0.7}}}},
	])
	every c in [
		{"doc": td.base, "metric": "roc_auc", "minimum": 0.7},
		{"doc": multiclass, "metric": "macro_f1", "minimum": 0.6},
		{"doc": td.regression, "metric": "r2", "minimum": 0.5},
	] {
		every doc in [td.drop(c.doc, "/config/thresholds"), td.put(c.doc, "/config", {})] {
			count(denied("evaluation", metric(doc, c.metric, c.minimum), "evaluation.minimum")) == 0
			[m] := denied("evaluation", metric(doc, c.metric, c.minimum - 0.0001), "evaluation.minimum")
			m.threshold == c.minimum
		}
	}
}

test_max_regression_defaults_to_a_hundredth if {
	every doc in partial_configs {
		# Against the baseline's roc_auc of 0.924.
		count(denied("evaluation", metric(doc, "roc_auc", 0.914), "evaluation.regression")) == 0
		[m] := denied("evaluation", metric(doc, "roc_auc", 0.9139), "evaluation.regression")
		m.threshold == 0.01
	}
}

without_approval_rules := [
	td.drop(td.base, "/config/approvals"),
	td.put(td.base, "/config", {}),
]

approvals(doc, list) := td.put(doc, "/pull_request/approvals", list)

bob := {"user": "bob", "teams": ["acme/compliance"], "sha": td.head}

carol := {"user": "carol", "teams": ["acme/risk-ml"], "sha": td.head}

dave := {"user": "dave", "teams": ["acme/risk-ml"], "sha": td.head}

test_production_needs_two_approvals_one_from_compliance_by_default if {
	every doc in without_approval_rules {
		count(data.modelgate.approvals.deny) == 0 with input as doc
		[m] := denied("approvals", approvals(doc, [bob]), "approvals.count")
		m.threshold == 2
		[t] := denied("approvals", approvals(doc, [carol, dave]), "approvals.team")
		t.team == "compliance"
	}
}

test_staging_needs_one_approval_by_default if {
	every doc in [td.drop(td.regression, "/config/approvals"), td.put(td.regression, "/config", {})] {
		count(data.modelgate.approvals.deny) == 0 with input as approvals(doc, [carol])
		[m] := denied("approvals", approvals(doc, []), "approvals.count")
		m.threshold == 1
	}
}

test_policy_change_needs_two_approvals_one_from_compliance_by_default if {
	every doc in [td.drop(td.policy_change, "/config/approvals"), td.put(td.policy_change, "/config", {})] {
		count(data.modelgate.policy_change.deny) == 0 with input as doc
		[m] := by_threshold(denied("policy_change", approvals(doc, [bob]), "policy_change.approvals"))
		m.threshold == 2
		[t] := denied("policy_change", approvals(doc, [carol, dave]), "policy_change.approvals")
		t.team == "compliance"
	}
}

by_threshold(msgs) := [m | some m in msgs; m.threshold]

test_rollback_needs_one_approval_by_default if {
	rollback := json.patch(td.base, [
		{"op": "replace", "path": "/promotion/version", "value": "2.1.0"},
		{"op": "replace", "path": "/promotion/rollback", "value": true},
		{"op": "replace", "path": "/manifest/metadata/version", "value": "2.1.0"},
	])
	every doc in [td.drop(rollback, "/config/approvals"), td.put(rollback, "/config", {}), td.drop(rollback, "/config/approvals/rollback")] {
		count(data.modelgate.approvals.deny) == 0 with input as approvals(doc, [carol])
		[m] := denied("approvals", approvals(doc, []), "approvals.count")
		m.threshold == 1
	}
}
