// Package evaluation computes a model's quality metrics from its predictions,
// with scikit-learn's definitions. A metric that is undefined for the data (a
// 0/0) is NaN, never a silent 0.
package evaluation

import (
	"math"
	"sync"

	"github.com/modelgate/modelgate/checks/internal/floats"
)

// Metrics maps a metric's name to its value.
type Metrics map[string]float64

// Names of the metrics.
const (
	Accuracy  = "accuracy"
	Precision = "precision"
	Recall    = "recall"
	F1        = "f1"
	ROCAUC    = "roc_auc"
	LogLoss   = "log_loss"
	Brier     = "brier"
	MacroF1   = "macro_f1"
	RMSE      = "rmse"
	MAE       = "mae"
	R2        = "r2"
)

// logLossEps is where probabilities are clipped for the log loss.
const logLossEps = 1e-15

// Binary computes the metrics of a binary classifier: labels and predictions are
// 0 or 1, scores the predicted probabilities of class 1, all of the same length.
//
// accuracy, precision, recall and f1 are sklearn.metrics' for the positive class
// 1, undefined where sklearn divides by zero; roc_auc is roc_auc_score, ties in
// the scores counting half, undefined with a single class; log_loss is
// log_loss(labels=[0, 1]) with probabilities clipped to [1e-15, 1−1e-15];
// brier is brier_score_loss. It reorders scores.
func Binary(labels, predictions []int32, scores []float64) Metrics {
	var tp, fp, tn, fn int
	var logLoss, brier floats.Sum
	for i, y := range labels {
		switch {
		case y == 1 && predictions[i] == 1:
			tp++
		case y == 1:
			fn++
		case predictions[i] == 1:
			fp++
		default:
			tn++
		}
		logLoss.Add(logLossTerm(y, scores[i]))
		d := float64(y) - scores[i]
		brier.Add(d * d)
	}
	n := float64(len(labels))
	precision := ratio(tp, tp+fp)
	recall := ratio(tp, tp+fn)
	f1 := ratio(2*tp, 2*tp+fp+fn)
	if precision+recall > 0 {
		// sklearn's form, so that the last bits agree too.
		f1 = 2 * precision * recall / (precision + recall)
	}
	return Metrics{
		Accuracy:  ratio(tp+tn, len(labels)),
		Precision: precision,
		Recall:    recall,
		F1:        f1,
		LogLoss:   logLoss.Value() / n,
		Brier:     brier.Value() / n,
		// Last: it reorders the scores.
		ROCAUC: rocAUC(labels, scores),
	}
}

// logLossTerm is one row's log loss as sklearn computes it: the probability is
// clipped, paired with its complement, and the pair renormalised.
func logLossTerm(y int32, p float64) float64 {
	// math.Min(math.Max(p, ε), 1−ε), as sklearn's np.clip, without their
	// calls: the same for every p, NaN included, since ±0 are clipped to ε.
	if p < logLossEps {
		p = logLossEps
	} else if p > 1-logLossEps {
		p = 1 - logLossEps
	}
	q := 1 - p
	sum := q + p
	if y == 1 {
		return -math.Log(p / sum)
	}
	return -math.Log(q / sum)
}

// rocAUC is the area under the ROC curve: the probability that a positive scores
// above a negative, ties counting half — the area of sklearn's trapezoids, in
// exact integer arithmetic. It reorders scores.
func rocAUC(labels []int32, scores []float64) float64 {
	positive := make([]bool, len(labels))
	for i, y := range labels {
		positive[i] = y == 1
	}
	// Positives' scores to the front, negatives' to the back.
	i, back := 0, len(scores)
	for i < back {
		if positive[i] {
			i++
			continue
		}
		back--
		positive[i], positive[back] = positive[back], positive[i]
		scores[i], scores[back] = scores[back], scores[i]
	}
	pos, neg := scores[:i], scores[i:]
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	// The metrics of the last file read are what a check waits for at its
	// end: the two sorts share the cores.
	var wg sync.WaitGroup
	wg.Go(func() { floats.Sort(pos) })
	floats.Sort(neg)
	wg.Wait()
	// twice the number of (positive, negative) pairs in order, ties once
	var twice int64
	below := 0 // negatives scored below the current positive
	for i := 0; i < len(pos); {
		s := pos[i]
		k := i
		for k < len(pos) && pos[k] == s {
			k++
		}
		for below < len(neg) && neg[below] < s {
			below++
		}
		ties := below
		for ties < len(neg) && neg[ties] == s {
			ties++
		}
		twice += int64(k-i) * int64(2*below+(ties-below))
		i = k
	}
	return float64(twice) / (2 * float64(len(pos)) * float64(len(neg)))
}

// Multiclass computes accuracy and macro_f1 (sklearn's f1_score, average='macro',
// over the classes of either the labels or the predictions) from class codes.
func Multiclass(labels, predictions []int32, classes int) Metrics {
	tp := make([]int, classes)
	fp := make([]int, classes)
	fn := make([]int, classes)
	correct := 0
	for i, y := range labels {
		p := predictions[i]
		if y == p {
			tp[y]++
			correct++
			continue
		}
		fn[y]++
		fp[p]++
	}
	var sum floats.Sum
	present := 0
	for c := range classes {
		if tp[c]+fp[c]+fn[c] == 0 {
			continue
		}
		present++
		precision := zeroDivision(tp[c], tp[c]+fp[c])
		recall := zeroDivision(tp[c], tp[c]+fn[c])
		f := 0.0
		if precision+recall > 0 {
			f = 2 * precision * recall / (precision + recall)
		}
		sum.Add(f)
	}
	macro := math.NaN()
	if present > 0 {
		macro = sum.Value() / float64(present)
	}
	return Metrics{Accuracy: ratio(correct, len(labels)), MacroF1: macro}
}

// zeroDivision is sklearn's precision or recall of one class inside a macro
// average, where a class never predicted contributes a precision of 0: its f1
// is 0 either way, so the average is defined.
func zeroDivision(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// Regression computes rmse, mae and r2 (sklearn's mean_squared_error's root,
// mean_absolute_error and r2_score). r2 is undefined when the labels are
// constant, where sklearn reports 1 or 0 by convention.
func Regression(labels, predictions []float64) Metrics {
	n := float64(len(labels))
	var se, ae, sum floats.Sum
	for i, y := range labels {
		d := y - predictions[i]
		se.Add(d * d)
		ae.Add(math.Abs(d))
		sum.Add(y)
	}
	mean := sum.Value() / n
	var ss floats.Sum
	for _, y := range labels {
		ss.Add((y - mean) * (y - mean))
	}
	r2 := math.NaN()
	if total := ss.Value(); total != 0 {
		r2 = 1 - se.Value()/total
	}
	return Metrics{
		RMSE: math.Sqrt(se.Value() / n),
		MAE:  ae.Value() / n,
		R2:   r2,
	}
}

// ratio is num/den, NaN for 0/0.
func ratio(num, den int) float64 {
	if den == 0 {
		return math.NaN()
	}
	return float64(num) / float64(den)
}
