# Manifest completeness by risk tier.
#
#   high:   intendedUse, limitations, lineage (code and at least one dataset, every
#           dataset with a digest), fairness.sensitiveAttributes, evaluation
#   medium: intendedUse, evaluation
#   low:    nothing beyond the schema
#
# A risk tier that is missing or unknown is judged as high.
package modelgate.manifest

import data.modelgate.lib

tier := lib.risk_tier

spec := lib.spec

# The fields the risk tier requires.
required := {"intendedUse", "limitations", "lineage", "fairness", "evaluation"} if {
	tier == "high"
} else := {"intendedUse", "evaluation"} if {
	tier == "medium"
} else := set()

missing(code, field, what) := lib.message(code, sprintf("spec.%s is required for %s-risk models: %s", [field, tier, what]), {
	"field": concat("", ["spec.", field]),
	"risk_tier": tier,
})

deny contains msg if {
	lib.promotion
	"intendedUse" in required
	not lib.non_empty_string(object.get(spec, "intendedUse", null))
	msg := missing("manifest.intended_use", "intendedUse", "say what the model is for")
}

deny contains msg if {
	lib.promotion
	"limitations" in required
	not lib.non_empty_string(object.get(spec, "limitations", null))
	msg := missing("manifest.limitations", "limitations", "say where the model must not be used")
}

deny contains msg if {
	lib.promotion
	"lineage" in required
	not code_lineage
	msg := missing("manifest.lineage", "lineage.code", "name the training code's repository and commit")
}

deny contains msg if {
	lib.promotion
	"lineage" in required
	count(datasets) == 0
	msg := missing("manifest.lineage", "lineage.datasets", "list the datasets the model was trained and evaluated on")
}

deny contains msg if {
	lib.promotion
	"lineage" in required
	some i in unpinned
	d := datasets[i]
	name := dataset_name(i, d)
	msg := lib.message(
		"manifest.dataset_digest",
		sprintf("dataset %s in spec.lineage.datasets has no digest; %s-risk models must pin every dataset", [name, tier]),
		{
			"field": sprintf("spec.lineage.datasets[%d].digest", [i]),
			"dataset": name,
			"risk_tier": tier,
		},
	)
}

deny contains msg if {
	lib.promotion
	"fairness" in required
	count(sensitive_attributes) == 0
	msg := missing("manifest.fairness_attributes", "fairness.sensitiveAttributes", "name the sensitive attributes to check fairness for")
}

deny contains msg if {
	lib.promotion
	"evaluation" in required
	count(evaluation) == 0
	msg := missing("manifest.evaluation", "evaluation", "declare the evaluation predictions the metrics are computed on")
}

code_lineage if {
	repository := spec.lineage.code.repository
	is_string(repository)
	trim_space(repository) != ""
	commit := spec.lineage.code.commit
	is_string(commit)
	trim_space(commit) != ""
}

datasets := d if {
	d := spec.lineage.datasets
	is_array(d)
} else := []

# The indexes of the datasets no digest pins.
unpinned := {i | some i, _ in datasets} - {i | some i, d in datasets; is_string(d.digest); trim_space(d.digest) != ""}

sensitive_attributes := a if {
	a := spec.fairness.sensitiveAttributes
	is_array(a)
} else := []

evaluation := e if {
	e := spec.evaluation
	is_object(e)
} else := {}

dataset_name(i, d) := d.name if {
	lib.non_empty_string(d.name)
} else := sprintf("#%d", [i + 1])
