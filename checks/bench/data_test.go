package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAppendRepr: the text is Python's repr of each value, as Python 3 prints it.
func TestAppendRepr(t *testing.T) {
	for v, want := range map[float64]string{
		54.598150033144236:     "54.598150033144236",
		1e-05:                  "1e-05",
		1:                      "1.0",
		0.0001:                 "0.0001",
		1e16:                   "1e+16",
		1234567890123456:       "1234567890123456.0",
		5e-324:                 "5e-324",
		1.7976931348623157e308: "1.7976931348623157e+308",
		0.1:                    "0.1",
		123456789.125:          "123456789.125",
		0.00012345678901234567: "0.00012345678901234567",
		-2.5e-7:                "-2.5e-07",
	} {
		if got := string(appendRepr(nil, v)); got != want {
			t.Errorf("appendRepr(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestFullCaseIsWhatPandasWrites reads a full case with pandas, every number
// exactly, and writes it back with DataFrame.to_csv: the bytes must not change.
func TestFullCaseIsWhatPandasWrites(t *testing.T) {
	python, err := exec.LookPath("/usr/bin/python3")
	if err == nil {
		err = exec.Command(python, "-c", "import pandas").Run()
	}
	if err != nil {
		t.Skip("no Python with pandas (Debian's python3-pandas):", err)
	}
	dir := t.TempDir()
	if err := generate(dir, 50000, Full); err != nil {
		t.Fatal(err)
	}
	const script = `
import sys
import pandas as pd
for path in sys.argv[1:]:
    df = pd.read_csv(path, float_precision="round_trip", keep_default_na=False, na_values=[""], dtype={"txn_id": str})
    df.to_csv(path + ".pandas", index=False)
`
	files := []string{"reference.csv", "current.csv", "predictions.csv", "baseline.csv"}
	args := []string{"-c", script}
	for _, f := range files {
		args = append(args, filepath.Join(dir, f))
	}
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("pandas: %v\n%s", err, out)
	}
	for _, f := range files {
		ours, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(filepath.Join(dir, f+".pandas"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			a, b := bytes.Split(ours, []byte("\n")), bytes.Split(theirs, []byte("\n"))
			for i := range min(len(a), len(b)) {
				if !bytes.Equal(a[i], b[i]) {
					t.Fatalf("%s line %d: %q, pandas writes %q", f, i+1, a[i], b[i])
				}
			}
			t.Fatalf("%s: %d lines, pandas writes %d", f, len(a), len(b))
		}
	}
}
