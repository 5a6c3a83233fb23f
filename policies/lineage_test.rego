package modelgate.lineage_test

import data.modelgate.testdata as td

denies(inp) := d if {
	d := data.modelgate.lineage.deny with input as inp
}

mismatch(source, subject, message) := {
	"source": source, "subject": subject,
	"expected": "md5:0123456789abcdef0123456789abcdef", "actual": "md5:ffffffffffffffffffffffffffffffff",
	"message": message,
}

lineage(ms) := td.put(td.base, "/evidence/lineage", {"mismatches": ms})

test_no_lineage_allowed if {
	count(denies(td.base)) == 0
}

test_consistent_lineage_allowed if {
	count(denies(lineage([]))) == 0
}

test_each_mismatch_denied if {
	d := denies(lineage([
		mismatch("dvc", "spec.lineage.datasets[0].digest", "dataset train: the manifest's digest is md5:ff..., DVC records md5:01..."),
		mismatch("mlflow", "evaluation.metrics.roc_auc", "metric roc_auc: MLflow run 3f2a logged 0.91, the evidence has 0.93"),
	]))
	count(d) == 2
	td.codes(d) == {"lineage.mismatch"}
	some m in d
	m.msg == "fraud-detector 2.3.0: lineage (mlflow): metric roc_auc: MLflow run 3f2a logged 0.91, the evidence has 0.93"
	m.subject == "evaluation.metrics.roc_auc"
	m.field == "evidence.lineage.mismatches[1]"
}

test_same_message_twice_denied_twice if {
	m := mismatch("dvc", "inputs[data/current.csv]", "the current data data/current.csv that the checks read has md5 ff")
	count(denies(lineage([m, object.union(m, {"subject": "inputs[data/current.csv] "})]))) == 2
}

test_malformed_mismatch_denied if {
	d := denies(lineage([{"source": 7}]))
	some m in d
	m.code == "lineage.mismatch"
	m.msg == "fraud-detector 2.3.0: lineage (7): null"
}

test_removal_not_judged if {
	inp := td.put(lineage([mismatch("dvc", "s", "m")]), "/promotion/kind", "removal")
	count(denies(inp)) == 0
}
