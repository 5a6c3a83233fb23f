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

declared_attributes := [a | attrs := lib.spec.fairness.sensitiveAttributes; is_array(attrs); some a in attrs; is_string(a)]

results := r if {
	r := lib.evidence.fairness
	is_object(r)
} else := {}

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
	some attr in ({a | some a in declared_attributes} - object.keys(judged))
	msg := lib.message(
		"fairness.missing",
		sprintf("the evidence has no fairness results for the sensitive attribute %s", [attr]),
		{"field": sprintf("evidence.fairness.%s.groups", [attr]), "attribute": attr, "risk_tier": lib.risk_tier},
	)
}

# --- Judging -------------------------------------------------------------------

# judged holds, for every attribute with group results, what the rules judge:
# the eligible groups and their defined selection rates, the disparate impact and
# the equalized odds (null when they cannot be computed) and the groups too small
# to judge, as "65+ (12 rows)". Only the numbers the thresholds apply to are
# worked out for every decision; which groups they come from is looked up when a
# message needs it. The work per group is written out rather than left to helper
# functions: a function call costs more than the comparisons it wraps, and a
# rule (one object for all attributes) is evaluated once.
judged := {attr: j |
	some attr in attributes
	groups := results[attr].groups
	is_object(groups)
	eligible := {g: v | some g, v in groups; is_number(v.count); v.count >= min_size}
	selection := {g: r | some g, v in eligible; r := v.selection_rate; is_number(r)}
	ref := object.get(references, attr, "")

	# The ranges of the tpr and the fpr, each over the groups where it is
	# defined and only if they are two or more.
	ranges := [range |
		some key in ["tpr", "fpr"]
		rates := {g: x | some g, v in eligible; x := v[key]; is_number(x)}
		count(rates) >= 2
		values := [x | some x in rates]
		hi := max(values)
		lo := min(values)
		range := {"rate": key, "value": hi - lo, "low_rate": lo, "high_rate": hi, "rates": rates}
	]
	small := sort([sprintf("%s (%s %s)", [g, lib.num(n), rows(n)]) |
		some g in (object.keys(groups) - object.keys(eligible))
		n := group_size(groups[g])
	])
	j := {
		"groups": groups,
		"eligible": eligible,
		"selection": selection,
		"reference": ref,
		"disparate_impact": disparate_impact(selection, ref),
		"equalized_odds": equalized_odds(ranges),
		"small": small,
	}
}

group_size(group) := n if {
	n := group.count
} else := null

rows(n) := "row" if {
	n == 1
} else := "rows"

# The reference group of each attribute that has one: the evidence's, else the
# manifest's.
references := object.union(
	{attr: g | some attr, g in lib.spec.fairness.referenceGroups; is_string(g); trim_space(g) != ""},
	{attr: g | some attr, r in results; g := r.reference_group; is_string(g); trim_space(g) != ""},
)

# first is the first group, in sorted order, whose value in values is v.
first(values, v) := [g | some g, x in values; x == v][0]

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

# disparate_impact is {value, method, reference, reference_rate} over the
# selection rates, with the rate of the lowest group when the method is min_max,
# or null when it cannot be computed. with_groups completes it for a message.
disparate_impact(selection, ref) := d if {
	count(selection) >= 2
	ref_rate := selection[ref]
	ref_rate > 0
	value := min([ratio | some r in selection; ratio := r / ref_rate])
	d := {"value": value, "reference": ref, "reference_rate": ref_rate, "method": "reference"}
} else := d if {
	count(selection) >= 2
	rates := [r | some r in selection]
	hi := max(rates)
	hi > 0
	lo := min(rates)
	d := {"value": lo / hi, "rate": lo, "reference_rate": hi, "method": "min_max"}
} else := null

# with_groups adds to a disparate impact the group with the lowest ratio and its
# rate, and for min_max the group with the highest rate as the reference.
with_groups(d, selection) := object.union(d, {"group": low, "rate": selection[low]}) if {
	d.method == "reference"
	low := [g | some g, r in selection; r / d.reference_rate == d.value][0]
} else := object.union(d, {"group": first(selection, d.rate), "reference": first(selection, d.reference_rate)})

deny contains msg if {
	lib.promotion
	some attr, j in judged
	j.disparate_impact != null
	j.disparate_impact.value < di_min # lib.below implies it, and spares its arithmetic
	lib.below(j.disparate_impact.value, di_min)
	d := with_groups(j.disparate_impact, j.selection)
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
	count(j.selection) < 2
} else := "the selection_rate is 0 in every group"

# --- Equalized odds ------------------------------------------------------------

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
	w.value > eo_max # lib.above implies it, and spares its arithmetic
	lib.above(w.value, eo_max)
	value := lib.clean(w.value)
	msg := lib.message(
		"fairness.equalized_odds",
		sprintf("equalized_odds_difference for %s is %s, above %s (%s %s for %s against %s for %s)", [attr, lib.num_vs(value, eo_max), lib.exact(eo_max), w.rate, lib.num(w.low_rate), first(w.rates, w.low_rate), lib.num(w.high_rate), first(w.rates, w.high_rate)]),
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
