# Fairness, for every sensitive attribute, over the groups with at least
# config.thresholds.fairness.minGroupSize rows (smaller groups are reported, not
# judged: their rates are noise).
#
#   fairness.disparate_impact  the disparate impact ratio is below
#                              disparateImpactMin (the four-fifths rule)
#   fairness.equalized_odds    the equalized odds difference is above
#                              equalizedOddsMax
#   fairness.undefined         a metric cannot be computed over the judged groups;
#                              also the warning that names the groups not judged
#   fairness.missing           the evidence has no fairness results where they are
#                              required
#
# The disparate impact ratio follows the evidence's disparate_impact_ratio: the
# lowest ratio of a group's selection rate to the reference group's (the
# evidence's reference_group, else the manifest's referenceGroups), or without a
# usable reference group (none, too small, or never selected) the lowest
# selection rate over the highest. The equalized odds difference is the larger of
# the tpr range and the fpr range, each over the groups whose rate is defined.
# A metric needs at least two judged groups with a defined rate.
#
# High-risk models always need fairness evidence, and a metric that cannot be
# computed denies them; for other models both are warnings.
package modelgate.fairness

import data.modelgate.lib

high if lib.risk_tier == "high"

declared if is_object(lib.spec.fairness)

declared_attributes := [a | some a in lib.array_at(lib.spec, ["fairness", "sensitiveAttributes"]); is_string(a)]

results := lib.object_at(lib.evidence, ["fairness"])

attributes := {a | some a in declared_attributes} | {a | some a, _ in results}

min_size := lib.threshold(["fairness", "minGroupSize"])

di_min := lib.threshold(["fairness", "disparateImpactMin"])

eo_max := lib.threshold(["fairness", "equalizedOddsMax"])

# Missing and undefined results deny high-risk models and warn about others.
severity := "deny" if high

else := "warn"

deny contains msg if {
	some f in findings
	f[0] == "deny"
	msg := f[1]
}

warn contains msg if {
	some f in findings
	f[0] == "warn"
	msg := f[1]
}

# --- fairness.missing ----------------------------------------------------------

findings contains [severity, msg] if {
	lib.promotion
	high
	not declared
	count(results) == 0
	msg := lib.message("fairness.missing", "high-risk models need fairness evidence, but the manifest declares no sensitive attributes (spec.fairness) and the evidence has no fairness results", {"field": "evidence.fairness", "risk_tier": lib.risk_tier})
}

findings contains [severity, msg] if {
	lib.promotion
	declared
	count(results) == 0
	msg := lib.message(
		"fairness.missing",
		sprintf("the manifest declares fairness checks for %s but the evidence has no fairness results", [lib.list(declared_attributes)]),
		{"field": "evidence.fairness", "risk_tier": lib.risk_tier},
	)
}

findings contains [severity, msg] if {
	lib.promotion
	count(results) > 0
	some attr in declared_attributes
	not judged[attr]
	msg := lib.message(
		"fairness.missing",
		sprintf("the evidence has no fairness results for the sensitive attribute %s", [attr]),
		{"field": sprintf("evidence.fairness.%s.groups", [attr]), "attribute": attr, "risk_tier": lib.risk_tier},
	)
}

# --- Judging -------------------------------------------------------------------

# judged holds, for every attribute with group results, what the rules judge:
# the eligible groups, the disparate impact and the equalized odds (null when
# they cannot be computed) and the groups too small to judge.
judged[attr] := j if {
	some attr in attributes
	groups := results[attr].groups
	is_object(groups)
	eligible := {g: v | some g, v in groups; large(v)}
	defined := {key: rates(eligible, key) | some key in ["selection_rate", "tpr", "fpr"]}
	ref := reference(attr)
	j := {
		"groups": groups,
		"eligible": eligible,
		"reference": ref,
		"disparate_impact": disparate_impact(defined.selection_rate, ref),
		"equalized_odds": equalized_odds([r | some key in ["tpr", "fpr"]; r := rate_range(defined[key], key)]),
		"small": small(groups),
		"defined": {key: count(rs) | some key, rs in defined},
	}
}

large(group) if {
	is_number(group.count)
	group.count >= min_size
}

# The groups too small to judge, as "65+ (12 rows)".
small(groups) := sort([sprintf("%s (%s %s)", [g, lib.num(n), rows(n)]) |
	some g, v in groups
	not large(v)
	n := group_size(v)
])

group_size(group) := n if {
	n := group.count
} else := null

rows(n) := "row" if {
	n == 1
} else := "rows"

# The defined rates of groups.
rates(groups, key) := {g: r |
	some g, v in groups
	r := v[key]
	is_number(r)
}

reference(attr) := g if {
	g := results[attr].reference_group
	lib.non_empty_string(g)
} else := g if {
	g := lib.spec.fairness.referenceGroups[attr]
	lib.non_empty_string(g)
} else := ""

findings contains ["warn", msg] if {
	lib.promotion
	some attr, j in judged
	count(j.small) > 0
	n := count(j.small)
	msg := lib.message(
		"fairness.undefined",
		sprintf("%s %s of %s %s fewer than %s rows and %s not judged", [
			lib.plural(n, "group", "groups"),
			lib.list(j.small),
			attr,
			lib.plural(n, "has", "have"),
			lib.exact(min_size),
			lib.plural(n, "was", "were"),
		]),
		{"attribute": attr, "groups": j.small, "threshold": min_size},
	)
}

