# The shared test fixture: a realistic input document, the promotion of
# fraud-detector 2.3.0 (high risk) from staging to production, that every
# built-in policy allows. Tests vary it with json.patch (see put/drop).
package modelgate.testdata

head := "5f3c9a1e2b7d4c6f8a0b1c2d3e4f5a6b7c8d9e0f"

older := "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"

config := {
	"stages": [
		{"name": "dev", "soak": "0s"},
		{"name": "staging", "soak": "24h0m0s"},
		{"name": "production", "soak": "72h0m0s"},
	],
	"approvals": {
		"staging": {"count": 1, "teams": []},
		"production": {"count": 2, "teams": ["compliance"]},
		"policyChange": {"count": 2, "teams": ["compliance"]},
		"rollback": {"count": 1, "teams": []},
	},
	"merge": {"method": "squash"},
	"thresholds": {
		"drift": {
			"numericMethod": "auto",
			"categoricalMethod": "jensen_shannon",
			"ksPValue": 0.05,
			"wassersteinNormed": 0.1,
			"jensenShannon": 0.1,
			"psi": 0.2,
			"shareDrifted": 0.5,
		},
		"evaluation": {
			"minimum": {
				"binary_classification": {"roc_auc": 0.7},
				"multiclass_classification": {"macro_f1": 0.6},
				"regression": {"r2": 0.5},
			},
			"maxRegression": 0.01,
		},
		"fairness": {
			"disparateImpactMin": 0.8,
			"equalizedOddsMax": 0.1,
			"minGroupSize": 30,
		},
	},
	"evidence": {
		"trustedWorkflows": [workflow],
		"requireTrustedFor": ["high"],
	},
	"data": {},
}

# The reusable workflow whose uploads the config trusts.
workflow := "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main"

manifest := {
	"apiVersion": "modelgate/v1",
	"kind": "Model",
	"metadata": {
		"name": "fraud-detector",
		"version": "2.3.0",
		"owner": "@acme/risk-ml",
		"riskTier": "high",
	},
	"spec": {
		"task": "binary_classification",
		"intendedUse": "Score consumer card transactions for manual fraud review.",
		"limitations": "Not validated for business or corporate cards.",
		"artifact": {
			"uri": "s3://acme-models/fraud-detector/2.3.0/model.onnx",
			"digest": "sha256:1170c26f59c31de7345adfbc0be233ac7950992df35235006855a6e59b45b07f",
			"framework": "onnx",
		},
		"lineage": {
			"code": {"repository": "acme/fraud-training", "commit": "c8d48802867b54354acd8c7fb84e6f5371d8b3b1"},
			"datasets": [
				{"name": "train", "uri": "s3://acme-data/fraud/transactions/2026-10", "digest": "sha256:412054f28eb392ffa64aa1751e1a9605350f4d4ad6d05845e9d311788b6dbcfd"},
				{"name": "holdout", "uri": "s3://acme-data/fraud/holdout/2026-10", "digest": "sha256:293418e910b083022a65d052863033b4e0495392a8e4fa94e66dac9599a74581"},
			],
		},
		"data": {
			"reference": "data/reference.csv",
			"current": "data/current.csv",
			"contract": {
				"rowCount": {"min": 1000},
				"columns": [
					{"name": "txn_id", "type": "string", "nullable": false, "unique": true},
					{"name": "amount", "type": "float", "nullable": false, "min": 0, "max": 100000},
					{"name": "country", "type": "string", "nullable": false, "allowed": ["US", "GB", "DE", "FR", "NL", "ES"]},
				],
			},
			"drift": {"columns": ["amount", "country", "merchant_category", "hour", "account_age_days"]},
		},
		"evaluation": {
			"predictions": "eval/predictions.csv",
			"label": "label",
			"score": "score",
			"prediction": "prediction",
			"threshold": 0.5,
			"baseline": "eval/baseline_predictions.csv",
		},
		"fairness": {
			"sensitiveAttributes": ["sex", "age_band"],
			"referenceGroups": {"sex": "M"},
		},
	},
}

