package modelgate.stages_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.stages.deny with input as inp
}

codes(inp) := td.codes(denies(inp))

since(t) := td.put(td.base, "/history/stages/staging/since", t)

# --- stage.unknown -------------------------------------------------------------

test_known_stage_allowed if {
	count(denies(td.base)) == 0
}

test_unknown_stage_denied if {
	inp := td.put(td.base, "/promotion/to_stage", "prod")
	m := td.one(denies(inp), "stage.unknown")
	m.msg == `fraud-detector 2.3.0: stage "prod" is not one of the configured stages (dev, staging, production)`
	m.stage == "prod"
}

test_missing_to_stage_denied if {
	"stage.unknown" in codes(td.drop(td.base, "/promotion/to_stage"))
}

test_config_without_stages_denied if {
	"stage.unknown" in codes(td.drop(td.base, "/config/stages"))
}

# --- stage.skipped -------------------------------------------------------------

test_first_stage_has_no_stage_before if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/promotion/from_stage", "value": ""},
		{"op": "replace", "path": "/promotion/to_stage", "value": "dev"},
		{"op": "replace", "path": "/history/stages/dev/version", "value": "2.2.0"},
	])
	count(denies(inp)) == 0
}

test_version_not_running_in_stage_before_denied if {
	inp := td.put(td.base, "/history/stages/staging/version", "2.2.0")
	m := td.one(denies(inp), "stage.skipped")
	m.msg == "fraud-detector 2.3.0: may enter production only after it ran in staging, but staging runs fraud-detector 2.2.0 (2.3.0 ran there before, but no longer does)"
	m.stage == "production"
	m.from_stage == "staging"
	m.running == "2.2.0"
	codes(inp) == {"stage.skipped"}
}

test_version_never_in_stage_before_denied if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/history/stages/staging", "value": {"version": "", "since": "", "versions": []}},
	])
	m := td.one(denies(inp), "stage.skipped")
	m.msg == "fraud-detector 2.3.0: may enter production only after it ran in staging, but staging runs no version of fraud-detector"
}

test_missing_history_of_stage_before_denied if {
	codes(td.drop(td.base, "/history/stages/staging")) == {"stage.skipped"}
}

test_null_history_denied if {
	codes(td.put(td.base, "/history", null)) == {"stage.skipped"}
}

test_missing_from_stage_derived_from_config if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/promotion/from_stage"},
		{"op": "replace", "path": "/history/stages/staging/version", "value": "2.2.0"},
	])
	m := td.one(denies(inp), "stage.skipped")
	m.from_stage == "staging"
}

test_empty_from_stage_derived_from_config if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/promotion/from_stage", "value": ""},
		{"op": "replace", "path": "/history/stages/staging/since", "value": "2026-11-23T10:00:00Z"},
	])
	m := td.one(denies(inp), "stage.soak")
	m.from_stage == "staging"
}

test_missing_version_read_from_manifest if {
	count(denies(td.drop(td.base, "/promotion/version"))) == 0
}

test_no_version_anywhere_denied if {
	inp := json.patch(td.base, [
		{"op": "remove", "path": "/promotion/version"},
		{"op": "remove", "path": "/manifest/metadata/version"},
	])
	"stage.skipped" in codes(inp)
}

# --- stage.soak ----------------------------------------------------------------

test_soak_not_elapsed_denied if {
	inp := since("2026-11-22T12:00:00Z")
	m := td.one(denies(inp), "stage.soak")
	m.msg == "fraud-detector 2.3.0: has run in staging for 23h, less than staging's soak time of 24h; it may enter production from 2026-11-23T12:00:00Z"
	m.value == "23h"
	m.threshold == "24h"
	m.eligible_at == "2026-11-23T12:00:00Z"
	m.stage == "production"
	m.from_stage == "staging"
	codes(inp) == {"stage.soak"}
}

test_soak_exactly_elapsed_allowed if {
	count(denies(since("2026-11-22T11:00:00Z"))) == 0
}

test_soak_one_second_short_denied if {
	m := td.one(denies(since("2026-11-22T11:00:01Z")), "stage.soak")
	m.value == "23h59m59s"
}

test_soak_of_the_stage_before_applies if {
	# 30h in staging: enough for staging's 24h, though production's soak is 72h.
	inp := json.patch(since("2026-11-22T05:00:00Z"), [
		{"op": "replace", "path": "/config/stages/2/soak", "value": "1000h"},
	])
	count(denies(inp)) == 0
}

