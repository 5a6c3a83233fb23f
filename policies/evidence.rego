# Who computed the evidence.
#
#   evidence.untrusted  the manifest's riskTier is one of
#                       config.evidence.requireTrustedFor (default ["high"]) and
#                       the evidence was not uploaded by a workflow that
#                       config.evidence.trustedWorkflows lists
#                       (evidence_source.kind is not "oidc")
package modelgate.evidence

import data.modelgate.lib

# The default of config.evidence.requireTrustedFor (schemas/defaults.cue).
default_require_trusted_for := ["high"]

require_trusted_for := r if {
	r := lib.config.evidence.requireTrustedFor
	is_array(r)
} else := default_require_trusted_for

source_kind := k if {
	k := input.evidence_source.kind
	is_string(k)
} else := ""

trusted_workflows := [w | ws := lib.config.evidence.trustedWorkflows; is_array(ws); some w in ws; is_string(w)]

deny contains msg if {
	lib.promotion
	lib.risk_tier in require_trusted_for
	source_kind != "oidc"
	msg := lib.message(
		"evidence.untrusted",
		sprintf("a %s-risk model is judged only on evidence that a trusted workflow uploaded (config.evidence.requireTrustedFor), but %s; %s", [lib.risk_tier, source_text, upload_text]),
		{"risk_tier": lib.risk_tier, "source": source_kind},
	)
}

source_text := "modelgate computed this evidence from the repository's files" if {
	source_kind == "app"
} else := "no workflow uploaded evidence for this manifest at the head"

upload_text := "no workflow is trusted: list the reusable workflow that checks it in config.evidence.trustedWorkflows" if {
	count(trusted_workflows) == 0
} else := sprintf("upload it with modelgate evidence upload from %s", [lib.list(trusted_workflows)])
