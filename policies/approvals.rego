# Approvals a promotion needs: config.approvals[<to_stage>], {count, teams}. A
# stage without an entry needs none. A rollback (lib.rollback) needs
# config.approvals.rollback instead, whatever the stage: it returns the stage to
# a version that already ran there. Removing a pin from a stage (promotion.kind
# "removal", to_stage the stage it leaves) changes what the stage runs as much
# as a promotion does, and needs the same approvals.
#
# An approval counts only when given on pull_request.head_sha by someone who is
# neither the pull request's author nor one of its committers; each user counts
# once. Every team of the rule needs one counting approval from a member of the
# team or of <org>/<team>.
#
#   approvals.count  fewer counting approvals than the rule's count
#   approvals.team   no counting approval from a member of a required team
package modelgate.approvals

import data.modelgate.lib

to_stage := s if {
	s := lib.change.to_stage
	is_string(s)
} else := ""

# doing is what the change does to to_stage, as the messages say it.
doing := sprintf("leaving %s", [to_stage]) if {
	lib.removal
} else := sprintf("rolling %s back", [to_stage]) if {
	lib.rollback
} else := sprintf("entering %s", [to_stage])

# rule_key is the key of config.approvals that judges the change.
rule_key := "rollback" if lib.rollback else := to_stage

rule := r if {
	r := lib.config.approvals[rule_key]
	is_object(r)
} else := default_rules[rule_key] if {
	# A rollback is never left without a rule: a config that has approvals
	# but no rollback rule (only one the engine did not fill in) still needs
	# the default's.
	lib.rollback
} else := default_rules[rule_key] if {
	not is_object(object.get(lib.config, "approvals", null))
}

# The documented defaults, for a config without approvals (the engine always
# fills them in).
default_rules := {
	"staging": {"count": 1, "teams": []},
	"production": {"count": 2, "teams": ["compliance"]},
	"rollback": {"count": 1, "teams": []},
}

deny contains msg if {
	lib.change
	required := lib.rule_count(rule)
	count(lib.valid_users) < required
	msg := lib.message(
		"approvals.count",
		sprintf("%s needs %s %s, %s", [doing, lib.exact(required), lib.plural(required, "approval", "approvals"), lib.approvals_text]),
		{
			"stage": to_stage,
			"value": count(lib.valid_users),
			"threshold": required,
			"approvers": lib.valid_users,
			"discarded": lib.discarded,
		},
	)
}

deny contains msg if {
	lib.change
	some team in lib.missing_teams(rule)
	msg := lib.message(
		"approvals.team",
		sprintf("%s %s; valid approvers: %s", [doing, lib.team_text(team), lib.list(lib.valid_users)]),
		{
			"stage": to_stage,
			"team": team,
			"approvers": lib.valid_users,
			"discarded": lib.team_discarded(team),
		},
	)
}