test_soak_in_short_go_syntax if {
	inp := json.patch(since("2026-11-23T09:30:00Z"), [
		{"op": "replace", "path": "/config/stages/1/soak", "value": "1h30m"},
	])
	count(denies(inp)) == 0
	inp2 := td.put(inp, "/config/stages/1/soak", "1h30m1s")
	m := td.one(denies(inp2), "stage.soak")
	m.value == "1h30m"
	m.threshold == "1h30m1s"
}

test_stage_without_soak_has_none if {
	inp := json.patch(since("2026-11-23T10:59:59Z"), [
		{"op": "remove", "path": "/config/stages/1/soak"},
	])
	count(denies(inp)) == 0
}

test_since_in_the_future_denied if {
	m := td.one(denies(since("2026-11-24T11:00:00Z")), "stage.soak")
	m.value == "-24h"
}

test_invalid_soak_denied if {
	inp := td.put(td.base, "/config/stages/1/soak", "one day")
	m := td.one(denies(inp), "stage.soak")
	m.msg == `fraud-detector 2.3.0: cannot judge the soak time in staging: config.stages has no valid soak for it ("one day")`
}

test_null_soak_denied if {
	"stage.soak" in codes(td.put(td.base, "/config/stages/1/soak", null))
}

test_negative_soak_denied if {
	"stage.soak" in codes(td.put(td.base, "/config/stages/1/soak", "-1h"))
}

test_missing_since_denied if {
	m := td.one(denies(since("")), "stage.soak")
	contains(m.msg, "cannot judge how long it has run in staging")
}

test_malformed_since_denied if {
	"stage.soak" in codes(since("yesterday"))
}

test_missing_now_denied if {
	"stage.soak" in codes(td.drop(td.base, "/history/now"))
}

test_timestamps_with_offsets if {
	# 2026-11-22T12:00:00+01:00 is 11:00Z: exactly 24h.
	count(denies(since("2026-11-22T12:00:00+01:00"))) == 0
	"stage.soak" in codes(since("2026-11-22T10:00:01-01:00"))
}

# --- rollbacks -----------------------------------------------------------------

rollback := json.patch(td.base, [
	{"op": "replace", "path": "/promotion/version", "value": "2.1.0"},
	{"op": "replace", "path": "/promotion/rollback", "value": true},
	{"op": "replace", "path": "/manifest/metadata/version", "value": "2.1.0"},
])

test_rollback_returns_at_once if {
	# 2.1.0 runs neither in staging nor for any time, but production ran it.
	count(denies(rollback)) == 0
}

test_rollback_skips_soak if {
	inp := json.patch(rollback, [
		{"op": "replace", "path": "/history/stages/staging/version", "value": "2.1.0"},
		{"op": "replace", "path": "/history/stages/staging/since", "value": "2026-11-23T10:59:00Z"},
	])
	count(denies(inp)) == 0
}

test_rollback_to_a_version_never_in_the_stage_denied if {
	inp := td.put(rollback, "/history/stages/production/versions", ["2.2.0"])
	codes(inp) == {"stage.skipped"}
}

test_rollback_flag_must_be_true if {
	codes(td.put(rollback, "/promotion/rollback", "true")) == {"stage.skipped"}
}

test_rollback_to_unknown_stage_still_denied if {
	"stage.unknown" in codes(td.put(rollback, "/promotion/to_stage", "prod"))
}

# --- runs: soak per version ---------------------------------------------------

# 2.3.0 runs in staging since its deployment succeeded four days ago.
running := td.runs(td.base, "staging", [
	td.run("2.3.0", "2026-11-19T11:00:00Z", ""),
	td.run("2.2.0", "2026-11-01T11:00:00Z", "2026-11-19T10:00:00Z"),
])

test_run_that_soaked_allowed if {
	count(denies(running)) == 0
}

test_soak_counted_from_the_runs_since if {
	inp := td.runs(td.base, "staging", [td.run("2.3.0", "2026-11-22T12:00:00Z", "")])
	m := td.one(denies(inp), "stage.soak")
	m.msg == "fraud-detector 2.3.0: has run in staging for 23h, less than staging's soak time of 24h; it may enter production from 2026-11-23T12:00:00Z"
	m.eligible_at == "2026-11-23T12:00:00Z"
}

# Kargo #4238: replacing 2.3.0 in staging after its soak keeps the soak.
test_replaced_after_its_soak_allowed if {
	inp := td.runs(td.base, "staging", [
		td.run("2.4.0", "2026-11-23T09:00:00Z", ""),
		td.run("2.3.0", "2026-11-19T11:00:00Z", "2026-11-23T09:00:00Z"),
	])
	count(denies(inp)) == 0
}

