# A pull request that changes .modelgate/ (config, policies, waivers) changes the
# rules every promotion is judged by. It needs the approvals that the base
# branch's config.approvals.policyChange names, counted as for promotions
# (modelgate.approvals), whether or not it also promotes a model.
#
# A config without a policyChange rule is judged by the default: two approvals,
# one from compliance.
#
#   policy_change.approvals  too few counting approvals, or none from a required
#                            team
package modelgate.policy_change

import data.modelgate.lib

default_rule := {"count": 2, "teams": ["compliance"]}

rule := r if {
	r := lib.config.approvals.policyChange
	is_object(r)
} else := default_rule

changed := sort([f |
	files := lib.pull_request.changed_files
	is_array(files)
	some f in files
	is_string(f)
	policy_file(f)
])

policy_file(f) if startswith(trim_prefix(f, "./"), ".modelgate/")

policy_file(f) if trim_suffix(trim_prefix(f, "./"), "/") == ".modelgate"

changes_text := sprintf("changes %s", [lib.list(changed)])

deny contains msg if {
	count(changed) > 0
	required := lib.rule_count(rule)
	count(lib.valid_users) < required
	msg := lib.message(
		"policy_change.approvals",
		sprintf("%s; a policy change needs %s %s, %s", [changes_text, lib.exact(required), lib.plural(required, "approval", "approvals"), lib.approvals_text]),
		{
			"files": changed,
			"value": count(lib.valid_users),
			"threshold": required,
			"approvers": lib.valid_users,
			"discarded": lib.discarded,
		},
	)
}

deny contains msg if {
	count(changed) > 0
	some team in lib.missing_teams(rule)
	msg := lib.message(
		"policy_change.approvals",
		sprintf("%s; a policy change %s; valid approvers: %s", [changes_text, lib.team_text(team), lib.list(lib.valid_users)]),
		{
			"files": changed,
			"team": team,
			"approvers": lib.valid_users,
			"discarded": lib.team_discarded(team),
		},
	)
}
