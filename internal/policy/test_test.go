package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/policy"
)

func TestRunsTheTestsOfTheChosenFiles(t *testing.T) {
	ms := []policy.Module{
		{Path: "lib/sample.rego", Source: []byte(thresholdPolicy)},
		{Path: "lib/sample_test.rego", Source: []byte(`package modelgate.sample_test

import data.modelgate.sample

test_denies_low_accuracy if {
	count(sample.deny) == 1 with input as {"promotion": {"model": "m"}, "evidence": {"accuracy": 0.5}, "config": {"min": 0.9}}
}

test_wrong_expectation if {
	count(sample.deny) == 0 with input as {"promotion": {"model": "m"}, "evidence": {"accuracy": 0.5}, "config": {"min": 0.9}}
}
`)},
		{Path: "other/other_test.rego", Source: []byte("package other_test\n\ntest_not_run if false\n")},
	}
	results, err := policy.Test(context.Background(), ms, func(p string) bool { return strings.HasPrefix(p, "lib/") })
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("results %+v, want the two tests of lib/", results)
	}
	if !results[0].Pass || results[0].Name != "test_denies_low_accuracy" {
		t.Errorf("first %+v", results[0])
	}
	if r := results[1]; r.Pass || r.Line != 9 || r.Error != "the test rule is false or undefined" {
		t.Errorf("second %+v", r)
	}
}

func TestSyntaxErrorInATestFile(t *testing.T) {
	_, err := policy.Test(context.Background(), []policy.Module{{Path: "x_test.rego", Source: []byte("package x\n\ntest_a if {")}}, func(string) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "x_test.rego:3") {
		t.Errorf("error %v", err)
	}
}
