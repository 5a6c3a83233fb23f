package modelgate.lib_test

import data.modelgate.lib
import data.modelgate.testdata as td

# --- Numbers -------------------------------------------------------------------

test_num if {
	lib.num(0.71) == "0.71"
	lib.num(0.703125) == "0.7031"
	lib.num(12) == "12"
	lib.num(2.0) == "2"
	lib.num(-3) == "-3"
	lib.num(11.82) == "11.82"
	lib.num(12345.678) == "12345.7"
	lib.num(0.00031) == "0.00031"
	lib.num(1e-07) == "1e-07"
	lib.num(null) == "null"
	lib.num("x") == "x"
}

test_exact if {
	lib.exact(0.8) == "0.8"
	lib.exact(0.123456789) == "0.123456789"
	lib.exact(30) == "30"
	lib.exact(0) == "0"
}

test_num_vs_never_reads_as_the_threshold if {
	lib.num_vs(0.79996, 0.8) == "0.79996"
	lib.num_vs(0.80004, 0.8) == "0.80004"
	lib.num_vs(0.799999999999, 0.8) == "0.799999999999"
	lib.num_vs(0.7, 0.8) == "0.7"
	lib.num_vs(0.8, 0.8) == "0.8"
	lib.num_vs(0.70312, 0.8) == "0.7031"
	lib.num_vs(30, 30) == "30"
}

test_num_vs_never_crosses_the_threshold if {
	# 0.79996 rounds to 0.8, which is above 0.79997.
	lib.num_vs(0.79996, 0.79997) == "0.79996"
}

test_clean if {
	lib.clean(0.75 - 0.6) == 0.15
	lib.clean(0.045 / 0.064) == 0.703125
	lib.clean(3) == 3
}

test_above_and_below_tolerate_arithmetic_noise if {
	not lib.above(0.3 - 0.2, 0.1)
	lib.above(0.1000001, 0.1)
	not lib.below(0.0512 / 0.064, 0.8)
	lib.below(0.7999999, 0.8)
	not lib.above(0.1, 0.1)
	not lib.below(0.1, 0.1)
}

# --- Durations -----------------------------------------------------------------

test_duration if {
	lib.duration(0) == "0s"
	lib.duration(72 * 3600000000000) == "72h"
	lib.duration(((23 * 60) + 5) * 60000000000) == "23h5m"
	lib.duration(90000000000) == "1m30s"
	lib.duration(86399000000000) == "23h59m59s"
	lib.duration(500) == "less than 1s"
	lib.duration(0 - 3600000000000) == "-1h"
}

# --- Lists ---------------------------------------------------------------------

test_list if {
	lib.list([]) == "none"
	lib.list(["a"]) == "a"
	lib.list(["a", "b"]) == "a, b"
}

# --- Config --------------------------------------------------------------------

test_threshold_from_config if {
	lib.threshold(["fairness", "minGroupSize"]) == 50 with input as td.put(td.base, "/config/thresholds/fairness/minGroupSize", 50)
}

test_threshold_defaults if {
	lib.threshold(["fairness", "minGroupSize"]) == 30 with input as {}
	lib.threshold(["drift", "shareDrifted"]) == 0.5 with input as {"config": null}
	lib.threshold(["evaluation", "maxRegression"]) == 0.01 with input as {"config": {"thresholds": {"evaluation": {"maxRegression": "a lot"}}}}
}

test_minimums if {
	lib.minimums("regression") == {"r2": 0.5} with input as {}
	lib.minimums("regression") == {"rmse": 10} with input as {"config": {"thresholds": {"evaluation": {"minimum": {"regression": {"rmse": 10}}}}}}
	lib.minimums("ranking") == {} with input as td.base
	lib.minimums(null) == {} with input as td.base
}

test_risk_tier if {
	lib.risk_tier == "high" with input as td.base
	lib.risk_tier == "low" with input as td.regression
	lib.risk_tier == "high" with input as td.put(td.base, "/manifest/metadata/riskTier", "HIGH")
	lib.risk_tier == "high" with input as {}
}

test_subject if {
	lib.subject == "fraud-detector 2.3.0" with input as td.base
	lib.subject == "pull request #42" with input as td.policy_change
	lib.subject == "the pull request" with input as td.put(td.policy_change, "/pull_request/number", 0)
	lib.subject == "the pull request" with input as {}
}

test_message if {
	m := lib.message("x.y", "text", {"value": 1}) with input as td.base
	m == {"msg": "fraud-detector 2.3.0: text", "code": "x.y", "model": "fraud-detector", "version": "2.3.0", "value": 1}
}

test_message_fields_never_override_code if {
	m := lib.message("x.y", "text", {"code": "other", "msg": "other"}) with input as td.base
	m.code == "x.y"
	m.msg == "fraud-detector 2.3.0: text"
}

test_get if {
	lib.get({"a": {"b": 1}}, ["a", "b"]) == 1
	lib.get({"a": {"b": 1}}, ["a", "c"]) == null
	lib.get({"a": "x"}, ["a", "b"]) == null
	lib.get(null, ["a"]) == null
	lib.get("x", ["a"]) == null
}

# --- Teams ---------------------------------------------------------------------

