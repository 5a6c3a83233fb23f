package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// manifest is the model the benchmark checks: every kind of check, on data shaped
// like a card-fraud model's.
const manifest = `apiVersion: modelgate/v1
kind: Model
metadata:
  name: bench-fraud
  version: 1.0.0
  owner: "@bench/ml"
  riskTier: high
spec:
  task: binary_classification
  artifact:
    uri: s3://bench/model.onnx
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
  data:
    reference: reference.csv
    current: current.csv
    contract:
      rowCount: {min: 1000}
      columns:
        - {name: txn_id, type: string, nullable: false, unique: true}
        - {name: amount, type: float, nullable: false, min: 0, max: 100000}
        - {name: hour, type: int, nullable: false, min: 0, max: 23}
        - {name: country, type: string, nullable: false, allowed: [US, GB, DE, FR, NL, ES]}
        - {name: card_present, type: bool, nullable: false}
    drift: {columns: [amount, hour, country]}
  evaluation:
    predictions: predictions.csv
    label: label
    score: score
    prediction: prediction
    threshold: 0.5
    baseline: baseline.csv
  fairness:
    sensitiveAttributes: [sex, age_band]
    referenceGroups: {sex: M}
`

var (
	countries = []string{"US", "GB", "DE", "FR", "NL", "ES"}
	sexes     = []string{"F", "M"}
	ageBands  = []string{"18-29", "30-44", "45-64", "65+"}
)

// Numbers is how a case writes its numbers.
type Numbers string

const (
	// Full writes every float64 as pandas' DataFrame.to_csv does, in its
	// shortest round-trip form (Python's repr): up to 17 significant digits,
	// "1e-05" below 1e-4, and bools as True and False.
	Full Numbers = "full"
	// Short writes amounts to the cent and scores to four decimals, as a
	// hand-made export would.
	Short Numbers = "short"
)

// generate writes the benchmark case of n rows into dir, deterministically: the
// same n and numbers give the same bytes.
func generate(dir string, n int, numbers Numbers) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.yaml"), []byte(manifest), 0o644); err != nil {
		return err
	}
	width := len(strconv.Itoa(n))
	files := []struct {
		name  string
		write func(w *bufio.Writer, rng *rand.Rand)
	}{
		{"reference.csv", func(w *bufio.Writer, rng *rand.Rand) { transactions(w, rng, numbers, n, width, 'r', 0) }},
		{"current.csv", func(w *bufio.Writer, rng *rand.Rand) { transactions(w, rng, numbers, n, width, 'c', 1) }},
		{"predictions.csv", func(w *bufio.Writer, rng *rand.Rand) { predictions(w, rng, numbers, n, width, 0.9) }},
		{"baseline.csv", func(w *bufio.Writer, rng *rand.Rand) { predictions(w, rng, numbers, n, width, 0.8) }},
	}
	for i, f := range files {
		rng := rand.New(rand.NewPCG(uint64(n), uint64(i)))
		if err := writeFile(filepath.Join(dir, f.name), func(w *bufio.Writer) { f.write(w, rng) }); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	write(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// transactions writes txn_id,amount,hour,country,card_present rows; shift > 0
// moves the distributions as a season would.
func transactions(w *bufio.Writer, rng *rand.Rand, numbers Numbers, n, width int, prefix byte, shift float64) {
	w.WriteString("txn_id,amount,hour,country,card_present\n")
	var b []byte
	for i := range n {
		b = append(b[:0], prefix)
		b = appendPadded(b, i+1, width)
		amount := math.Exp(3.5 + 0.1*shift + 1.1*rng.NormFloat64())
		b = append(b, ',')
		if numbers == Full {
			b = appendRepr(b, amount)
		} else {
			b = strconv.AppendFloat(b, math.Round(amount*100)/100, 'f', 2, 64)
		}
		hour := int(math.Mod(14+3*shift+5*rng.NormFloat64()+48, 24))
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(hour), 10)
		c := rng.IntN(len(countries) + int(2*shift))
		b = append(b, ',')
		b = append(b, countries[min(c, len(countries)-1)]...)
		b = append(b, ',')
		b = appendBool(b, numbers, rng.IntN(3) > 0)
		b = append(b, '\n')
		w.Write(b)
	}
}

// predictions writes txn_id,label,score,prediction,sex,age_band rows of a model
// whose scores separate the classes as well as skill says.
func predictions(w *bufio.Writer, rng *rand.Rand, numbers Numbers, n, width int, skill float64) {
	w.WriteString("txn_id,label,score,prediction,sex,age_band\n")
	var b []byte
	for i := range n {
		b = append(b[:0], 'e')
		b = appendPadded(b, i+1, width)
		sex := rng.IntN(2)
		age := rng.IntN(len(ageBands))
		label := 0
		if rng.Float64() < 0.04+0.02*float64(sex) {
			label = 1
		}
		z := rng.NormFloat64() + 2.5*skill*float64(label) - 2 + 0.2*float64(age)
		score := 1 / (1 + math.Exp(-z))
		if numbers == Short {
			score = math.Round(1e4/(1+math.Exp(-z))) / 1e4
		}
		pred := 0
		if score >= 0.5 {
			pred = 1
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(label), 10)
		b = append(b, ',')
		if numbers == Full {
			b = appendRepr(b, score)
		} else {
			b = strconv.AppendFloat(b, score, 'f', 4, 64)
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(pred), 10)
		b = append(b, ',')
		b = append(b, sexes[sex]...)
		b = append(b, ',')
		b = append(b, ageBands[age]...)
		b = append(b, '\n')
		w.Write(b)
	}
}

// appendRepr appends v as Python's repr writes a float64, which is what pandas
// and numpy print: the shortest digits that read back as v, in positional form
// with at least one decimal for exponents from -4 to 15, else as d.ddde±XX.
func appendRepr(b []byte, v float64) []byte {
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], v, 'e', -1, 64)
	exp, _ := strconv.Atoi(string(e[bytes.IndexByte(e, 'e')+1:]))
	if exp < -4 || exp >= 16 {
		return append(b, e...) // Go's exponent form is Python's: 1e-05, 1.5e+16
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

// appendBool appends a bool as pandas writes it in a full case, else as Go does.
func appendBool(b []byte, numbers Numbers, v bool) []byte {
	switch {
	case numbers == Short:
		return strconv.AppendBool(b, v)
	case v:
		return append(b, "True"...)
	}
	return append(b, "False"...)
}

func appendPadded(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

func describeRows(n int) string {
	if n%1000000 == 0 {
		return fmt.Sprintf("%dM", n/1000000)
	}
	return strconv.Itoa(n)
}