evidence := {
	"schema": "modelgate.evidence/v1",
	"model": {"name": "fraud-detector", "version": "2.3.0"},
	"inputs": [
		{"role": "reference", "path": "data/reference.csv", "sha256": "9d1f0c6b7a2e4d3c8b5a6f7e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c", "rows": 5000},
		{"role": "current", "path": "data/current.csv", "sha256": "1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d", "rows": 5000},
		{"role": "predictions", "path": "eval/predictions.csv", "sha256": "2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e", "rows": 5000},
		{"role": "baseline", "path": "eval/baseline_predictions.csv", "sha256": "3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f", "rows": 5000},
	],
	"data": {
		"rows": 5000,
		"contract": {"passed": true, "violations": []},
	},
	"drift": {
		"columns": {
			"amount": {"kind": "numeric", "method": "ks", "ks_statistic": 0.0212, "ks_pvalue": 0.2063, "psi": 0.0123, "wasserstein": 3.21, "wasserstein_normed": 0.0187, "drifted": false},
			"country": {"kind": "categorical", "method": "jensen_shannon", "psi": 0.0041, "jensen_shannon": 0.0213, "drifted": false},
			"merchant_category": {"kind": "categorical", "method": "jensen_shannon", "psi": 0.0067, "jensen_shannon": 0.0302, "drifted": false},
			"hour": {"kind": "numeric", "method": "ks", "ks_statistic": 0.0154, "ks_pvalue": 0.5871, "psi": 0.0058, "wasserstein": 0.142, "wasserstein_normed": 0.0223, "drifted": false},
			"account_age_days": {"kind": "numeric", "method": "ks", "ks_statistic": 0.0188, "ks_pvalue": 0.3312, "psi": 0.0094, "wasserstein": 21.7, "wasserstein_normed": 0.0241, "drifted": false},
		},
		"share_drifted": 0,
	},
	"evaluation": {
		"task": "binary_classification",
		"rows": 5000,
		"metrics": {
			"accuracy": 0.962,
			"precision": 0.81,
			"recall": 0.745,
			"f1": 0.7761,
			"roc_auc": 0.931,
			"log_loss": 0.112,
			"brier": 0.031,
		},
		"baseline": {
			"rows": 5000,
			"metrics": {
				"accuracy": 0.958,
				"precision": 0.79,
				"recall": 0.73,
				"f1": 0.7589,
				"roc_auc": 0.924,
				"log_loss": 0.118,
				"brier": 0.033,
			},
		},
	},
	"fairness": {
		"sex": {
			"reference_group": "M",
			"groups": {
				"F": {"count": 2480, "selection_rate": 0.061, "tpr": 0.74, "fpr": 0.021, "accuracy": 0.961},
				"M": {"count": 2520, "selection_rate": 0.064, "tpr": 0.75, "fpr": 0.022, "accuracy": 0.963},
			},
			"demographic_parity_difference": 0.003,
			"demographic_parity_ratio": 0.953125,
			"equalized_odds_difference": 0.01,
			"equal_opportunity_difference": 0.01,
			"disparate_impact_ratio": 0.953125,
		},
		"age_band": {
			"groups": {
				"18-25": {"count": 640, "selection_rate": 0.071, "tpr": 0.72, "fpr": 0.028, "accuracy": 0.955},
				"26-40": {"count": 1820, "selection_rate": 0.063, "tpr": 0.75, "fpr": 0.022, "accuracy": 0.962},
				"41-65": {"count": 2528, "selection_rate": 0.059, "tpr": 0.76, "fpr": 0.019, "accuracy": 0.964},
				"65+": {"count": 12, "selection_rate": 0.25, "tpr": null, "fpr": 0.25, "accuracy": 0.75},
			},
			"demographic_parity_difference": 0.191,
			"demographic_parity_ratio": 0.236,
			"equalized_odds_difference": 0.231,
			"equal_opportunity_difference": 0.04,
			"disparate_impact_ratio": 0.236,
		},
	},
}

