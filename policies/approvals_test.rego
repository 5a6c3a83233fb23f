package modelgate.approvals_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.approvals.deny with input as inp
}

codes(inp) := td.codes(denies(inp))

approvals(list) := td.put(td.base, "/pull_request/approvals", list)

bob := {"user": "bob", "teams": ["acme/compliance"], "sha": td.head}

carol := {"user": "carol", "teams": ["acme/risk-ml"], "sha": td.head}

dave := {"user": "dave", "teams": ["acme/platform"], "sha": td.head}

test_two_approvals_with_compliance_allowed if {
	count(denies(td.base)) == 0
}

# --- approvals.count -----------------------------------------------------------

test_one_approval_of_two_denied if {
	inp := approvals([bob])
	m := td.one(denies(inp), "approvals.count")
	m.msg == "fraud-detector 2.3.0: entering production needs 2 approvals, has 1 valid (bob)"
	m.stage == "production"
	m.value == 1
	m.threshold == 2
	m.approvers == ["bob"]
	m.discarded == []
	codes(inp) == {"approvals.count"}
}

test_no_approvals_denied if {
	codes(approvals([])) == {"approvals.count", "approvals.team"}
	codes(approvals(null)) == {"approvals.count", "approvals.team"}
	codes(td.drop(td.base, "/pull_request/approvals")) == {"approvals.count", "approvals.team"}
}

test_stale_approval_discarded if {
	inp := approvals([bob, object.union(carol, {"sha": td.older})])
	m := td.one(denies(inp), "approvals.count")
	m.msg == "fraud-detector 2.3.0: entering production needs 2 approvals, has 1 valid (bob); discarded: carol (stale: approved 0a1b2c3, not the head 5f3c9a1)"
	m.discarded == [{"user": "carol", "reasons": ["stale: approved 0a1b2c3, not the head 5f3c9a1"]}]
}

test_approval_without_sha_is_stale if {
	inp := approvals([bob, object.remove(carol, ["sha"])])
	m := td.one(denies(inp), "approvals.count")
	contains(m.msg, "carol (stale: approved no commit, not the head 5f3c9a1)")
}

test_approvals_without_head_sha_all_stale if {
	inp := td.drop(td.base, "/pull_request/head_sha")
	codes(inp) == {"approvals.count", "approvals.team"}
}

test_head_sha_compared_case_insensitively if {
	inp := approvals([object.union(bob, {"sha": upper(td.head)}), carol])
	count(denies(inp)) == 0
}

test_author_self_approval_discarded if {
	inp := approvals([bob, {"user": "alice", "teams": ["acme/risk-ml"], "sha": td.head}])
	m := td.one(denies(inp), "approvals.count")
	m.msg == "fraud-detector 2.3.0: entering production needs 2 approvals, has 1 valid (bob); discarded: alice (author of the pull request; committer to the pull request)"
}

test_author_self_approval_in_other_case_discarded if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/pull_request/committers", "value": []},
		{"op": "replace", "path": "/pull_request/approvals", "value": [bob, {"user": "Alice", "teams": [], "sha": td.head}]},
	])
	m := td.one(denies(inp), "approvals.count")
	m.discarded == [{"user": "Alice", "reasons": ["author of the pull request"]}]
}

test_author_of_compliance_cannot_meet_team if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/pull_request/author", "value": "bob"},
		{"op": "replace", "path": "/pull_request/committers", "value": ["bob"]},
		{"op": "replace", "path": "/pull_request/approvals", "value": [bob, carol, dave]},
	])
	codes(inp) == {"approvals.team"}
	m := td.one(denies(inp), "approvals.team")
	m.msg == "fraud-detector 2.3.0: entering production needs an approval from a member of compliance (or <org>/compliance); discarded approvals by members: bob (author of the pull request; committer to the pull request); valid approvers: carol, dave"
}

test_committer_approval_discarded if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/pull_request/committers", "value": ["alice", "carol"]},
	])
	m := td.one(denies(inp), "approvals.count")
	m.discarded == [{"user": "carol", "reasons": ["committer to the pull request"]}]
	contains(m.msg, "discarded: carol (committer to the pull request)")
}

