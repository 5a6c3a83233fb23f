package modelgate.evidence_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.evidence.deny with input as inp
}

codes(inp) := td.codes(denies(inp))

from_app := td.put(td.base, "/evidence_source", {"kind": "app"})

test_high_risk_with_uploaded_evidence_allowed if {
	count(denies(td.base)) == 0
}

test_high_risk_checked_by_the_app_denied if {
	m := td.one(denies(from_app), "evidence.untrusted")
	m.msg == "fraud-detector 2.3.0: a high-risk model is judged only on evidence that a trusted workflow uploaded (config.evidence.requireTrustedFor), but modelgate computed this evidence from the repository's files; upload it with modelgate evidence upload from acme/fraud-training/.github/workflows/evidence.yml@refs/heads/main"
	m.risk_tier == "high"
	m.source == "app"
}

test_high_risk_without_evidence_denied if {
	m := td.one(denies(td.put(td.put(td.base, "/evidence_source", null), "/evidence", null)), "evidence.untrusted")
	contains(m.msg, "but no workflow uploaded evidence for this manifest at the head")
	m.source == ""
}

test_an_unknown_source_kind_is_not_trusted if {
	"evidence.untrusted" in codes(td.put(td.base, "/evidence_source", {"kind": "OIDC"}))
	"evidence.untrusted" in codes(td.put(td.base, "/evidence_source", "oidc"))
}

test_no_trusted_workflow_says_so if {
	m := td.one(denies(td.put(from_app, "/config/evidence/trustedWorkflows", [])), "evidence.untrusted")
	endswith(m.msg, "; no workflow is trusted: list the reusable workflow that checks it in config.evidence.trustedWorkflows")
}

test_low_risk_checked_by_the_app_allowed if {
	count(denies(td.put(td.regression, "/evidence_source", {"kind": "app"}))) == 0
}

test_tiers_come_from_config if {
	count(denies(td.put(from_app, "/config/evidence/requireTrustedFor", []))) == 0
	low := td.put(td.regression, "/evidence_source", {"kind": "app"})
	"evidence.untrusted" in codes(td.put(low, "/config/evidence/requireTrustedFor", ["low"]))
}

# A tier the schema does not know is judged as high, and so is a missing one.
test_missing_tier_is_high if {
	"evidence.untrusted" in codes(td.drop(from_app, "/manifest/metadata/riskTier"))
}

test_default_is_high if {
	"evidence.untrusted" in codes(td.drop(from_app, "/config/evidence"))
	"evidence.untrusted" in codes(td.put(from_app, "/config", {}))
	low := td.drop(td.put(td.regression, "/evidence_source", {"kind": "app"}), "/config/evidence")
	count(denies(low)) == 0
}

test_removals_are_not_judged if {
	removal := td.put(from_app, "/promotion/kind", "removal")
	count(denies(removal)) == 0
}