test_replaced_before_its_soak_denied_for_good if {
	inp := td.runs(td.base, "staging", [
		td.run("2.4.0", "2026-11-22T12:00:00Z", ""),
		td.run("2.3.0", "2026-11-22T00:00:00Z", "2026-11-22T12:00:00Z"),
	])
	m := td.one(denies(inp), "stage.soak")
	m.msg == "fraud-detector 2.3.0: ran only, before it was replaced, in staging for 12h, less than staging's soak time of 24h"
	m.eligible_at == ""
	codes(inp) == {"stage.soak"}
}

# The newest run decides: an older, longer one does not make up for it.
test_newest_run_of_the_version_decides if {
	inp := td.runs(td.base, "staging", [
		td.run("2.3.0", "2026-11-23T10:00:00Z", ""),
		td.run("2.2.0", "2026-11-20T00:00:00Z", "2026-11-23T10:00:00Z"),
		td.run("2.3.0", "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z"),
	])
	td.one(denies(inp), "stage.soak").value == "1h"
}

test_no_run_of_the_version_denied if {
	inp := td.runs(td.base, "staging", [td.run("2.2.0", "2026-11-01T11:00:00Z", "")])
	m := td.one(denies(inp), "stage.skipped")
	m.running == "2.2.0"
	codes(inp) == {"stage.skipped"}
}

test_failed_deployment_never_soaks if {
	every state in ["failure", "error"] {
		inp := td.put(running, "/history/stages/staging/runs/0/deployment", state)
		m := td.one(denies(inp), "stage.soak")
		m.msg == sprintf("fraud-detector 2.3.0: its deployment in staging failed (%s): a failed run never soaks", [state])
		m.deployment == state
		codes(inp) == {"stage.soak"}
	}
}

test_deployment_not_yet_succeeded_denied if {
	inp := json.patch(running, [
		{"op": "replace", "path": "/history/stages/staging/runs/0/since", "value": ""},
		{"op": "replace", "path": "/history/stages/staging/runs/0/deployment", "value": "in_progress"},
	])
	m := td.one(denies(inp), "stage.soak")
	m.msg == "fraud-detector 2.3.0: cannot judge how long it has run in staging: its deployment there has not succeeded (in_progress)"
}

test_malformed_until_denied if {
	inp := td.runs(td.base, "staging", [
		td.run("2.4.0", "2026-11-23T09:00:00Z", ""),
		td.run("2.3.0", "2026-11-19T11:00:00Z", "soon"),
	])
	m := td.one(denies(inp), "stage.soak")
	contains(m.msg, `end time ("soon")`)
}

# --- stage.analysis ------------------------------------------------------------

analyzed(phase) := td.put(td.analyzed(running, 1), "/history/stages/staging/runs/0/analysis", phase)

test_successful_analysis_allowed if {
	count(denies(analyzed("Successful"))) == 0
}

test_analysis_not_passed_denied if {
	every c in [
		{"phase": "", "msg": "fraud-detector 2.3.0: its run in staging has no analysis, which staging requires"},
		{"phase": "Running", "msg": "fraud-detector 2.3.0: its analysis in staging has not completed (Running)"},
		{"phase": "Failed", "msg": "fraud-detector 2.3.0: its analysis in staging failed"},
		{"phase": "Inconclusive", "msg": "fraud-detector 2.3.0: its analysis in staging was inconclusive"},
	] {
		m := td.one(denies(analyzed(c.phase)), "stage.analysis")
		m.msg == c.msg
		m.phase == c.phase
		m.from_stage == "staging"
		codes(analyzed(c.phase)) == {"stage.analysis"}
	}
}

test_analysis_message_names_the_metrics if {
	inp := td.put(analyzed("Failed"), "/history/stages/staging/analysis", {
		"phase": "Failed",
		"metrics": [
			{"name": "error-rate", "phase": "Failed", "message": "3 of 12 measurements failed, more than the failureLimit of 2"},
			{"name": "latency", "phase": "Successful", "message": ""},
		],
	})
	m := td.one(denies(inp), "stage.analysis")
	m.msg == "fraud-detector 2.3.0: its analysis in staging failed: error-rate: 3 of 12 measurements failed, more than the failureLimit of 2"
}