test_null_committers_do_not_break_counting if {
	count(denies(td.put(td.base, "/pull_request/committers", null))) == 0
}

test_user_counted_once if {
	inp := approvals([bob, object.union(bob, {"teams": []}), {"user": "BOB", "teams": [], "sha": td.head}])
	m := td.one(denies(inp), "approvals.count")
	m.value == 1
}

test_stale_approval_of_user_who_approved_head_not_listed if {
	inp := approvals([object.union(bob, {"sha": td.older}), bob])
	m := td.one(denies(inp), "approvals.count")
	m.discarded == []
}

test_approval_without_user_discarded if {
	inp := approvals([bob, {"teams": ["compliance"], "sha": td.head}, "carol"])
	m := td.one(denies(inp), "approvals.count")
	m.value == 1
	contains(m.msg, "(no user)")
}

test_stage_with_one_approval_no_team if {
	inp := json.patch(td.regression, [{"op": "replace", "path": "/pull_request/approvals", "value": [dave]}])
	count(denies(inp)) == 0
	m := td.one(denies(td.put(inp, "/pull_request/approvals", [])), "approvals.count")
	m.msg == "demand-forecast 1.5.0: entering staging needs 1 approval, has 0 valid (none)"
}

test_stage_without_rule_needs_none if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/promotion/to_stage", "value": "dev"},
		{"op": "replace", "path": "/pull_request/approvals", "value": []},
	])
	count(denies(inp)) == 0
}

test_rule_with_zero_count_needs_none if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/config/approvals/production", "value": {"count": 0, "teams": []}},
		{"op": "replace", "path": "/pull_request/approvals", "value": []},
	])
	count(denies(inp)) == 0
}

test_rule_count_from_config if {
	inp := td.put(td.base, "/config/approvals/production/count", 3)
	m := td.one(denies(inp), "approvals.count")
	m.threshold == 3
	m.value == 2
}

test_config_without_approvals_uses_defaults if {
	inp := td.put(td.drop(td.base, "/config/approvals"), "/pull_request/approvals", [carol])
	codes(inp) == {"approvals.count", "approvals.team"}
	count(denies(td.drop(td.base, "/config/approvals"))) == 0
}

test_null_config_uses_defaults if {
	codes(td.put(approvals([]), "/config", null)) == {"approvals.count", "approvals.team"}
}

# --- approvals.team ------------------------------------------------------------

test_no_compliance_approval_denied if {
	inp := approvals([carol, dave])
	m := td.one(denies(inp), "approvals.team")
	m.msg == "fraud-detector 2.3.0: entering production needs an approval from a member of compliance (or <org>/compliance); valid approvers: carol, dave"
	m.team == "compliance"
	m.stage == "production"
	codes(inp) == {"approvals.team"}
}

test_team_without_org_prefix_meets_team if {
	count(denies(approvals([object.union(bob, {"teams": ["compliance"]}), carol]))) == 0
}

test_team_with_other_org_prefix_meets_team if {
	count(denies(approvals([object.union(bob, {"teams": ["other-org/Compliance"]}), carol]))) == 0
}

test_similar_team_names_do_not_meet_team if {
	inp := approvals([object.union(bob, {"teams": ["acme/compliance-readers", "acme/non-compliance", "compliance/x"]}), carol])
	codes(inp) == {"approvals.team"}
}

test_stale_team_approval_named if {
	inp := approvals([object.union(bob, {"sha": td.older}), carol, dave])
	m := td.one(denies(inp), "approvals.team")
	m.discarded == [{"user": "bob", "reasons": ["stale: approved 0a1b2c3, not the head 5f3c9a1"]}]
	contains(m.msg, "discarded approvals by members: bob (stale: approved 0a1b2c3, not the head 5f3c9a1)")
}

test_every_team_needed if {
	inp := td.put(td.base, "/config/approvals/production/teams", ["compliance", "risk-ml", "security"])
	ms := td.by_code(denies(inp), "approvals.team")
	{m.team | some m in ms} == {"security"}
}

