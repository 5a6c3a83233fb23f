// Command bench measures `modelgate check` against a peer written with pandas,
// numpy, scipy and scikit-learn (peer.py) on generated cases of a million rows
// and more: wall time and peak memory of each, side by side, and whether the two
// computed the same numbers.
//
//	go run ./checks/bench -bin bin/modelgate -dir .cache/bench
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/checks/internal/golden"
)

func main() {
	bin := flag.String("bin", "bin/modelgate", "the modelgate binary")
	dir := flag.String("dir", ".cache/bench", "where the generated cases are kept")
	sizes := flag.String("rows", "1000000,10000000", "rows of each case, comma-separated")
	runs := flag.String("runs", "5,1", "runs of each program on each case, of which the fastest counts")
	numbers := flag.String("numbers", "full,short", "how the cases write numbers, comma-separated: full (as pandas writes float64) or short (a few decimals)")
	parquetCodecs := flag.String("parquet", "snappy,zstd", "also time modelgate on each case written as Parquet with these compressions, comma-separated; none for no Parquet")
	generateOnly := flag.Bool("generate", false, "generate the cases and stop, for timing the programs by other means")
	python := flag.String("python", "/usr/bin/python3", "the Python that runs the peer")
	peer := flag.String("peer", "checks/bench/peer.py", "the peer script")
	flag.Parse()
	if err := run(*bin, *dir, *sizes, *runs, *numbers, *parquetCodecs, *generateOnly, *python, *peer); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// measurement is one run of a program.
type measurement struct {
	wall   time.Duration
	cpu    time.Duration // user and system
	maxRSS int64         // bytes
}

func run(bin, dir, sizes, runs, numberList, parquetList string, generateOnly bool, python, peer string) error {
	var results []result
	rows, err := positives(sizes)
	if err != nil {
		return err
	}
	repeats, err := positives(runs)
	if err != nil {
		return err
	}
	var cases []Numbers
	for _, s := range strings.Split(numberList, ",") {
		switch nb := Numbers(strings.TrimSpace(s)); nb {
		case Full, Short:
			cases = append(cases, nb)
		default:
			return fmt.Errorf("-numbers: %q is neither full nor short", s)
		}
	}
	var parquets []string
	if parquetList != "none" {
		for _, c := range strings.Split(parquetList, ",") {
			if _, ok := codecs[strings.TrimSpace(c)]; !ok {
				return fmt.Errorf("-parquet: no compression %q (want snappy or zstd)", c)
			}
			parquets = append(parquets, strings.TrimSpace(c))
		}
	}
	var inParquet []parquetResult
	for i, n := range rows {
		times := repeats[min(i, len(repeats)-1)]
		for _, numbers := range cases {
			name := fmt.Sprintf("%s-%s", numbers, describeRows(n))
			caseDir := filepath.Join(dir, name)
			if err := ensureCase(caseDir, n, numbers); err != nil {
				return err
			}
			for _, codec := range parquets {
				if err := ensureParquet(caseDir, caseDir+"-"+codec, codec); err != nil {
					return err
				}
			}
			if generateOnly {
				continue
			}
			evidence := filepath.Join(caseDir, "evidence.json")
			peerOut := filepath.Join(caseDir, "peer.json")
			fmt.Fprintf(os.Stderr, "%s: modelgate check…\n", name)
			mg, err := fastest(times, bin, "check", filepath.Join(caseDir, "model.yaml"), "--out", evidence, "--format", "json")
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s: the Python peer…\n", name)
			py, err := fastest(times, python, peer, caseDir, peerOut)
			if err != nil {
				return err
			}
			agree, err := sameNumbers(evidence, peerOut)
			if err != nil {
				return err
			}
			r := result{rows: n, numbers: numbers, runs: times, modelgate: mg, peer: py, agree: agree}
			results = append(results, r)
			for _, codec := range parquets {
				pq := caseDir + "-" + codec
				fmt.Fprintf(os.Stderr, "%s-%s: modelgate check…\n", name, codec)
				pqEvidence := filepath.Join(pq, "evidence.json")
				m, err := fastest(times, bin, "check", filepath.Join(pq, "model.yaml"), "--out", pqEvidence, "--format", "json")
				if err != nil {
					return err
				}
				agree, err := sameNumbers(pqEvidence, peerOut)
				if err != nil {
					return err
				}
				inParquet = append(inParquet, parquetResult{csv: r, codec: codec, modelgate: m, agree: agree})
			}
		}
	}
	if !generateOnly {
		printTable(results)
		printParquet(inParquet)
	}
	return nil
}

type result struct {
	rows, runs      int
	numbers         Numbers
	modelgate, peer measurement
	agree           string
}

// parquetResult is modelgate on a case written as Parquet, beside the CSV run.
type parquetResult struct {
	csv       result
	codec     string
	modelgate measurement
	agree     string
}

func printParquet(results []parquetResult) {
	if len(results) == 0 {
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "rows\tnumbers\tParquet\tmodelgate\tCPU\tpeak RSS\tCSV\tCPU\tCPU vs CSV\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%s\t%.2f s\t%.2f s\t%d MB\t%.2f s\t%.2f s\t%.2f×\t\n", describeRows(r.csv.rows), r.csv.numbers, r.codec,
			r.modelgate.wall.Seconds(), r.modelgate.cpu.Seconds(), r.modelgate.maxRSS>>20,
			r.csv.modelgate.wall.Seconds(), r.csv.modelgate.cpu.Seconds(), r.modelgate.cpu.Seconds()/r.csv.modelgate.cpu.Seconds())
	}
	w.Flush()
	for _, r := range results {
		fmt.Printf("%s rows, %s numbers, Parquet (%s): numbers of modelgate and the peer: %s\n", describeRows(r.csv.rows), r.csv.numbers, r.codec, r.agree)
	}
}