test_analysis_of_a_replaced_run_judged if {
	inp := td.analyzed(td.runs(td.base, "staging", [
		td.run("2.4.0", "2026-11-23T09:00:00Z", ""),
		object.union(td.run("2.3.0", "2026-11-19T11:00:00Z", "2026-11-23T09:00:00Z"), {"analysis": "Inconclusive"}),
	]), 1)
	td.one(denies(inp), "stage.analysis").phase == "Inconclusive"
	count(denies(td.put(inp, "/history/stages/staging/runs/1/analysis", "Successful"))) == 0
}

# Without runs, the stage's analysis of the version it runs is the run's.
test_analysis_without_runs_from_the_stages_analysis if {
	inp := td.analyzed(td.base, 1)
	td.one(denies(inp), "stage.analysis").phase == ""
	count(denies(td.put(inp, "/history/stages/staging/analysis", {"phase": "Successful", "metrics": []}))) == 0
}

test_stage_without_analysis_needs_none if {
	count(denies(td.put(running, "/history/stages/staging/runs/0/analysis", "Failed"))) == 0
}

test_rollback_skips_analysis if {
	inp := td.analyzed(td.put(rollback, "/history/stages/staging/analysis", {"phase": "Failed", "metrics": []}), 1)
	count(denies(inp)) == 0
}

# --- no promotion --------------------------------------------------------------

test_no_promotion_nothing if {
	count(denies(td.policy_change)) == 0
	count(denies(td.drop(td.base, "/promotion"))) == 0
}

test_regression_fixture_allowed if {
	count(denies(td.regression)) == 0
}

# --- Durations and timestamps --------------------------------------------------

test_soak_with_fractions_and_leading_zeros if {
	# 1.5h = 1h30m.
	inp := td.put(since("2026-11-23T09:30:00Z"), "/config/stages/1/soak", "1.5h")
	count(denies(inp)) == 0
	inp2 := td.put(since("2026-11-23T09:30:01Z"), "/config/stages/1/soak", "01h30m")
	m := td.one(denies(inp2), "stage.soak")
	m.threshold == "1h30m"
}

test_soak_zero if {
	count(denies(td.put(since("2026-11-23T11:00:00Z"), "/config/stages/1/soak", "0"))) == 0
	count(denies(td.put(since("2026-11-23T11:00:00Z"), "/config/stages/1/soak", "0s"))) == 0
}

test_soak_in_small_units if {
	inp := td.put(since("2026-11-23T10:59:59Z"), "/config/stages/1/soak", "1500ms")
	m := td.one(denies(inp), "stage.soak")
	m.threshold == "1s"
	m.value == "1s"
}

test_enormous_soak_denied_without_a_date if {
	inp := td.put(td.base, "/config/stages/1/soak", "99999999999999999999h")
	m := td.one(denies(inp), "stage.soak")
	m.eligible_at == ""
	contains(m.msg, "less than staging's soak time of 9999999999999999999")
	not contains(m.msg, "may enter")
}

test_impossible_dates_denied if {
	"stage.soak" in codes(since("2026-02-30T10:00:00Z"))
	"stage.soak" in codes(since("2026-13-01T10:00:00Z"))
	"stage.soak" in codes(since("2026-11-22T24:00:00Z"))
	"stage.soak" in codes(since("9999-11-22T10:00:00Z"))
	"stage.soak" in codes(since(1763895600))
}

test_leap_day if {
	inp := json.patch(td.base, [
		{"op": "replace", "path": "/history/now", "value": "2028-03-01T00:00:00Z"},
		{"op": "replace", "path": "/history/stages/staging/since", "value": "2028-02-29T00:00:00Z"},
	])
	count(denies(inp)) == 0
	"stage.soak" in codes(td.put(inp, "/history/stages/staging/since", "2027-02-29T00:00:00Z"))
}

test_fractional_seconds if {
	count(denies(since("2026-11-22T10:59:59.999999999Z"))) == 0
	m := td.one(denies(since("2026-11-22T11:00:00.5Z")), "stage.soak")
	m.value == "23h59m59s"
}

# --- removals ------------------------------------------------------------------

# A removal leaves the stage: stage order and soak are about entering one.
test_removal_not_judged_by_stage_order if {
	inp := json.patch(td.base, [
		{"op": "add", "path": "/promotion/kind", "value": "removal"},
		{"op": "replace", "path": "/history/stages/staging/version", "value": ""},
	])
	count(denies(inp)) == 0
	"stage.skipped" in codes(td.put(inp, "/promotion/kind", "promotion"))
}