test_one_approver_may_meet_several_teams if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/config/approvals/production", "value": {"count": 1, "teams": ["compliance", "risk-ml"]}},
		{"op": "replace", "path": "/pull_request/approvals", "value": [object.union(bob, {"teams": ["acme/compliance", "acme/risk-ml"]})]},
	])
	count(denies(inp)) == 0
}

test_teams_null_in_approval if {
	inp := approvals([object.union(bob, {"teams": null}), carol])
	codes(inp) == {"approvals.team"}
}

# --- no promotion --------------------------------------------------------------

test_no_promotion_nothing if {
	count(denies(td.put(approvals([]), "/promotion", null))) == 0
	count(denies(td.put(td.policy_change, "/pull_request/approvals", []))) == 0
}

# --- removals ------------------------------------------------------------------

removal := json.patch(td.base, [
	{"op": "replace", "path": "/manifest", "value": null},
	{"op": "replace", "path": "/evidence", "value": null},
	{"op": "replace", "path": "/promotion", "value": {
		"kind": "removal",
		"model": "fraud-detector",
		"version": "2.2.0",
		"from_version": "2.2.0",
		"from_stage": "",
		"to_stage": "production",
		"rollback": false,
		"manifest_path": "",
	}},
])

test_removal_with_the_stages_approvals_allowed if {
	count(denies(removal)) == 0
}

test_removal_needs_the_stages_approvals if {
	inp := td.put(removal, "/pull_request/approvals", [bob])
	m := td.one(denies(inp), "approvals.count")
	m.msg == "fraud-detector 2.2.0: leaving production needs 2 approvals, has 1 valid (bob)"
	m.stage == "production"
	codes(inp) == {"approvals.count"}
	codes(td.put(removal, "/pull_request/approvals", [])) == {"approvals.count", "approvals.team"}
}

test_removal_needs_the_stages_teams if {
	inp := td.put(removal, "/pull_request/approvals", [carol, dave])
	m := td.one(denies(inp), "approvals.team")
	startswith(m.msg, "fraud-detector 2.2.0: leaving production needs an approval from a member of compliance")
}

# --- rollbacks -----------------------------------------------------------------

# 2.1.0 ran in production before: rolling back to it needs approvals.rollback.
rollback := json.patch(td.base, [
	{"op": "replace", "path": "/promotion/version", "value": "2.1.0"},
	{"op": "replace", "path": "/promotion/rollback", "value": true},
	{"op": "replace", "path": "/manifest/metadata/version", "value": "2.1.0"},
])

test_rollback_needs_the_rollback_rule_not_the_stages if {
	count(denies(td.put(rollback, "/pull_request/approvals", [carol]))) == 0
	inp := td.put(rollback, "/pull_request/approvals", [])
	m := td.one(denies(inp), "approvals.count")
	m.msg == "fraud-detector 2.1.0: rolling production back needs 1 approval, has 0 valid (none)"
	m.stage == "production"
	m.threshold == 1
	codes(inp) == {"approvals.count"}
}

test_rollback_rule_from_config if {
	inp := json.patch(rollback, [
		{"op": "replace", "path": "/config/approvals/rollback", "value": {"count": 1, "teams": ["sre"]}},
		{"op": "replace", "path": "/pull_request/approvals", "value": [carol]},
	])
	m := td.one(denies(inp), "approvals.team")
	startswith(m.msg, "fraud-detector 2.1.0: rolling production back needs an approval from a member of sre")
}

test_rollback_without_a_rollback_rule_needs_the_default if {
	inp := td.drop(td.put(rollback, "/pull_request/approvals", []), "/config/approvals/rollback")
	td.one(denies(inp), "approvals.count").threshold == 1
}

# A rollback the history does not confirm is a promotion: the stage's rule.
test_unconfirmed_rollback_needs_the_stages_rule if {
	inp := json.patch(rollback, [
		{"op": "replace", "path": "/history/stages/production/versions", "value": ["2.2.0"]},
		{"op": "replace", "path": "/pull_request/approvals", "value": [carol]},
	])
	m := td.one(denies(inp), "approvals.count")
	m.msg == "fraud-detector 2.1.0: entering production needs 2 approvals, has 1 valid (carol)"
	"approvals.team" in codes(inp)
}
