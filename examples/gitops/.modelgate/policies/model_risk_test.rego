package modelgate.model_risk_test

import data.modelgate.model_risk

# A promotion of a high-risk model into production on evidence a CI workflow
# uploaded a day before the decision, as the gate's input document has it.
promotion := {
	"manifest": {"metadata": {"name": "fraud-detector", "version": "2.3.0", "owner": "@acme/risk-ml", "riskTier": "high"}},
	"evidence": {"schema": "modelgate.evidence/v1"},
	"evidence_source": {
		"kind": "oidc",
		"workflow": "acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main",
		"run_id": "7312",
		"verified_at": "2026-11-22T11:00:00Z",
	},
	"promotion": {"kind": "promotion", "model": "fraud-detector", "version": "2.3.0", "from_stage": "staging", "to_stage": "production"},
	"history": {"now": "2026-11-23T11:00:00Z"},
	"config": {"data": {"modelRisk": {"maxEvidenceAge": "168h"}}},
}

put(doc, path, value) := json.patch(doc, [{"op": "add", "path": path, "value": value}])

codes(inp) := {m.code | some m in model_risk.deny with input as inp}

test_team_owned_fresh_evidence_allowed if {
	count(codes(promotion)) == 0
}

# --- model_risk.owner ------------------------------------------------------------

test_person_owner_denied_in_production if {
	some m in model_risk.deny with input as put(promotion, "/manifest/metadata/owner", "@alice")
	m.code == "model_risk.owner"
	m.msg == "fraud-detector 2.3.0: a high-risk model runs in production only when a team owns it: metadata.owner must be @org/team, not @alice"
	m.field == "metadata.owner"
}

test_owner_with_empty_team_denied if {
	"model_risk.owner" in codes(put(promotion, "/manifest/metadata/owner", "@acme/"))
}

test_missing_owner_denied if {
	"model_risk.owner" in codes(json.patch(promotion, [{"op": "remove", "path": "/manifest/metadata/owner"}]))
}

# A risk tier that is missing is judged as high, as the built-in policies do.
test_owner_of_model_without_tier_judged if {
	inp := json.patch(promotion, [
		{"op": "remove", "path": "/manifest/metadata/riskTier"},
		{"op": "replace", "path": "/manifest/metadata/owner", "value": "@alice"},
	])
	"model_risk.owner" in codes(inp)
}

test_person_owner_allowed_below_high_risk if {
	inp := json.patch(promotion, [
		{"op": "replace", "path": "/manifest/metadata/riskTier", "value": "medium"},
		{"op": "replace", "path": "/manifest/metadata/owner", "value": "@alice"},
	])
	count(codes(inp)) == 0
}

test_person_owner_allowed_in_staging if {
	inp := json.patch(promotion, [
		{"op": "replace", "path": "/promotion/to_stage", "value": "staging"},
		{"op": "replace", "path": "/manifest/metadata/owner", "value": "@alice"},
	])
	count(codes(inp)) == 0
}

# A removal has no manifest: these rules judge promotions only.
test_removal_not_judged if {
	inp := {
		"promotion": {"kind": "removal", "model": "fraud-detector", "version": "2.2.0", "to_stage": "production"},
		"manifest": null,
		"evidence": null,
		"evidence_source": null,
		"history": {"now": "2026-11-23T11:00:00Z"},
		"config": {},
	}
	count(codes(inp)) == 0
}

# A pull request that changes no pin (only .modelgate/, say) has no model.
test_change_without_promotion_not_judged if {
	count(codes(put(promotion, "/promotion", null))) == 0
}

# --- model_risk.evidence_age -----------------------------------------------------

test_evidence_older_than_the_limit_denied if {
	inp := put(promotion, "/evidence_source/verified_at", "2026-11-15T10:30:00Z")
	some m in model_risk.deny with input as inp
	m.code == "model_risk.evidence_age"
	m.msg == "fraud-detector 2.3.0: the evidence that acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main uploaded (run 7312) is 192h old, older than 168h: run the evaluation again"
	m.age == "192h"
}

test_evidence_at_the_limit_allowed if {
	count(codes(put(promotion, "/evidence_source/verified_at", "2026-11-16T11:00:00Z"))) == 0
}

test_limit_from_config if {
	"model_risk.evidence_age" in codes(put(promotion, "/config/data/modelRisk/maxEvidenceAge", "12h"))
}

test_default_limit_without_config if {
	inp := json.patch(promotion, [
		{"op": "remove", "path": "/config/data"},
		{"op": "replace", "path": "/evidence_source/verified_at", "value": "2026-11-16T10:59:59Z"},
	])
	"model_risk.evidence_age" in codes(inp)
}

test_evidence_computed_by_modelgate_never_old if {
	inp := put(promotion, "/evidence_source", {"kind": "app"})
	count(codes(inp)) == 0
}

# --- model_risk.config -------------------------------------------------------------

test_limit_that_is_not_a_duration_denied if {
	some m in model_risk.deny with input as put(promotion, "/config/data/modelRisk/maxEvidenceAge", "7d")
	m.code == "model_risk.config"
	m.msg == `fraud-detector 2.3.0: config.data.modelRisk.maxEvidenceAge is 7d, not a duration such as 168h: uploaded evidence cannot be judged fresh`
}

test_limit_that_is_a_number_denied if {
	"model_risk.config" in codes(put(promotion, "/config/data/modelRisk/maxEvidenceAge", 168))
}