test_team_matches if {
	lib.team_matches("compliance", "compliance")
	lib.team_matches("acme/compliance", "compliance")
	lib.team_matches("@acme/Compliance", "compliance")
	lib.team_matches("acme/compliance", "acme/compliance")
	lib.team_matches("acme/compliance", "@acme/compliance")
	not lib.team_matches("acme/compliance-readers", "compliance")
	not lib.team_matches("acme/noncompliance", "compliance")
	not lib.team_matches("compliance/acme", "compliance")
	not lib.team_matches("other/compliance", "acme/compliance")
	not lib.team_matches("", "")
	not lib.team_matches(null, "compliance")
	not lib.team_matches("compliance", null)
}

# --- Approvals -----------------------------------------------------------------

pr := {
	"author": "alice",
	"head_sha": td.head,
	"committers": ["alice", "erin"],
	"approvals": [
		{"user": "bob", "teams": ["acme/compliance"], "sha": td.head},
		{"user": "bob", "teams": ["acme/compliance"], "sha": td.older},
		{"user": "carol", "teams": [], "sha": td.older},
		{"user": "alice", "teams": [], "sha": td.head},
		{"user": "erin", "teams": ["acme/compliance"], "sha": td.head},
		{"user": "Dave", "teams": ["acme/risk-ml"], "sha": td.head},
	],
}

test_valid_users if {
	lib.valid_users == ["bob", "dave"] with input as {"pull_request": pr}
}

test_discarded if {
	lib.discarded == [
		{"user": "alice", "reasons": ["author of the pull request", "committer to the pull request"]},
		{"user": "carol", "reasons": ["stale: approved 0a1b2c3, not the head 5f3c9a1"]},
		{"user": "erin", "reasons": ["committer to the pull request"]},
	] with input as {"pull_request": pr}
}

test_team_approvers if {
	lib.team_approvers("compliance") == ["bob"] with input as {"pull_request": pr}
	lib.team_approvers("risk-ml") == ["dave"] with input as {"pull_request": pr}
	lib.team_approvers("security") == [] with input as {"pull_request": pr}
	lib.team_discarded("compliance") == [{"user": "erin", "reasons": ["committer to the pull request"]}] with input as {"pull_request": pr}
}

test_missing_teams if {
	lib.missing_teams({"count": 1, "teams": ["compliance", "security"]}) == ["security"] with input as {"pull_request": pr}
	lib.missing_teams({"count": 1}) == [] with input as {"pull_request": pr}
	lib.missing_teams({"count": 1, "teams": null}) == [] with input as {"pull_request": pr}
}

test_rule_count if {
	lib.rule_count({"count": 2}) == 2
	lib.rule_count({"count": 0}) == 0
	lib.rule_count({}) == 1
	lib.rule_count({"count": "2"}) == 1
}

test_approvals_text if {
	lib.approvals_text == "has 2 valid (bob, dave); discarded: alice (author of the pull request; committer to the pull request), carol (stale: approved 0a1b2c3, not the head 5f3c9a1), erin (committer to the pull request)" with input as {"pull_request": pr}
	lib.approvals_text == "has 0 valid (none)" with input as {}
}

test_no_author_no_self_approval_check if {
	lib.valid_users == ["alice"] with input as {"pull_request": {"head_sha": td.head, "approvals": [{"user": "alice", "sha": td.head}]}}
}

test_malformed_approvals_ignored if {
	lib.valid_users == [] with input as {"pull_request": {"head_sha": td.head, "approvals": [1, "bob", null, {"user": 5, "sha": td.head}, {"user": "", "sha": td.head}]}}
	lib.valid_users == [] with input as {"pull_request": {"head_sha": td.head, "approvals": "bob"}}
	lib.valid_users == [] with input as {"pull_request": null}
}

test_no_head_sha_nothing_valid if {
	lib.valid_users == [] with input as {"pull_request": {"head_sha": "", "approvals": [{"user": "bob", "sha": ""}]}}
}

# --- Messages of every built-in package ----------------------------------------

decisions := {
	"manifest": [data.modelgate.manifest.deny, set()],
	"stage": [data.modelgate.stages.deny, set()],
	"data": [data.modelgate.data.deny, data.modelgate.data.warn],
	"evaluation": [data.modelgate.evaluation.deny, set()],
	"fairness": [data.modelgate.fairness.deny, data.modelgate.fairness.warn],
	"approvals": [data.modelgate.approvals.deny, set()],
	"policy_change": [data.modelgate.policy_change.deny, set()],
}

test_every_package_denies_the_failing_promotion if {
	ds := decisions with input as td.failing
	every _, d in ds {
		count(d[0]) > 0
	}
}

test_every_message_is_well_formed if {
	ds := decisions with input as td.failing
	every prefix, d in ds {
		every m in d[0] | d[1] {
			is_string(m.msg)
			startswith(m.msg, "fraud-detector 2.3.0: ")
			startswith(m.code, concat("", [prefix, "."]))
			m.model == "fraud-detector"
			m.version == "2.3.0"
		}
	}
}

test_passing_promotion_has_no_denials if {
	ds := decisions with input as td.base
	every _, d in ds {
		count(d[0]) == 0
	}
}
