# Stage order, soak and analysis.
#
# A version enters config.stages in order: it may enter a stage only after it
# ran in the stage before it (stage.skipped), for that stage's soak
# (stage.soak), and, where that stage has analysis, with its analysis there
# Successful (stage.analysis). Soak is per version: what counts is the
# version's newest run in the stage before, history.stages[<stage>].runs, from
# its since to its until (or history.now while it still runs), so a version
# replaced there after its soak may still move on (Kargo #4238). A run whose
# deployment failed never soaks. An input without runs (an older caller, or a
# hand-written document) is judged by version and since: the version must still
# run in the stage before.
#
# A rollback (lib.rollback) may return at once: none of these rules applies to
# it. A removal (promotion.kind "removal") enters no stage: neither does.
#
# Whatever cannot be judged (an unknown stage, a missing start time, a soak that
# is not a duration) denies.
package modelgate.stages

import data.modelgate.lib

stages := [s | list := lib.config.stages; is_array(list); some s in list; is_object(s)]

stage_names := [n | some s in stages; n := object.get(s, "name", "")]

to_stage := s if {
	s := lib.promotion.to_stage
	is_string(s)
} else := ""

# from_stage is the stage the version must have run in first: the promotion's,
# or, when it names none, the stage before to_stage in config.stages (a missing
# from_stage must not waive the order).
from_stage := s if {
	s := lib.promotion.from_stage
	is_string(s)
	trim_space(s) != ""
} else := s if {
	indexes := [i | some i, n in stage_names; n == to_stage]
	indexes[0] > 0
	s := stage_names[indexes[0] - 1]
} else := ""

history(stage) := h if {
	h := input.history.stages[stage]
	is_object(h)
} else := {}

running(stage) := v if {
	v := history(stage).version
	is_string(v)
	trim_space(v) != ""
} else := ""

# Anything but a rollback must keep to the order and the soak times.
in_order if not lib.rollback

deny contains msg if {
	lib.promotion
	not to_stage in stage_names
	msg := lib.message("stage.unknown", sprintf("stage %s is not one of the configured stages (%s)", [quoted(to_stage), lib.list(stage_names)]), {"stage": to_stage})
}

# runs are a stage's runs of the model, newest first; has_runs holds when the
# history lists them.
runs(stage) := [r | some r in lib.array_at(history(stage), ["runs"]); is_object(r)]

has_runs(stage) if is_array(object.get(history(stage), "runs", null))

# run is the version's newest run in from_stage, or undefined when it has none.
# Without runs in the history, the stage's current pin stands for it.
run := rs[0] if {
	has_runs(from_stage)
	rs := [r | some r in runs(from_stage); r.version == lib.version]
	count(rs) > 0
} else := {
	"version": lib.version,
	"since": object.get(history(from_stage), "since", ""),
	"until": "",
	"deployment": "",
	"analysis": object.get(lib.object_at(history(from_stage), ["analysis"]), "phase", ""),
} if {
	not has_runs(from_stage)
	running(from_stage) == lib.version
}

# current holds when the run still goes on.
current if object.get(run, "until", "") == ""

# failed holds when the run's deployment failed: such a run never soaks.
failed if object.get(run, "deployment", "") in {"failure", "error"}

# judged holds when the soak of the run is to be judged.
judged if {
	lib.promotion
	in_order
	from_stage != ""
	run
}

deny contains msg if {
	lib.promotion
	in_order
	from_stage != ""
	not run
	msg := lib.message(
		"stage.skipped",
		sprintf("may enter %s only after it ran in %s, but %s%s", [to_stage, from_stage, runs_text(from_stage), ran_before_text(from_stage)]),
		{"stage": to_stage, "from_stage": from_stage, "running": running(from_stage)},
	)
}

deny contains msg if {
	judged
	failed
	msg := lib.message(
		"stage.soak",
		sprintf("its deployment in %s failed (%s): a failed run never soaks", [from_stage, run.deployment]),
		{"stage": to_stage, "from_stage": from_stage, "deployment": run.deployment},
	)
}

