# Lineage: what DVC and MLflow recorded of the model (modelgate check --dvc,
# --mlflow) against the manifest and the evidence.
#
#   lineage.mismatch  one per entry of evidence.lineage.mismatches: a dataset
#                     digest or a file the checks read that is not what DVC
#                     records, a metric that is not the one the MLflow run
#                     logged (1e-9 relative), a registered model version of
#                     another run, a signature input the data lacks or types
#                     otherwise
package modelgate.lineage

import data.modelgate.lib

mismatches := [m | ms := lib.evidence.lineage.mismatches; is_array(ms); some m in ms]

deny contains msg if {
	lib.promotion
	some i
	m := mismatches[i]
	msg := lib.message(
		"lineage.mismatch",
		sprintf("lineage (%s): %s", [text(m, "source"), text(m, "message")]),
		{
			"field": sprintf("evidence.lineage.mismatches[%d]", [i]),
			"source": text(m, "source"),
			"subject": text(m, "subject"),
			"expected": text(m, "expected"),
			"actual": text(m, "actual"),
		},
	)
}

# A mismatch the policy cannot read is still a mismatch: it denies with what
# it holds.
text(m, key) := v if {
	v := object.get(m, key, null)
	is_string(v)
} else := json.marshal(object.get(m, key, null))
