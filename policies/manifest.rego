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

requires(field) if {
	tier == "high"
	field in {"intendedUse", "limitations", "lineage", "fairness", "evaluation"}
}

requires(field) if {
	tier == "medium"
	field in {"intendedUse", "evaluation"}
}

missing(code, field, what) := lib.message(code, sprintf("spec.%s is required for %s-risk models: %s", [field, tier, what]), {
	"field": concat("", ["spec.", field]),
	"risk_tier": tier,
})

deny contains msg if {
	lib.promotion
	requires("intendedUse")
	not lib.non_empty_string(lib.get(spec, ["intendedUse"]))
	msg := missing("manifest.intended_use", "intendedUse", "say what the model is for")
}

deny contains msg if {
	lib.promotion
	requires("limitations")
	not lib.non_empty_string(lib.get(spec, ["limitations"]))
	msg := missing("manifest.limitations", "limitations", "say where the model must not be used")
}

deny contains msg if {
	lib.promotion
	requires("lineage")
	not code_lineage
	msg := missing("manifest.lineage", "lineage.code", "name the training code's repository and commit")
}

deny contains msg if {
	lib.promotion
	requires("lineage")
	count(datasets) == 0
	msg := missing("manifest.lineage", "lineage.datasets", "list the datasets the model was trained and evaluated on")
}

deny contains msg if {
	lib.promotion
	requires("lineage")
	some i, d in datasets
	not lib.non_empty_string(lib.get(d, ["digest"]))
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
	requires("fairness")
	count(lib.array_at(spec, ["fairness", "sensitiveAttributes"])) == 0
	msg := missing("manifest.fairness_attributes", "fairness.sensitiveAttributes", "name the sensitive attributes to check fairness for")
}

deny contains msg if {
	lib.promotion
	requires("evaluation")
	count(lib.object_at(spec, ["evaluation"])) == 0
	msg := missing("manifest.evaluation", "evaluation", "declare the evaluation predictions the metrics are computed on")
}

code_lineage if {
	code := lib.object_at(spec, ["lineage", "code"])
	lib.non_empty_string(object.get(code, "repository", null))
	lib.non_empty_string(object.get(code, "commit", null))
}

datasets := lib.array_at(spec, ["lineage", "datasets"])

dataset_name(i, d) := d.name if {
	lib.non_empty_string(d.name)
} else := sprintf("#%d", [i + 1])