# The soak time cannot be read.
deny contains msg if {
	judged
	not failed
	from_soak_ns == null
	msg := lib.message(
		"stage.soak",
		sprintf("cannot judge the soak time in %s: config.stages has no valid soak for it (%s)", [from_stage, quoted(soak_value(from_stage))]),
		{"stage": to_stage, "from_stage": from_stage},
	)
}

# The time in the stage cannot be read.
deny contains msg if {
	judged
	not failed
	from_elapsed_ns == null
	msg := lib.message(
		"stage.soak",
		sprintf("cannot judge how long it has run in %s: %s", [from_stage, unreadable_text]),
		{"stage": to_stage, "from_stage": from_stage, "deployment": object.get(run, "deployment", "")},
	)
}

unreadable_text := sprintf("its deployment there has not succeeded (%s)", [run.deployment]) if {
	object.get(run, "since", "") == ""
	object.get(run, "deployment", "") != ""
} else := sprintf("history has no valid start time (%s), end time (%s) or current time (%s)", [quoted(object.get(run, "since", "")), quoted(object.get(run, "until", "")), quoted(object.get(lib.object_at(input, ["history"]), "now", ""))]) if {
	not current
} else := sprintf("history has no valid start time (%s) or current time (%s)", [quoted(object.get(run, "since", "")), quoted(object.get(lib.object_at(input, ["history"]), "now", ""))])

deny contains msg if {
	judged
	not failed
	soak := from_soak_ns
	is_number(soak)
	elapsed := from_elapsed_ns
	is_number(elapsed)
	elapsed < soak
	eligible := eligible_at(soak)
	msg := lib.message(
		"stage.soak",
		sprintf("%s %s for %s, less than %s's soak time of %s%s", [ran_text, from_stage, lib.duration(elapsed), from_stage, lib.duration(soak), eligible_text(eligible)]),
		{
			"stage": to_stage,
			"from_stage": from_stage,
			"value": lib.duration(elapsed),
			"threshold": lib.duration(soak),
			"eligible_at": eligible,
		},
	)
}

ran_text := "has run in" if current else := "ran only, before it was replaced, in"

# The analysis of from_stage has not passed. Only "Successful" passes.
deny contains msg if {
	judged
	is_object(object.get(stage_entry(from_stage), "analysis", null))
	phase := object.get(run, "analysis", "")
	phase != "Successful"
	msg := lib.message(
		"stage.analysis",
		sprintf("%s%s", [analysis_text(phase), metrics_text]),
		{"stage": to_stage, "from_stage": from_stage, "phase": phase},
	)
}

analysis_text(phase) := sprintf("its run in %s has no analysis, which %s requires", [from_stage, from_stage]) if {
	not phase in {"Running", "Failed", "Inconclusive"}
} else := sprintf("its analysis in %s has not completed (Running)", [from_stage]) if {
	phase == "Running"
} else := sprintf("its analysis in %s failed", [from_stage]) if {
	phase == "Failed"
} else := sprintf("its analysis in %s was inconclusive", [from_stage])

# metrics_text lists the metric messages of the stage's current analysis, when
# it is the run's.
metrics_text := sprintf(": %s", [concat("; ", texts)]) if {
	current
	running(from_stage) == lib.version
	texts := [sprintf("%s: %s", [m.name, m.message]) |
		some m in lib.array_at(lib.object_at(history(from_stage), ["analysis"]), ["metrics"])
		is_object(m)
		lib.non_empty_string(object.get(m, "message", ""))
	]
	count(texts) > 0
} else := ""

eligible_text(eligible) := "" if {
	eligible == ""
} else := sprintf("; it may enter %s from %s", [to_stage, eligible])

runs_text(stage) := sprintf("%s runs %s %s", [stage, lib.model, running(stage)]) if {
	running(stage) != ""
} else := sprintf("%s runs no version of %s", [stage, lib.model])

ran_before_text(stage) := sprintf(" (%s ran there before, but no longer does)", [lib.version]) if {
	lib.version in lib.array_at(history(stage), ["versions"])
} else := ""

quoted(s) := sprintf("%q", [s]) if {
	is_string(s)
} else := sprintf("%v", [s])

# --- Time ----------------------------------------------------------------------