// ensureParquet writes the CSV case in from as Parquet into dir unless an
// earlier run has.
func ensureParquet(from, dir, codec string) error {
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "writing %s as Parquet (%s) into %s…\n", from, codec, dir)
	if err := toParquet(from, dir, codec); err != nil {
		return fmt.Errorf("parquet %s: %w", dir, err)
	}
	return os.WriteFile(done, nil, 0o644)
}

// ensureCase generates the case unless an earlier run has.
func ensureCase(dir string, n int, numbers Numbers) error {
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "generating %s rows into %s…\n", describeRows(n), dir)
	if err := generate(dir, n, numbers); err != nil {
		return fmt.Errorf("generate %s: %w", dir, err)
	}
	return os.WriteFile(done, nil, 0o644)
}

// positives parses a comma-separated list of positive numbers.
func positives(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: not a positive number", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// fastest runs a program n times and keeps the fastest run: on a shared machine
// the others measure the neighbours.
func fastest(n int, name string, args ...string) (measurement, error) {
	var best measurement
	for i := range n {
		m, err := measure(name, args...)
		if err != nil {
			return measurement{}, err
		}
		if i == 0 || m.wall < best.wall {
			best = m
		}
	}
	return best, nil
}

// measure runs a program and reports its wall time and peak resident memory.
func measure(name string, args ...string) (measurement, error) {
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	wall := time.Since(start)
	usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return measurement{}, errors.New("no resource usage on this system")
	}
	cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	return measurement{wall: wall, cpu: cpu, maxRSS: usage.Maxrss * 1024}, nil
}

// sameNumbers compares every number the peer computed with the evidence's.
func sameNumbers(evidencePath, peerPath string) (string, error) {
	var ev, py map[string]any
	for path, v := range map[string]*map[string]any{evidencePath: &ev, peerPath: &py} {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(data, v); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	var diffs []string
	n := compare("", py, ev, &diffs)
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Sprintf("%d of %d differ: %s", len(diffs), n, strings.Join(diffs[:min(3, len(diffs))], "; ")), nil
	}
	return fmt.Sprintf("all %d equal", n), nil
}

func compare(path string, want, got any, diffs *[]string) int {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		n := 0
		for k, v := range w {
			n += compare(path+"."+k, v, g[k], diffs)
		}
		return n
	case []any:
		g, _ := got.([]any)
		n := 0
		for i, v := range w {
			if i < len(g) {
				n += compare(fmt.Sprintf("%s[%d]", path, i), v, g[i], diffs)
			}
		}
		return n
	case float64:
		g, ok := got.(float64)
		rel := golden.Relative
		if strings.HasSuffix(path, "ks_pvalue") {
			rel = golden.KSPValue
		}
		if !ok || !golden.Close(g, w, rel) {
			*diffs = append(*diffs, fmt.Sprintf("%s: %v, peer %v", path, got, w))
		}
		return 1
	default:
		if want != got {
			*diffs = append(*diffs, fmt.Sprintf("%s: %v, peer %v", path, got, want))
		}
		return 1
	}
}

func printTable(results []result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "rows\tnumbers\truns\tmodelgate\tCPU\tpeak RSS\tPython peer\tCPU\tpeak RSS\tspeed-up\tns/row\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%d\t%.2f s\t%.2f s\t%d MB\t%.2f s\t%.2f s\t%d MB\t%.1f×\t%.0f\t\n", describeRows(r.rows), r.numbers, r.runs,
			r.modelgate.wall.Seconds(), r.modelgate.cpu.Seconds(), r.modelgate.maxRSS>>20,
			r.peer.wall.Seconds(), r.peer.cpu.Seconds(), r.peer.maxRSS>>20,
			r.peer.wall.Seconds()/r.modelgate.wall.Seconds(), float64(r.modelgate.wall.Nanoseconds())/float64(r.rows))
	}
	w.Flush()
	for _, r := range results {
		fmt.Printf("%s rows, %s numbers: numbers of modelgate and the peer: %s\n", describeRows(r.rows), r.numbers, r.agree)
	}
	for _, a := range results {
		for _, b := range results {
			if a.numbers == b.numbers && b.rows > a.rows {
				fmt.Printf("%s numbers: for %.0f× the rows, modelgate's wall time grows %.1f×, its CPU time %.1f×\n", a.numbers, float64(b.rows)/float64(a.rows),
					b.modelgate.wall.Seconds()/a.modelgate.wall.Seconds(), b.modelgate.cpu.Seconds()/a.modelgate.cpu.Seconds())
			}
		}
	}
}
