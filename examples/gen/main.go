// Command gen regenerates every CSV file of the example GitOps repository in
// examples/gitops. The data is synthetic but shaped like the real thing, and it
// is fully determined by fixed seeds, so the manifests, the documented metrics
// and any digest taken over the files stay valid after a rerun.
//
// Run it from the repository root:
//
//	go run ./examples/gen
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	dir := flag.String("models", filepath.Join("examples", "gitops", "models"), "models directory of the example repository")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	// The manifests live in dir, so a missing dir means a wrong working
	// directory; refuse rather than scatter files somewhere unexpected.
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%w (run from the repository root or pass -models)", err)
	}
	stores := storeBaseDemand(newRand(100), 60)

	// Every file has its own fixed seed. The metrics quoted in
	// examples/README.md were measured on exactly these files: changing a
	// seed, a size or a model below means updating it.

	files := []csvFile{
		transactions(newRand(2201), "fraud-detector/2.2.0/data/reference.csv", "r22", 5000),
		transactions(newRand(2202), "fraud-detector/2.2.0/data/current.csv", "c22", 3000),
		transactions(newRand(2301), "fraud-detector/2.3.0/data/reference.csv", "r23", 5000),
		transactions(newRand(2302), "fraud-detector/2.3.0/data/current.csv", "c23", 3000),

		demandSample(newRand(1401), "demand-forecast/1.4.0/data/reference.csv", stores, stableMarket, 5000),
		demandSample(newRand(1402), "demand-forecast/1.4.0/data/current.csv", stores, stableMarket, 3000),
		demandSample(newRand(1501), "demand-forecast/1.5.0/data/reference.csv", stores, stableMarket, 5000),
		demandSample(newRand(1502), "demand-forecast/1.5.0/data/current.csv", stores, summerAfterPriceRise, 3000),
	}
	files = append(files, fraudEvaluation(newRand(2265), "fraud-detector/2.2.0/eval", "e22", 4000, fraudV22, nil)...)
	files = append(files, fraudEvaluation(newRand(2382), "fraud-detector/2.3.0/eval", "e23", 4000, fraudV23, &fraudV22)...)
	files = append(files, demandEvaluation(newRand(1403), "demand-forecast/1.4.0/eval", stores, 4000, demandV14, nil)...)
	files = append(files, demandEvaluation(newRand(1503), "demand-forecast/1.5.0/eval", stores, 4000, demandV15, &demandV14)...)

	for _, f := range files {
		if err := f.write(dir); err != nil {
			return err
		}
	}
	return nil
}

// newRand gives every file its own stream, so changing how one file is made
// never shifts the numbers of another.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x6d6f64656c676174))
}

type csvFile struct {
	path   string // relative to the models directory
	header []string
	rows   [][]string
}