# --- Disparate impact ----------------------------------------------------------

# disparate_impact is {value, group, rate, reference, reference_rate, method}
# over the selection rates, or null when it cannot be computed.
disparate_impact(selection, ref) := d if {
	count(selection) >= 2
	ref_rate := selection[ref]
	ref_rate > 0
	ratios := {g: ratio | some g, r in selection; ratio := r / ref_rate}
	value := min([v | some v in ratios])
	low := sort([g | some g, v in ratios; v == value])[0]
	d := {"value": value, "group": low, "rate": selection[low], "reference": ref, "reference_rate": ref_rate, "method": "reference"}
} else := d if {
	count(selection) >= 2
	hi := max([r | some r in selection])
	hi > 0
	lo := min([r | some r in selection])
	low := sort([g | some g, r in selection; r == lo])[0]
	high_group := sort([g | some g, r in selection; r == hi])[0]
	d := {"value": lo / hi, "group": low, "rate": lo, "reference": high_group, "reference_rate": hi, "method": "min_max"}
} else := null

deny contains msg if {
	lib.promotion
	some attr, j in judged
	d := j.disparate_impact
	d != null
	lib.below(d.value, di_min)
	value := lib.clean(d.value)
	msg := lib.message(
		"fairness.disparate_impact",
		sprintf("disparate_impact_ratio for %s is %s, below %s (%s)", [attr, lib.num_vs(value, di_min), lib.exact(di_min), di_detail(j, d)]),
		{
			"attribute": attr,
			"metric": "disparate_impact_ratio",
			"value": value,
			"threshold": di_min,
			"group": d.group,
			"reference_group": d.reference,
		},
	)
}

di_detail(j, d) := sprintf("selection rate %s for %s against %s for the reference group %s", [lib.num(d.rate), d.group, lib.num(d.reference_rate), d.reference]) if {
	d.method == "reference"
} else := sprintf("lowest selection rate %s for %s against the highest %s for %s%s", [lib.num(d.rate), d.group, lib.num(d.reference_rate), d.reference, unusable_reference(j)])

unusable_reference(j) := sprintf("; the reference group %s is not usable: %s", [j.reference, reference_problem(j)]) if {
	j.reference != ""
} else := ""

reference_problem(j) := "it has no results" if {
	not is_object(object.get(j.groups, j.reference, null))
} else := sprintf("it has fewer than %s rows", [lib.exact(min_size)]) if {
	not j.reference in object.keys(j.eligible)
} else := "its selection rate is undefined or 0"

findings contains [severity, msg] if {
	lib.promotion
	some attr, j in judged
	j.disparate_impact == null
	msg := lib.message(
		"fairness.undefined",
		sprintf("disparate_impact_ratio for %s is undefined: %s", [attr, di_undefined_reason(j)]),
		{"attribute": attr, "metric": "disparate_impact_ratio", "value": null, "threshold": di_min},
	)
}

di_undefined_reason(j) := sprintf("no group has %s or more rows", [lib.exact(min_size)]) if {
	count(j.eligible) == 0
} else := sprintf("fewer than two groups with %s or more rows have a defined selection_rate", [lib.exact(min_size)]) if {
	j.defined.selection_rate < 2
} else := "the selection_rate is 0 in every group"

# --- Equalized odds ------------------------------------------------------------

# rate_range is {rate, value, low, low_rate, high, high_rate} over the defined
# rates; undefined for fewer than two of them.
rate_range(rs, key) := r if {
	count(rs) >= 2
	hi := max([v | some v in rs])
	lo := min([v | some v in rs])
	r := {
		"rate": key,
		"value": hi - lo,
		"low": sort([g | some g, v in rs; v == lo])[0],
		"low_rate": lo,
		"high": sort([g | some g, v in rs; v == hi])[0],
		"high_rate": hi,
	}
}

# equalized_odds is the widest of the ranges, or null when there is none.
equalized_odds(ranges) := e if {
	count(ranges) > 0
	value := max([r.value | some r in ranges])
	e := [r | some r in ranges; r.value == value][0]
} else := null

deny contains msg if {
	lib.promotion
	some attr, j in judged
	w := j.equalized_odds
	w != null
	lib.above(w.value, eo_max)
	value := lib.clean(w.value)
	msg := lib.message(
		"fairness.equalized_odds",
		sprintf("equalized_odds_difference for %s is %s, above %s (%s %s for %s against %s for %s)", [attr, lib.num_vs(value, eo_max), lib.exact(eo_max), w.rate, lib.num(w.low_rate), w.low, lib.num(w.high_rate), w.high]),
		{
			"attribute": attr,
			"metric": "equalized_odds_difference",
			"value": value,
			"threshold": eo_max,
			"rate": w.rate,
		},
	)
}

findings contains [severity, msg] if {
	lib.promotion
	some attr, j in judged
	j.equalized_odds == null
	msg := lib.message(
		"fairness.undefined",
		sprintf("equalized_odds_difference for %s is undefined: %s", [attr, eo_undefined_reason(j)]),
		{"attribute": attr, "metric": "equalized_odds_difference", "value": null, "threshold": eo_max},
	)
}

eo_undefined_reason(j) := sprintf("no group has %s or more rows", [lib.exact(min_size)]) if {
	count(j.eligible) == 0
} else := sprintf("fewer than two groups with %s or more rows have a defined tpr or fpr", [lib.exact(min_size)])
