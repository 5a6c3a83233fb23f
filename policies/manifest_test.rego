package modelgate.manifest_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.manifest.deny with input as inp
}

codes(inp) := td.codes(denies(inp))

tier(t) := td.put(td.base, "/manifest/metadata/riskTier", t)

# --- high risk -----------------------------------------------------------------

test_complete_high_risk_manifest_allowed if {
	count(denies(td.base)) == 0
}

test_high_risk_without_intended_use_denied if {
	m := td.one(denies(td.drop(td.base, "/manifest/spec/intendedUse")), "manifest.intended_use")
	m.msg == "fraud-detector 2.3.0: spec.intendedUse is required for high-risk models: say what the model is for"
	m.field == "spec.intendedUse"
	m.risk_tier == "high"
	m.model == "fraud-detector"
	m.version == "2.3.0"
}

test_high_risk_with_blank_intended_use_denied if {
	"manifest.intended_use" in codes(td.put(td.base, "/manifest/spec/intendedUse", "   "))
}

test_high_risk_with_null_intended_use_denied if {
	"manifest.intended_use" in codes(td.put(td.base, "/manifest/spec/intendedUse", null))
}

test_high_risk_without_limitations_denied if {
	codes(td.drop(td.base, "/manifest/spec/limitations")) == {"manifest.limitations"}
}

test_high_risk_without_lineage_denied if {
	ds := denies(td.drop(td.base, "/manifest/spec/lineage"))
	ms := td.by_code(ds, "manifest.lineage")
	{m.field | some m in ms} == {"spec.lineage.code", "spec.lineage.datasets"}
	td.codes(ds) == {"manifest.lineage"}
}

test_high_risk_without_code_commit_denied if {
	m := td.one(denies(td.drop(td.base, "/manifest/spec/lineage/code/commit")), "manifest.lineage")
	m.field == "spec.lineage.code"
}

test_high_risk_with_empty_datasets_denied if {
	m := td.one(denies(td.put(td.base, "/manifest/spec/lineage/datasets", [])), "manifest.lineage")
	m.field == "spec.lineage.datasets"
}

test_high_risk_dataset_without_digest_denied if {
	m := td.one(denies(td.drop(td.base, "/manifest/spec/lineage/datasets/1/digest")), "manifest.dataset_digest")
	m.dataset == "holdout"
	m.field == "spec.lineage.datasets[1].digest"
	m.msg == "fraud-detector 2.3.0: dataset holdout in spec.lineage.datasets has no digest; high-risk models must pin every dataset"
}

test_high_risk_every_dataset_without_digest_named if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/manifest/spec/lineage/datasets/0/digest", "value": ""},
		{"op": "remove", "path": "/manifest/spec/lineage/datasets/1/digest"},
	])
	{m.dataset | some m in td.by_code(denies(inp), "manifest.dataset_digest")} == {"train", "holdout"}
}

test_high_risk_unnamed_dataset_without_digest_named_by_position if {
	inp := td.put(td.base, "/manifest/spec/lineage/datasets/1", {"uri": "s3://acme-data/x"})
	m := td.one(denies(inp), "manifest.dataset_digest")
	m.dataset == "#2"
}

test_high_risk_without_fairness_denied if {
	codes(td.drop(td.base, "/manifest/spec/fairness")) == {"manifest.fairness_attributes"}
}

test_high_risk_with_empty_sensitive_attributes_denied if {
	codes(td.put(td.base, "/manifest/spec/fairness/sensitiveAttributes", [])) == {"manifest.fairness_attributes"}
}

test_high_risk_without_evaluation_denied if {
	codes(td.drop(td.base, "/manifest/spec/evaluation")) == {"manifest.evaluation"}
}

test_high_risk_with_null_evaluation_denied if {
	codes(td.put(td.base, "/manifest/spec/evaluation", null)) == {"manifest.evaluation"}
}

# --- medium and low risk -------------------------------------------------------

bare(t) := json.patch(tier(t), [
	{"op": "remove", "path": "/manifest/spec/intendedUse"},
	{"op": "remove", "path": "/manifest/spec/limitations"},
	{"op": "remove", "path": "/manifest/spec/lineage"},
	{"op": "remove", "path": "/manifest/spec/fairness"},
	{"op": "remove", "path": "/manifest/spec/evaluation"},
])

test_medium_risk_needs_intended_use_and_evaluation_only if {
	codes(bare("medium")) == {"manifest.intended_use", "manifest.evaluation"}
	m := td.one(denies(bare("medium")), "manifest.evaluation")
	m.risk_tier == "medium"
	contains(m.msg, "medium-risk")
}

test_medium_risk_with_intended_use_and_evaluation_allowed if {
	inp := json.patch(bare("medium"), [
		{"op": "add", "path": "/manifest/spec/intendedUse", "value": "Forecast weekly demand."},
		{"op": "add", "path": "/manifest/spec/evaluation", "value": {"predictions": "eval/predictions.csv", "label": "y", "prediction": "p"}},
	])
	count(denies(inp)) == 0
}

test_low_risk_needs_nothing if {
	count(denies(bare("low"))) == 0
}

test_low_risk_regression_fixture_allowed if {
	count(denies(td.regression)) == 0
}

# --- fail closed ---------------------------------------------------------------

test_unknown_risk_tier_judged_as_high if {
	codes(bare("huge")) == {
		"manifest.intended_use", "manifest.limitations", "manifest.lineage",
		"manifest.fairness_attributes", "manifest.evaluation",
	}
}

test_missing_risk_tier_judged_as_high if {
	inp := td.drop(bare("low"), "/manifest/metadata/riskTier")
	"manifest.limitations" in codes(inp)
}

test_missing_manifest_denied if {
	"manifest.intended_use" in codes(td.put(td.base, "/manifest", null))
}

test_non_object_datasets_denied if {
	inp := td.put(td.base, "/manifest/spec/lineage/datasets", ["s3://acme-data/x"])
	m := td.one(denies(inp), "manifest.dataset_digest")
	m.dataset == "#1"
}

test_no_promotion_nothing if {
	count(denies(td.put(bare("high"), "/promotion", null))) == 0
	count(denies(td.policy_change)) == 0
}
