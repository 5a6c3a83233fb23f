package modelgate.policy_change_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.policy_change.deny with input as inp
}

codes(inp) := td.codes(denies(inp))

bob := {"user": "bob", "teams": ["acme/compliance"], "sha": td.head}

carol := {"user": "carol", "teams": ["acme/risk-ml"], "sha": td.head}

approved(list) := td.put(td.policy_change, "/pull_request/approvals", list)

test_promotion_without_policy_change_needs_nothing if {
	count(denies(td.put(td.base, "/pull_request/approvals", []))) == 0
}

test_policy_change_with_approvals_allowed if {
	count(denies(td.policy_change)) == 0
}

test_policy_change_without_approvals_denied if {
	ds := denies(approved([]))
	td.codes(ds) == {"policy_change.approvals"}
	count(ds) == 2
	some m in ds
	m.threshold == 2
	m.msg == "pull request #42: changes .modelgate/policies/fairness.rego; a policy change needs 2 approvals, has 0 valid (none)"
	m.files == [".modelgate/policies/fairness.rego"]
	m.model == ""
	m.version == ""
	some t in ds
	t.team == "compliance"
	t.msg == "pull request #42: changes .modelgate/policies/fairness.rego; a policy change needs an approval from a member of compliance (or <org>/compliance); valid approvers: none"
}

test_policy_change_on_local_checkout if {
	inp := td.put(approved([]), "/pull_request/number", 0)
	some m in denies(inp)
	startswith(m.msg, "the pull request: changes .modelgate/")
}

test_policy_change_without_compliance_denied if {
	inp := approved([carol, {"user": "dave", "teams": ["acme/platform"], "sha": td.head}])
	m := td.one(denies(inp), "policy_change.approvals")
	m.team == "compliance"
}

test_policy_change_author_approval_discarded if {
	inp := approved([bob, {"user": "alice", "teams": ["acme/compliance"], "sha": td.head}])
	m := td.one(denies(inp), "policy_change.approvals")
	m.value == 1
	m.discarded == [{"user": "alice", "reasons": ["author of the pull request", "committer to the pull request"]}]
}

test_policy_change_stale_approval_discarded if {
	inp := approved([bob, object.union(carol, {"sha": td.older})])
	m := td.one(denies(inp), "policy_change.approvals")
	contains(m.msg, "discarded: carol (stale: approved 0a1b2c3, not the head 5f3c9a1)")
}

test_policy_change_with_promotion_names_model if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/pull_request/changed_files", "value": ["environments/production.yaml", ".modelgate/config.yaml", "models/fraud-detector/2.3.0/model.yaml"]},
		{"op": "replace", "path": "/pull_request/approvals", "value": [bob]},
	])
	m := td.one(denies(inp), "policy_change.approvals")
	m.msg == "fraud-detector 2.3.0: changes .modelgate/config.yaml; a policy change needs 2 approvals, has 1 valid (bob)"
	m.model == "fraud-detector"
	m.version == "2.3.0"
}

test_every_changed_policy_file_listed if {
	inp := json.patch(approved([]), [{"op": "replace", "path": "/pull_request/changed_files", "value": [".modelgate/waivers.yaml", "README.md", "./.modelgate/config.yaml"]}])
	some m in denies(inp)
	m.files == ["./.modelgate/config.yaml", ".modelgate/waivers.yaml"]
}

test_similar_paths_are_not_policy_changes if {
	inp := json.patch(approved([]), [{"op": "replace", "path": "/pull_request/changed_files", "value": [".modelgate-old/config.yaml", "docs/.modelgate/config.yaml", "modelgate/x.rego"]}])
	count(denies(inp)) == 0
}

test_rule_from_config if {
	inp := td.put(approved([carol]), "/config/approvals/policyChange", {"count": 1, "teams": []})
	count(denies(inp)) == 0
	inp2 := td.put(approved([carol]), "/config/approvals/policyChange", {"count": 1, "teams": ["risk-ml"]})
	count(denies(inp2)) == 0
	inp3 := td.put(approved([carol]), "/config/approvals/policyChange", {"count": 3, "teams": []})
	m := td.one(denies(inp3), "policy_change.approvals")
	m.threshold == 3
}

test_config_without_rule_uses_default if {
	inp := td.drop(approved([carol]), "/config/approvals/policyChange")
	ds := denies(inp)
	{m.threshold | some m in ds; m.threshold} == {2}
	{m.team | some m in ds; m.team} == {"compliance"}
	count(denies(td.put(approved([bob, carol]), "/config", null))) == 0
	count(denies(td.put(approved([carol]), "/config", null))) == 2
}

test_null_pull_request_fields if {
	count(denies(td.put(td.policy_change, "/pull_request/changed_files", null))) == 0
	count(denies(td.put(td.policy_change, "/pull_request", null))) == 0
}
