# Shared helpers of the built-in policies: the promotion being judged, policy
# data with its documented defaults, number and duration formatting, threshold
# comparisons, and the approval rules (which approvals count, team membership).
#
# This package has no deny or warn rules of its own.
package modelgate.lib

# The defaults of config.thresholds (schemas/defaults.cue). The engine always
# fills them in; they are repeated here so that a policy evaluated on a partial
# config (opa eval, an organisation's own tests) judges by the documented
# thresholds instead of silently judging nothing.
default_thresholds := {
	"drift": {"shareDrifted": 0.5},
	"evaluation": {
		"minimum": {
			"binary_classification": {"roc_auc": 0.7},
			"multiclass_classification": {"macro_f1": 0.6},
			"regression": {"r2": 0.5},
		},
		"maxRegression": 0.01,
	},
	"fairness": {
		"disparateImpactMin": 0.8,
		"equalizedOddsMax": 0.1,
		"minGroupSize": 30,
	},
}

# Metrics for which lower values are better. Their entry in
# config.thresholds.evaluation.minimum is a maximum, and a regression against
# the baseline is a rise, not a drop.
lower_is_better := {"log_loss", "brier", "rmse", "mae"}

# A value within epsilon * max(1, |threshold|) of a threshold is on it: such a
# difference is arithmetic noise, not a crossing (0.3 - 0.2 must not count as
# above 0.1). The evidence's own numbers are exact only to 1e-9 relative.
epsilon := 1e-12

# --- The document being judged ----------------------------------------------

# change is the pin change being judged: a promotion, or the removal of a pin
# (promotion.kind "removal"). A pull request that changes no pin is evaluated
# with promotion null.
change := p if {
	p := input.promotion
	is_object(p)
}

# A removal has no manifest or evidence to judge, but changes its stage all
# the same: only the rules about changing a stage (approvals) judge it.
removal if change.kind == "removal"

# promotion is defined only when there is a promotion to judge.
promotion := change if not removal

config := c if {
	c := input.config
	is_object(c)
} else := {}

manifest := m if {
	m := input.manifest
	is_object(m)
} else := {}

spec := s if {
	s := manifest.spec
	is_object(s)
} else := {}

evidence := e if {
	e := input.evidence
	is_object(e)
} else := {}

pull_request := p if {
	p := input.pull_request
	is_object(p)
} else := {}

# A manifest's risk tier; anything but low or medium is judged as high.
risk_tier := t if {
	t := manifest.metadata.riskTier
	t in {"low", "medium"}
} else := "high"

model := m if {
	m := change.model
	is_string(m)
	m != ""
} else := m if {
	promotion
	m := manifest.metadata.name
	is_string(m)
} else := ""

version := v if {
	v := change.version
	is_string(v)
	v != ""
} else := v if {
	promotion
	v := manifest.metadata.version
	is_string(v)
} else := ""

# rollback holds for a promotion back to a version that ran in to_stage before:
# promotion.rollback says so (the gate's run records or git history; see
# policies/README.md), and it counts only when the history confirms that the
# stage pinned the version. A rollback skips the order, soak and analysis rules
# and needs approvals.rollback instead of the stage's approvals.
rollback if {
	promotion.rollback == true
	version in array_at(object_at(input, ["history", "stages"]), [promotion.to_stage, "versions"])
}

# What a message is about: the model version, or the pull request when it
# changes no pin.
subject := sprintf("%s %s", [model, version]) if {
	change
} else := sprintf("pull request #%d", [n]) if {
	n := pull_request.number
	is_number(n)
	n > 0
	n == floor(n)
} else := "the pull request"

# message builds a deny or warn object: msg names the subject, then text.
message(code, text, fields) := object.union(fields, {
	"msg": sprintf("%s: %s", [subject, text]),
	"code": code,
	"model": model,
	"version": version,
})

# get returns the value at path in doc, or null when there is none. Use it
# under not: a reference in a call's argument is evaluated before the not, so
# `not is_object(x.missing)` is undefined (never true), while
# `not is_object(get(x, ["missing"]))` is true.
get(doc, path) := object.get(doc, path, null) if {
	is_object(doc)
} else := null

# object_at returns the object at path in doc, or {} when there is none. The
# built-in policies spell it (and array_at) out for the documents they read on
# every decision: a function call costs more than the lookup it wraps.
object_at(doc, path) := o if {
	is_object(doc)
	o := object.get(doc, path, null)
	is_object(o)
} else := {}

# array_at returns the array at path in doc, or [] when there is none.
array_at(doc, path) := a if {
	is_object(doc)
	a := object.get(doc, path, null)
	is_array(a)
} else := []

# non_empty_string holds for a string with something besides white space.
non_empty_string(s) if {
	is_string(s)
	trim_space(s) != ""
}