stage_entry(name) := entries[0] if {
	entries := [s | some s in stages; s.name == name]
	count(entries) > 0
}

# soak_value is the soak as config.stages writes it; a stage without one has
# the default, no soak.
soak_value(name) := object.get(stage_entry(name), "soak", "0s") if {
	stage_entry(name)
} else := null

# A Go duration ("72h", "1h30m", "0s", "0"), without a sign. Only durations that
# cannot overflow 64 bits are left to time.parse_duration_ns, which fails on the
# others: a policy must judge, never fail.
duration_pattern := `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+)$`

duration_part := `([0-9]+)(?:\.([0-9]+))?(ns|us|µs|μs|ms|s|m|h)`

unit_ns := {
	"ns": 1,
	"us": 1000,
	"µs": 1000,
	"μs": 1000,
	"ms": 1000000,
	"s": 1000000000,
	"m": 60000000000,
	"h": 3600000000000,
}

# The soak and the time run in from_stage, worked out once per decision: rules
# are evaluated once per query, functions at every call.
from_soak_ns := soak_ns(from_stage)

# soak_ns is the soak in nanoseconds, or null when it is not a Go duration.
soak_ns(name) := ns if {
	s := soak_value(name)
	is_string(s)
	regex.match(duration_pattern, s)
	ns := duration_ns(s)
} else := null

# duration_ns adds up the parts of a Go duration. The durations Go itself writes
# (72h0m0s), with parts too short to overflow, are left to
# time.parse_duration_ns, which adds them up the same way at a fraction of the
# cost.
duration_ns(s) := time.parse_duration_ns(s) if {
	regex.match(`^([0-9]{1,6}h)?([0-9]{1,6}m)?([0-9]{1,6}s)?$`, s)
} else := floor(sum([v |
	some p in regex.find_all_string_submatch_n(duration_part, s, -1)
	v := (whole(p[1]) + fraction(p[2])) * unit_ns[p[3]]
]))

# whole reads digits that may have leading zeros ("007").
whole(digits) := 0 if {
	trim_left(digits, "0") == ""
} else := to_number(trim_left(digits, "0"))

fraction(digits) := 0 if {
	digits == ""
} else := to_number(concat("", ["0.", digits]))

# An RFC 3339 timestamp that time.parse_rfc3339_ns accepts and that fits in
# nanoseconds since 1970 (years 1700 to 2199).
rfc3339_pattern := `^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`

timestamp_ns(s) := ns if {
	is_string(s)
	regex.match(rfc3339_pattern, s)
	year := substring(s, 0, 4)
	year >= "1700"
	year < "2200"
	day_in_month(s, year)
	ns := time.parse_rfc3339_ns(s)
} else := null

# day_in_month holds when the day of timestamp s exists in its month. Every month
# has 28 days: only a later day needs the month looked up.
day_in_month(s, _) if substring(s, 8, 2) <= "28"

day_in_month(s, year) if {
	to_number(trim_prefix(substring(s, 8, 2), "0")) <= days_in_month(to_number(year), to_number(trim_prefix(substring(s, 5, 2), "0")))
}

days_in_month(year, month) := 29 if {
	month == 2
	leap(year)
} else := [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]

leap(year) if {
	year % 4 == 0
	year % 100 != 0
}

leap(year) if year % 400 == 0

# eligible_at is when the version may move on, as an RFC 3339 timestamp; "" when
# that lies beyond what a timestamp can hold, or when the run was replaced and
# can soak no longer.
eligible_at(soak) := time.format([since_ns + soak, "UTC", "2006-01-02T15:04:05Z07:00"]) if {
	current
	since_ns + soak < 7258118400000000000 # 2200-01-01
} else := ""

since_ns := timestamp_ns(object.get(run, "since", null))

now_ns := timestamp_ns(object.get(lib.object_at(input, ["history"]), "now", null))

# end_ns is when the run ended, or now while it goes on.
end_ns := now_ns if current else := timestamp_ns(object.get(run, "until", null))

from_elapsed_ns := end_ns - since_ns if {
	is_number(end_ns)
	is_number(since_ns)
} else := null