base := {
	"manifest": manifest,
	"evidence": evidence,
	"evidence_source": {"kind": "oidc", "workflow": workflow, "run_id": "7312", "verified_at": "2026-11-23T10:40:00Z"},
	"promotion": {
		"model": "fraud-detector",
		"version": "2.3.0",
		"from_version": "2.2.0",
		"from_stage": "staging",
		"to_stage": "production",
		"rollback": false,
		"manifest_path": "models/fraud-detector/2.3.0/model.yaml",
	},
	"pull_request": {
		"number": 42,
		"author": "alice",
		"head_sha": head,
		"base_ref": "main",
		"labels": ["ml"],
		"approvals": [
			{"user": "bob", "teams": ["acme/compliance"], "sha": head},
			{"user": "carol", "teams": ["acme/risk-ml"], "sha": head},
		],
		"committers": ["alice"],
		"changed_files": ["environments/production.yaml"],
	},
	"history": {
		"now": "2026-11-23T11:00:00Z",
		"stages": {
			"dev": {"version": "2.3.0", "since": "2026-11-16T09:30:00Z", "versions": ["2.3.0", "2.2.0", "2.1.0"]},
			"staging": {"version": "2.3.0", "since": "2026-11-19T11:00:00Z", "versions": ["2.3.0", "2.2.0", "2.1.0"]},
			"production": {"version": "2.2.0", "since": "2026-10-30T15:12:00Z", "versions": ["2.2.0", "2.1.0"]},
		},
	},
	"config": config,
}

# A low-risk regression model: demand-forecast 1.5.0, from dev to staging.
regression := json.patch(base, [
	{"op": "replace", "path": "/manifest/metadata", "value": {"name": "demand-forecast", "version": "1.5.0", "owner": "@acme/supply-chain-ml", "riskTier": "low"}},
	{"op": "replace", "path": "/manifest/spec/task", "value": "regression"},
	{"op": "remove", "path": "/manifest/spec/fairness"},
	{"op": "replace", "path": "/manifest/spec/evaluation", "value": {"predictions": "eval/predictions.csv", "label": "units_sold", "prediction": "forecast", "baseline": "eval/baseline_predictions.csv"}},
	{"op": "replace", "path": "/evidence/model", "value": {"name": "demand-forecast", "version": "1.5.0"}},
	{"op": "replace", "path": "/evidence/evaluation", "value": {
		"task": "regression",
		"rows": 4000,
		"metrics": {"rmse": 11.82, "mae": 8.41, "r2": 0.781},
		"baseline": {"rows": 4000, "metrics": {"rmse": 12.05, "mae": 8.63, "r2": 0.772}},
	}},
	{"op": "remove", "path": "/evidence/fairness"},
	{"op": "replace", "path": "/promotion", "value": {
		"model": "demand-forecast",
		"version": "1.5.0",
		"from_version": "1.4.0",
		"from_stage": "dev",
		"to_stage": "staging",
		"rollback": false,
		"manifest_path": "models/demand-forecast/1.5.0/model.yaml",
	}},
	{"op": "replace", "path": "/history/stages", "value": {
		"dev": {"version": "1.5.0", "since": "2026-11-20T08:00:00Z", "versions": ["1.5.0", "1.4.0"]},
		"staging": {"version": "1.4.0", "since": "2026-11-02T10:00:00Z", "versions": ["1.4.0"]},
		"production": {"version": "1.4.0", "since": "2026-11-09T10:00:00Z", "versions": ["1.4.0"]},
	}},
])