# threshold is config.thresholds at path when it is a number there, else the
# documented default.
threshold(path) := v if {
	v := object.get(thresholds, path, null)
	is_number(v)
} else := object.get(default_thresholds, path, null)

thresholds := t if {
	t := config.thresholds
	is_object(t)
} else := {}

# The minimum metrics of a task: a metric without an entry has no minimum.
minimums(task) := m if {
	is_string(task)
	m := object.get(config, ["thresholds", "evaluation", "minimum", task], null)
	is_object(m)
} else := m if {
	is_string(task)
	m := object.get(default_thresholds, ["evaluation", "minimum", task], null)
	is_object(m)
} else := {}

# --- Comparisons ---------------------------------------------------------------

# Most thresholds lie within [-1, 1], where the tolerance is epsilon itself:
# comparing spares abs and a multiplication, arithmetic being what costs most in
# Rego.
tolerance(limit) := epsilon if {
	-1 <= limit
	limit <= 1
} else := epsilon * max([1, abs(limit)])

# above holds when x exceeds limit by more than arithmetic noise.
above(x, limit) if x - limit > tolerance(limit)

# below holds when x falls short of limit by more than arithmetic noise.
below(x, limit) if limit - x > tolerance(limit)

# clean rounds the result of arithmetic to 15 significant digits, the precision
# of the evidence's own numbers: 0.75 - 0.6 is 0.15, not 0.14999999999999999998.
clean(x) := to_number(s) if {
	abs(x) < 1e15
	x != floor(x)
	s := sprintf("%.15g", [x])
	regex.match(number_pattern, s)
} else := x

number_pattern := `^-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$`

# --- Formatting ----------------------------------------------------------------

# num formats a number readably: integers in full, other numbers with four
# significant digits (more when the integer part is longer). Anything else is
# printed as it is.
num(x) := format_int(x, 10) if {
	is_number(x)
	abs(x) < 1e15
	x == floor(x)
} else := fmt_g(x, start_precision(x)) if {
	is_number(x)
	abs(x) < 1e15
} else := sprintf("%v", [x])

# exact formats a number without rounding, for thresholds: the user wrote them.
exact(x) := format_int(x, 10) if {
	is_number(x)
	abs(x) < 1e15
	x == floor(x)
} else := sprintf("%v", [x])

# num_vs formats x for a message that compares it with threshold t: as num does,
# but with as many more digits as needed for the printed value to lie on the same
# side of t as x itself. 0.79996 against 0.8 prints as 0.79996, never as 0.8.
num_vs(x, t) := num(x) if {
	not misleading(x, t, num(x))
} else := s if {
	candidates := [c |
		some p in numbers.range(start_precision(x), 17)
		c := fmt_g(x, p)
		not misleading(x, t, c)
	]
	s := candidates[0]
} else := sprintf("%v", [x])

misleading(x, t, s) if {
	is_number(x)
	is_number(t)
	abs(x) < 1e15
	regex.match(number_pattern, s)
	side(to_number(s), t) != side(x, t)
}

side(a, b) := "<" if {
	a < b
} else := "=" if {
	a == b
} else := ">"

fmt_g(x, p) := sprintf(concat("", ["%.", format_int(p, 10), "g"]), [x])

start_precision(x) := max([4, min([17, count(format_int(abs(x), 10)) + 1])])

# duration formats nanoseconds as Go does, without zero parts: 72h, 23h5m, 45s.
duration(ns) := "0s" if {
	ns == 0
} else := concat("", ["-", positive_duration(abs(ns))]) if {
	ns < 0
} else := positive_duration(ns)

positive_duration(ns) := "less than 1s" if {
	ns < 1000000000
} else := concat("", parts) if {
	secs := floor(ns / 1000000000)
	parts := [part |
		some unit in [[floor(secs / 3600), "h"], [floor((secs % 3600) / 60), "m"], [secs % 60, "s"]]
		unit[0] > 0
		part := concat("", [format_int(unit[0], 10), unit[1]])
	]
}

# list formats strings as "a, b, c"; none as "none".
list(xs) := "none" if {
	count(xs) == 0
} else := concat(", ", [sprintf("%v", [x]) | some x in xs])

# --- Approvals -----------------------------------------------------------------

# GitHub logins and team slugs are case-insensitive.
login(u) := lower(trim_space(u)) if {
	is_string(u)
} else := ""

team_slug(t) := trim_prefix(lower(trim_space(t)), "@") if {
	is_string(t)
} else := ""

# team_matches holds when a team an approver belongs to meets a required team:
# compliance is met by compliance and by <org>/compliance, the teams that end in
# /compliance once prefixed with a slash.
team_matches(member_of, required) if {
	team := team_slug(required)
	team != ""
	endswith(concat("", ["/", team_slug(member_of)]), concat("", ["/", team]))
}

