# Acme's model-risk rules, on top of modelgate's built-in policies. Read from
# the base branch, like the config whose data section parameterises them. The
# package stands on the input document alone (policies/README.md), not on the
# built-in packages' helpers, so that it means the same whatever they become.
#
#   model_risk.owner         A high-risk model runs in production only when a team
#                            owns it (metadata.owner "@org/team"): the owner answers
#                            for the model as long as it runs, and people move on.
#   model_risk.evidence_age  Evidence that a CI workflow uploaded counts for
#                            config.data.modelRisk.maxEvidenceAge (default 168h)
#                            after its upload: older numbers describe data the
#                            model no longer sees. Evidence modelgate computed
#                            itself is computed for the decision, so is never old.
#   model_risk.config        config.data.modelRisk.maxEvidenceAge is not a duration:
#                            every upload is judged stale rather than never.
#
# Like the built-in rules about the model itself, these judge promotions only,
# never removals (nor a pull request that changes no pin).
package modelgate.model_risk

promotion := p if {
	p := input.promotion
	is_object(p)
	p.kind != "removal"
}

metadata := object.get(input, ["manifest", "metadata"], {})

# A risk tier that is missing or unknown is judged as high, as the built-in
# policies judge it.
high_risk if not object.get(metadata, "riskTier", null) in {"low", "medium"}

# Every message names the model version first, as the built-in ones do.
message(code, text, fields) := object.union(fields, {
	"code": code,
	"msg": sprintf("%s %s: %s", [promotion.model, promotion.version, text]),
	"model": promotion.model,
	"version": promotion.version,
})

owner := object.get(metadata, "owner", null)

team_owned if {
	is_string(owner)
	regex.match(`^@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`, owner)
}

deny contains msg if {
	promotion.to_stage == "production"
	high_risk
	not team_owned
	msg := message(
		"model_risk.owner",
		sprintf("a high-risk model runs in production only when a team owns it: metadata.owner must be @org/team, not %v", [owner]),
		{"field": "metadata.owner", "owner": owner},
	)
}

default_max_evidence_age := "168h"

max_evidence_age := object.get(input, ["config", "data", "modelRisk", "maxEvidenceAge"], default_max_evidence_age)

# A Go duration, as time.parse_duration_ns reads it.
valid_max_evidence_age if {
	is_string(max_evidence_age)
	regex.match(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`, max_evidence_age)
}

source := object.get(input, "evidence_source", null)

uploaded if source.kind == "oidc"

# How long before the decision the evidence was uploaded.
evidence_age_ns := time.parse_rfc3339_ns(input.history.now) - time.parse_rfc3339_ns(source.verified_at)

hours(ns) := sprintf("%dh", [floor(ns / 3600000000000)])

deny contains msg if {
	promotion
	uploaded
	valid_max_evidence_age
	evidence_age_ns > time.parse_duration_ns(max_evidence_age)
	msg := message(
		"model_risk.evidence_age",
		sprintf("the evidence that %s uploaded (run %s) is %s old, older than %s: run the evaluation again", [
			source.workflow, source.run_id, hours(evidence_age_ns), max_evidence_age,
		]),
		{"age": hours(evidence_age_ns), "max_age": max_evidence_age, "verified_at": source.verified_at},
	)
}

deny contains msg if {
	promotion
	uploaded
	not valid_max_evidence_age
	msg := message(
		"model_risk.config",
		sprintf("config.data.modelRisk.maxEvidenceAge is %v, not a duration such as 168h: uploaded evidence cannot be judged fresh", [max_evidence_age]),
		{"field": "data.modelRisk.maxEvidenceAge"},
	)
}