# A pull request that only changes .modelgate/: promotion null.
policy_change := json.patch(base, [
	{"op": "replace", "path": "/promotion", "value": null},
	{"op": "replace", "path": "/manifest", "value": null},
	{"op": "replace", "path": "/evidence", "value": null},
	{"op": "replace", "path": "/history", "value": {"now": "2026-11-23T11:00:00Z", "stages": {}}},
	{"op": "replace", "path": "/pull_request/changed_files", "value": [".modelgate/policies/fairness.rego"]},
])

# put sets the value at a JSON pointer of doc (adding or replacing it).
put(doc, path, value) := json.patch(doc, [{"op": "add", "path": path, "value": value}])

# drop removes the value at a JSON pointer of doc.
drop(doc, path) := json.patch(doc, [{"op": "remove", "path": path}])

codes(msgs) := {m.code | some m in msgs}

# by_code returns the messages with a code.
by_code(msgs, code) := [m | some m in msgs; m.code == code]

# one returns the only message with a code; undefined unless there is exactly one.
one(msgs, code) := ms[0] if {
	ms := by_code(msgs, code)
	count(ms) == 1
}

# A promotion that every built-in package denies.
failing := json.patch(base, [
	{"op": "remove", "path": "/manifest/spec/lineage/datasets/1/digest"},
	{"op": "replace", "path": "/evidence/data/contract", "value": {"passed": false, "violations": [{"column": "amount", "rule": "max", "count": 3, "message": "3 values above 100000"}]}},
	{"op": "replace", "path": "/evidence/drift/share_drifted", "value": 0.6},
	{"op": "replace", "path": "/evidence/drift/columns/amount/drifted", "value": true},
	{"op": "replace", "path": "/evidence/drift/columns/country/drifted", "value": true},
	{"op": "replace", "path": "/evidence/drift/columns/hour/drifted", "value": true},
	{"op": "replace", "path": "/evidence/evaluation/baseline/metrics/roc_auc", "value": 0.95},
	{"op": "replace", "path": "/evidence/evaluation/metrics/brier", "value": null},
	{"op": "replace", "path": "/evidence/fairness/sex/groups/F/selection_rate", "value": 0.045},
	{"op": "replace", "path": "/evidence/fairness/age_band/groups/18-25/tpr", "value": 0.58},
	{"op": "replace", "path": "/history/stages/staging/since", "value": "2026-11-22T20:30:00Z"},
	{"op": "replace", "path": "/pull_request/approvals", "value": [
		{"user": "alice", "teams": ["acme/compliance"], "sha": head},
		{"user": "dave", "teams": ["acme/compliance"], "sha": older},
		{"user": "carol", "teams": [], "sha": head},
	]},
	{"op": "replace", "path": "/pull_request/changed_files", "value": ["environments/production.yaml", ".modelgate/waivers.yaml"]},
])

# runs sets a stage's runs of the model (newest first) and, from the newest,
# the stage's version and since as the gate fills them in.
runs(doc, stage, list) := json.patch(doc, [
	{"op": "add", "path": sprintf("/history/stages/%s/runs", [stage]), "value": list},
	{"op": "add", "path": sprintf("/history/stages/%s/version", [stage]), "value": current_version(list)},
	{"op": "add", "path": sprintf("/history/stages/%s/since", [stage]), "value": current_since(list)},
])

current_version(list) := list[0].version if list[0].until == "" else := ""

current_since(list) := list[0].since if list[0].until == "" else := ""

# run is one run of a stage: a deployment that succeeded at since.
run(version, since, until) := {"version": version, "since": since, "until": until, "deployment": "success", "analysis": ""}

# analyzed gives a stage of the config live analysis.
analyzed(doc, index) := put(doc, sprintf("/config/stages/%d/analysis", [index]), {
	"prometheus": {"address": "http://prometheus:9090"},
	"metrics": [{"name": "error-rate", "query": "sum(rate(model_errors_total[5m]))", "successCondition": "result < 0.01"}],
})