# Approval rules read the pull request being judged. Everything below is a
# rule, evaluated once per decision, or a function of a team or rule.

# Every approval with why it does not count (problems; empty when it counts):
# {user: as given, login, teams: normalised, problems}.
approvals := [{"user": object.get(a, "user", ""), "login": u, "teams": teams, "problems": problems(a, u)} |
	given := pull_request.approvals
	is_array(given)
	some a in given
	is_object(a)
	u := login(object.get(a, "user", ""))
	teams := [team_slug(t) | ts := a.teams; is_array(ts); some t in ts]
]

author := login(object.get(pull_request, "author", ""))

committers := {login(c) | cs := pull_request.committers; is_array(cs); some c in cs; login(c) != ""}

head_sha := lower(s) if {
	s := object.get(pull_request, "head_sha", "")
	is_string(s)
	trim_space(s) != ""
} else := ""

short_sha(s) := substring(s, 0, 7) if {
	is_string(s)
	count(s) > 7
} else := s if {
	non_empty_string(s)
} else := "no commit"

# problems lists why an approval by login u does not count; none when it counts.
# An approval counts only when given on the pull request's head commit by
# someone who is neither its author nor one of its committers. Most approvals
# count: checking that first, as stale and is_author would, spares working out
# every problem.
problems(a, u) := [] if {
	u != ""
	head_sha != ""
	sha := object.get(a, "sha", "")
	is_string(sha)
	lower(sha) == head_sha
	u != author
	not u in committers
} else := [c.why |
	some c in [
		{"bad": u == "", "why": "no user"},
		{"bad": stale(a), "why": sprintf("stale: approved %s, not the head %s", [short_sha(object.get(a, "sha", "")), short_sha(head_sha)])},
		{"bad": is_author(u), "why": "author of the pull request"},
		{"bad": u in committers, "why": "committer to the pull request"},
	]
	c.bad
]

is_author(u) if {
	author != ""
	u == author
} else := false

stale(a) := false if {
	head_sha != ""
	sha := object.get(a, "sha", "")
	is_string(sha)
	lower(sha) == head_sha
} else := true

valid_approvals := [a | some a in approvals; count(a.problems) == 0]

# The distinct users whose approvals count, sorted.
valid_users := sort({a.login | some a in valid_approvals})

# The approvals that do not count, with why, for users none of whose approvals
# count, sorted by user: [{user, reasons}].
discarded := [{"user": d[0], "reasons": d[1]} | some d in sort({[a.user, a.problems] |
	some a in approvals
	count(a.problems) > 0
	not a.login in valid_users
})]

# The valid approvers who are members of team.
team_approvers(team) := sort({a.login |
	some a in valid_approvals
	some t in a.teams
	team_matches(t, team)
})

# The discarded approvals by members of team.
team_discarded(team) := [d |
	some d in discarded
	team_member(login(d.user), team)
]

# team_member holds when any approval by u names a team that meets team.
team_member(u, team) if {
	some a in approvals
	a.login == u
	some t in a.teams
	team_matches(t, team)
}

# rule_count is how many approvals a rule needs; a rule without a count needs
# one (the config's default).
rule_count(rule) := c if {
	c := object.get(rule, "count", null)
	is_number(c)
} else := 1

rule_teams(rule) := [t | ts := rule.teams; is_array(ts); some t in ts; is_string(t); trim_space(t) != ""]

# The teams of a rule that no valid approval comes from.
missing_teams(rule) := [t | some t in rule_teams(rule); count(team_approvers(t)) == 0]

# "alice (author of the pull request), carol (stale: ...)"
discarded_text(ds) := list([sprintf("%v (%s)", [d.user, concat("; ", d.reasons)]) | some d in ds])

# approvals_text says how many approvals count, whose, and which approvals were
# discarded and why: "has 1 valid (bob); discarded: alice (author of the pull request)".
approvals_text := sprintf("has %d valid (%s)%s", [
	count(valid_users),
	list(valid_users),
	discarded_suffix(discarded),
])

discarded_suffix(ds) := "" if {
	count(ds) == 0
} else := concat("", ["; discarded: ", discarded_text(ds)])

plural(n, one, many) := one if {
	n == 1
} else := many

# team_text says that a team's approval is missing, and which approvals by its
# members were discarded.
team_text(team) := sprintf("needs an approval from a member of %s (or <org>/%s)%s", [
	team,
	team,
	team_discarded_suffix(team_discarded(team)),
])

team_discarded_suffix(ds) := "" if {
	count(ds) == 0
} else := concat("", ["; discarded approvals by members: ", discarded_text(ds)])