func (f csvFile) write(dir string) (err error) {
	path := filepath.Join(dir, filepath.FromSlash(f.path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()

	w := csv.NewWriter(out)
	if err := w.Write(f.header); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := w.WriteAll(f.rows); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ---- fraud-detector ----

// transactions samples card transactions. Every fraud-detector sample, reference
// or current, comes from this one distribution, so a drift check on them should
// find nothing beyond sampling noise.
func transactions(r *rand.Rand, path, idPrefix string, n int) csvFile {
	f := csvFile{
		path:   path,
		header: []string{"txn_id", "amount", "country", "merchant_category", "hour", "account_age_days", "card_present", "device_risk"},
	}
	for i := range n {
		f.rows = append(f.rows, []string{
			fmt.Sprintf("%s%06d", idPrefix, i+1),
			formatFloat(math.Exp(3.7+1.2*r.NormFloat64()), 2),
			pick(r, countries),
			pick(r, merchantCategories),
			strconv.Itoa(transactionHour(r)),
			strconv.Itoa(int(r.ExpFloat64() * 900)),
			strconv.FormatBool(r.Float64() < 0.62),
			deviceRisk(r),
		})
	}
	return f
}

var countries = []weighted{
	{"US", 0.45}, {"GB", 0.15}, {"DE", 0.14}, {"FR", 0.12}, {"NL", 0.08}, {"ES", 0.06},
}

var merchantCategories = []weighted{
	{"grocery", 0.28}, {"retail", 0.22}, {"restaurants", 0.18}, {"digital", 0.14}, {"fuel", 0.10}, {"travel", 0.08},
}

// transactionHour peaks in the afternoon and wraps around midnight, as card
// traffic does.
func transactionHour(r *rand.Rand) int {
	h := math.Mod(14+4.5*r.NormFloat64(), 24)
	if h < 0 {
		h += 24
	}
	return int(h)
}

// deviceRisk is empty when the device fingerprint could not be collected, which
// gives the contract's nullable column a few real nulls.
func deviceRisk(r *rand.Rand) string {
	if r.Float64() < 0.02 {
		return ""
	}
	u := r.Float64()
	return formatFloat(u*u, 3)
}

// fraudModel is a synthetic scorer. A latent signal separates frauds from
// legitimate transactions; the score is a logistic function of it, cut so that
// score 0.5 flags roughly one transaction in ten for review.
type fraudModel struct {
	separation  float64 // gap between the classes' latent means: AUC ≈ Φ(separation/√2)
	femaleShift float64 // latent offset for sex F; a negative one lowers F's selection rate
}

// fraudV22 also scores 2.3.0's baseline file: it is the model that runs in
// production, applied to the new evaluation rows.
var (
	fraudV22 = fraudModel{separation: 1.42, femaleShift: -0.10}
	fraudV23 = fraudModel{separation: 1.62, femaleShift: -0.08}
)

// The logistic scale and the review cut-off in latent units, common to all fraud models.
const (
	fraudSlope  = 1.6
	fraudCutoff = 1.45
)

// score keeps 4 decimals, as the serving API does; that produces tied scores,
// which a rank metric must handle.
func (m fraudModel) score(label int, female bool, noise float64) float64 {
	x := m.separation*float64(label) + noise
	if female {
		x += m.femaleShift
	}
	return round(1/(1+math.Exp(-fraudSlope*(x-fraudCutoff))), 4)
}

// fraudEvaluation makes predictions.csv for model and, when baseline is set,
// baseline_predictions.csv: the same rows scored by baseline. The two models'
// errors are correlated, as two versions trained on similar data are.
func fraudEvaluation(r *rand.Rand, dir, idPrefix string, n int, model fraudModel, baseline *fraudModel) []csvFile {
	header := []string{"txn_id", "label", "score", "prediction", "sex", "age_band"}
	pred := csvFile{path: dir + "/predictions.csv", header: header}
	base := csvFile{path: dir + "/baseline_predictions.csv", header: header}
	for i := range n {
		id := fmt.Sprintf("%s%06d", idPrefix, i+1)
		sex := pick(r, sexes)
		age := pick(r, ageBands)
		label := 0
		if r.Float64() < fraudRate[age] {
			label = 1
		}
		// baseOwn is drawn even without a baseline, so that adding one
		// leaves the other rows' numbers as they were.
		shared, own, baseOwn := r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
		female := sex == "F"

		s := model.score(label, female, correlated(shared, own))
		pred.rows = append(pred.rows, fraudRow(id, label, s, sex, age))
		if baseline != nil {
			b := baseline.score(label, female, correlated(shared, baseOwn))
			base.rows = append(base.rows, fraudRow(id, label, b, sex, age))
		}
	}
	if baseline == nil {
		return []csvFile{pred}
	}
	return []csvFile{pred, base}
}

var sexes = []weighted{{"M", 0.52}, {"F", 0.48}}

var ageBands = []weighted{{"18-29", 0.24}, {"30-44", 0.33}, {"45-64", 0.30}, {"65+", 0.13}}

// fraudRate is the share of frauds per age band (about 8% overall); younger
// account holders are targeted more, which moves selection rates by age too.
var fraudRate = map[string]float64{"18-29": 0.095, "30-44": 0.08, "45-64": 0.075, "65+": 0.075}

// fraudThreshold is evaluation.threshold in the fraud-detector manifests.
const fraudThreshold = 0.5

// fraudRow derives prediction from the rounded score so that the file agrees
// with the manifest's rule prediction = score >= threshold.
func fraudRow(id string, label int, score float64, sex, age string) []string {
	prediction := 0
	if score >= fraudThreshold {
		prediction = 1
	}
	return []string{id, strconv.Itoa(label), formatFloat(score, 4), strconv.Itoa(prediction), sex, age}
}

// ---- demand-forecast ----

// market describes the conditions a demand sample was taken in.
type market struct {
	priceShift float64 // added to every shelf price
	tempShift  float64 // added to every temperature, °C
}

var (
	stableMarket = market{}
	// summerAfterPriceRise is what 1.5.0 sees now: a general price increase
	// and summer weather, both far outside its training sample.
	summerAfterPriceRise = market{priceShift: 0.65, tempShift: 8}
)

var regions = []string{"north", "east", "south", "west"}

// storeBaseDemand fixes each store's typical weekly sales; every file shares
// it because the chain's stores are the same whatever the sample.
func storeBaseDemand(r *rand.Rand, n int) []float64 {
	base := make([]float64, n)
	for i := range base {
		base[i] = max(8, 45+14*r.NormFloat64())
	}
	return base
}

// storeWeek is one store's week: the model's inputs and the expected sales
// they imply.
type storeWeek struct {
	store       int
	price       float64
	discount    float64 // percent; zero outside promotions
	promo       bool
	temperature float64
	competitor  float64 // the nearest competitor's price; NaN when not surveyed
}

func sampleStoreWeek(r *rand.Rand, stores []float64, m market) storeWeek {
	w := storeWeek{
		store:       1 + r.IntN(len(stores)),
		price:       max(0.5, 4.5+m.priceShift+0.9*r.NormFloat64()),
		promo:       r.Float64() < 0.18,
		temperature: 12 + m.tempShift + 6*r.NormFloat64(),
		competitor:  math.NaN(),
	}
	if w.promo {
		w.discount = float64(5 * (2 + r.IntN(5)))
	}
	if r.Float64() >= 0.03 {
		w.competitor = max(0.5, w.price+0.4*r.NormFloat64())
	}
	return w
}

func (w storeWeek) region() string { return regions[(w.store-1)%len(regions)] }

// expectedUnits is the true demand curve the forecasters try to learn.
func (w storeWeek) expectedUnits(stores []float64) float64 {
	return stores[w.store-1] - 5*(w.price-4.5) + 0.6*(w.temperature-12) + 0.6*w.discount
}

func demandSample(r *rand.Rand, path string, stores []float64, m market, n int) csvFile {
	f := csvFile{
		path:   path,
		header: []string{"store_id", "region", "price", "discount_pct", "promo", "temperature", "competitor_price"},
	}
	for range n {
		w := sampleStoreWeek(r, stores, m)
		competitor := ""
		if !math.IsNaN(w.competitor) {
			competitor = formatFloat(w.competitor, 2)
		}
		f.rows = append(f.rows, []string{
			strconv.Itoa(w.store),
			w.region(),
			formatFloat(w.price, 2),
			formatFloat(w.discount, 1),
			strconv.FormatBool(w.promo),
			formatFloat(w.temperature, 1),
			competitor,
		})
	}
	return f
}

// demandModel is a synthetic forecaster: the true expected demand plus a
// model error of the given bias and spread.
type demandModel struct {
	bias, errorSD float64
}

var (
	demandV14 = demandModel{bias: 0, errorSD: 7}
	// demandV15 is a little worse than 1.4.0: a regression a gate should catch.
	demandV15 = demandModel{bias: 1.2, errorSD: 7.6}
)

// demandEvaluation scores a holdout set of store weeks with model and, when
// baseline is set, the same weeks with baseline.
func demandEvaluation(r *rand.Rand, dir string, stores []float64, n int, model demandModel, baseline *demandModel) []csvFile {
	header := []string{"store_id", "region", "units_sold", "forecast"}
	pred := csvFile{path: dir + "/predictions.csv", header: header}
	base := csvFile{path: dir + "/baseline_predictions.csv", header: header}
	for range n {
		w := sampleStoreWeek(r, stores, stableMarket)
		mu := w.expectedUnits(stores)
		units := strconv.Itoa(int(max(0, math.Round(mu+6*r.NormFloat64()))))
		shared, own, baseOwn := r.NormFloat64(), r.NormFloat64(), r.NormFloat64() // as in fraudEvaluation

		forecast := mu + model.bias + model.errorSD*correlated(shared, own)
		pred.rows = append(pred.rows, []string{strconv.Itoa(w.store), w.region(), units, formatFloat(max(0, forecast), 1)})
		if baseline != nil {
			b := mu + baseline.bias + baseline.errorSD*correlated(shared, baseOwn)
			base.rows = append(base.rows, []string{strconv.Itoa(w.store), w.region(), units, formatFloat(max(0, b), 1)})
		}
	}
	if baseline == nil {
		return []csvFile{pred}
	}
	return []csvFile{pred, base}
}

// ---- helpers ----

type weighted struct {
	value  string
	weight float64 // the weights of one list sum to 1
}

func pick(r *rand.Rand, options []weighted) string {
	u := r.Float64()
	for _, o := range options {
		if u < o.weight {
			return o.value
		}
		u -= o.weight
	}
	return options[len(options)-1].value // rounding left u just above the last weight
}

// modelCorrelation is how much two model versions share their errors.
const modelCorrelation = 0.8

// correlated mixes a noise shared by two models with a model's own noise; the
// result is still standard normal.
func correlated(shared, own float64) float64 {
	return modelCorrelation*shared + math.Sqrt(1-modelCorrelation*modelCorrelation)*own
}

func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// formatFloat never writes "-0.0": a value that rounds to zero is written as
// zero whatever its sign.
func formatFloat(v float64, decimals int) string {
	v = round(v, decimals)
	if v == 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}
