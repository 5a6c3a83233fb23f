package drift

import "math"

// This file computes the distribution of the two-sided one-sample Kolmogorov–Smirnov
// statistic D_n the way scipy.stats.kstwo does (scipy/stats/_ksstats.py, after
// Simard and L'Ecuyer, 2011), with scipy.special.smirnov for the one-sided tail
// (cephes kolmogorov.c). ks_2samp's asymptotic p-value is kstwo.sf(d, round(en)),
// so each of scipy's regimes is followed: an exact formula or algorithm where scipy
// has one, and the same approximation where scipy approximates.

const (
	exp128      = 128
	pow2p128    = 0x1p128
	pow2m128    = 0x1p-128
	minLogProb  = -708
	cephesMinLn = -7.451332191019412076235e2 // cephes MINLOG: log(2^-1075)
	// smirnovMaxN is where scipy stops summing the exact series and approximates.
	smirnovMaxN = 1000000
)

// stirlingCoeffs are B_2j/(2j)/(2j-1) for j = 8, ..., 1 (the Bernoulli numbers).
var stirlingCoeffs = [...]float64{
	-2.955065359477124183e-2, 6.4102564102564102564e-3,
	-1.9175269175269175269e-3, 8.4175084175084175084e-4,
	-5.952380952380952381e-4, 7.9365079365079365079e-4,
	-2.7777777777777777778e-3, 8.3333333333333333333e-2,
}

func clip01(p float64) float64 { return math.Min(math.Max(p, 0), 1) }

// ksTwoSampleP is the two-sided p-value of ks_2samp(method='asymp') for a
// statistic d between samples of n1 and n2 values: kstwo.sf(d, round(en)) with
// en = n1·n2/(n1+n2). It is NaN when en rounds to 0 (two single values), as
// scipy's is.
func ksTwoSampleP(d float64, n1, n2 int) float64 {
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := math.RoundToEven(m * n / (m + n))
	return clip01(kstwoSF(d, en))
}

// kstwoSF is scipy.stats.kstwo.sf(d, n) for an integral n, with the support
// (0.5/n, 1) handled as rv_continuous.sf handles it.
func kstwoSF(d, n float64) float64 {
	if !(n >= 1) || math.IsInf(n, 0) {
		return math.NaN()
	}
	switch {
	case d <= 0.5/n:
		return 1
	case d >= 1:
		return 0
	}
	return kolmogornSF(int(n), d)
}

// kolmogornSF is _kolmogn(n, x, cdf=False): Pr(D_n > x).
func kolmogornSF(n int, x float64) float64 {
	if x >= 1 {
		return 0
	}
	if x <= 0 {
		return 1
	}
	fn := float64(n)
	t := fn * x
	if t <= 1 { // Ruben–Gambino: 1/2n <= x <= 1/n
		if t <= 0.5 {
			return 1
		}
		var cdf float64
		if n <= 140 {
			cdf = 1.0
			for i := 1; i <= n; i++ {
				cdf *= float64(i) * (1.0 / fn) * (2*t - 1)
			}
		} else {
			cdf = math.Exp(logFactorialOverPower(fn) + fn*math.Log(2*t-1))
		}
		return clip01(1 - cdf)
	}
	if t >= fn-1 { // Ruben–Gambino
		return clip01(2 * math.Pow(1-x, fn))
	}
	if x >= 0.5 { // exactly twice the one-sided tail
		return clip01(2 * smirnovSF(n, x))
	}
	nxx := t * x
	if n <= 140 {
		switch {
		case nxx <= 0.754693:
			return clip01(1 - durbinCDF(n, x))
		case nxx <= 4:
			return clip01(1 - pomeranzCDF(n, x))
		}
		return clip01(2 * smirnovSF(n, x))
	}
	switch {
	case nxx >= 370:
		return 0
	case nxx >= 2.2:
		return clip01(2 * smirnovSF(n, x))
	case n <= 100000 && fn*math.Pow(x, 1.5) <= 1.4:
		return clip01(1 - durbinCDF(n, x))
	}
	return clip01(1 - pelzGoodCDF(fn, x))
}

// logFactorialOverPower is log(n!/n^n) by Stirling's series, with n·log(n)
// removed up front to avoid cancellation.
func logFactorialOverPower(n float64) float64 {
	rn := 1 / n
	x := rn / n
	p := 0.0
	for _, c := range stirlingCoeffs {
		p = p*x + c
	}
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*p
}

// durbinCDF is Pr(D_n <= d) by Durbin's matrix algorithm as Marsaglia, Tsang and
// Wang compute it: the k-th diagonal entry of H^n, scaled by n!/n^n.
func durbinCDF(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	fn := float64(n)
	nd := fn * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1

	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] = (1 - math.Pow(h, float64(j))) * fac
	}
	tt := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac

	H := newMatrix(m)
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H.set(r, i, w[r-i+1])
		}
	}
	for r := range m {
		H.set(r, 0, v[r])
	}
	for c := range m {
		H.set(m-1, c, v[m-1-c])
	}

	pw := identity(m)
	expnt, hexpnt := 0, 0
	for nn := n; nn > 0; nn /= 2 {
		if nn%2 == 1 {
			pw = pw.mul(H)
			expnt += hexpnt
		}
		H = H.mul(H)
		hexpnt *= 2
		if math.Abs(H.at(k-1, k-1)) > pow2p128 {
			H.scale(pow2m128)
			hexpnt += exp128
		}
	}
	p := pw.at(k-1, k-1)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / fn
		if math.Abs(p) < pow2m128 {
			p *= pow2p128
			expnt -= exp128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return clip01(p)
}

// matrix is a dense square matrix, row-major.
type matrix struct {
	n int
	a []float64
}

func newMatrix(n int) matrix { return matrix{n, make([]float64, n*n)} }

func identity(n int) matrix {
	m := newMatrix(n)
	for i := range n {
		m.set(i, i, 1)
	}
	return m
}

func (m matrix) at(r, c int) float64     { return m.a[r*m.n+c] }
func (m matrix) set(r, c int, v float64) { m.a[r*m.n+c] = v }

func (m matrix) scale(f float64) {
	for i := range m.a {
		m.a[i] *= f
	}
}

func (m matrix) mul(o matrix) matrix {
	p := newMatrix(m.n)
	for r := range m.n {
		row := p.a[r*m.n : (r+1)*m.n]
		for k := range m.n {
			f := m.a[r*m.n+k]
			if f == 0 {
				continue
			}
			for c, v := range o.a[k*m.n : (k+1)*m.n] {
				row[c] += f * v
			}
		}
	}
	return p
}

// pomeranzCDF is Pr(D_n <= x) by Pomeranz's recursion (1974): rows of a 2n+2 step
// recursion, each the convolution of the previous with Poisson-like weights, of
// which only a band is non-zero.
func pomeranzCDF(n int, x float64) float64 {
	fn := float64(n)
	t := fn * x
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower := make([]float64, npwrs)
	twogpower := make([]float64, npwrs)
	onem2gpower := make([]float64, npwrs)
	gpower[0], twogpower[0], onem2gpower[0] = 1, 1, 1
	gn, twogn, onem2gn := g/fn, 2*g/fn, (1-2*g)/fn
	for m := 1; m < npwrs; m++ {
		gpower[m] = gpower[m-1] * gn / float64(m)
		twogpower[m] = twogpower[m-1] * twogn / float64(m)
		onem2gpower[m] = onem2gpower[m-1] * onem2gn / float64(m)
	}

	v0 := make([]float64, npwrs)
	v1 := make([]float64, npwrs)
	v1[0] = 1
	v0s, v1s := 0, 0
	expnt := 0
	j1, _ := pomeranzBounds(0, n, ll, ceilf, roundf)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		v0, v1 = v1, v0
		v0s, v1s = v1s, v0s
		clear(v1)
		var j2 int
		j1, j2 = pomeranzBounds(i, n, ll, ceilf, roundf)
		pwrs := onem2gpower
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		}
		ln2 := j2 - k1 + 1
		if ln2 <= 0 {
			continue
		}
		a := window(v0, k1-v0s, ln2)
		b := window(pwrs, 0, ln2)
		start, length := j1-k1, j2-j1+1
		peak := 0.0
		for c := range length {
			s := 0.0
			idx := start + c
			for ia := max(0, idx-len(b)+1); ia <= min(idx, len(a)-1); ia++ {
				s += a[ia] * b[idx-ia]
			}
			v1[c] = s
			peak = math.Max(peak, s)
		}
		if 0 < peak && peak < pow2m128 {
			for c := range v1 {
				v1[c] *= pow2p128
			}
			expnt -= exp128
		}
		v1s = v0s + j1 - k1
	}
	ans := v1[n-v1s]
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > pow2p128 {
			ans *= pow2m128
			expnt += exp128
		}
		ans *= float64(m)
	}
	if expnt != 0 {
		ans = math.Ldexp(ans, expnt)
	}
	return clip01(ans)
}

// window is s[from:from+n], cut at the end of s as a slice expression in numpy is.
func window(s []float64, from, n int) []float64 {
	to := min(from+n, len(s))
	if from >= to {
		return nil
	}
	return s[from:to]
}

// pomeranzBounds are the first and last non-zero entries of row i.
func pomeranzBounds(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		half, odd := (i+1)/2, (i+1)%2
		switch {
		case odd == 0 && half == n+1:
			j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
		case odd == 0:
			j1, j2 = half-1-ll-roundf-1, half+ll-1+ceilf-1
		default:
			j1, j2 = half-1-ll-1, half+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// pelzGoodCDF is the Pelz–Good (1976) approximation of Pr(D_n <= x): the
// Li-Chien/Korolyuk expansion in powers of 1/sqrt(n), transformed with Jacobi theta
// functions into series that converge fast for small x·sqrt(n).
func pelzGoodCDF(n, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	const (
		pi2 = math.Pi * math.Pi
		pi4 = pi2 * pi2
		pi6 = pi4 * pi2
	)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	z := math.Sqrt(n) * x
	z2, z3, z4, z6 := z*z, z*z*z, z*z*z*z, math.Pow(z, 6)
	qlog := -pi2 / 8 / z2
	if qlog < minLogProb {
		return 0
	}
	q := math.Exp(qlog)

	k1a, k1b := -z2, pi2/4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*math.Pow(z, 8)

	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2, m4, m6 := m*m, math.Pow(m, 4), math.Pow(m, 6)
		qp := math.Pow(q, float64(8*k))
		coeffs := [4]float64{
			1,
			k1a + k1b*m2,
			k2a + k2b*m2 + k2c*m4,
			k3a + k3b*m2 + k3c*m4 + k3d*m6,
		}
		for i := range K {
			K[i] = K[i]*qp + coeffs[i]
		}
	}
	div := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * sqrt2pi / div[i]
	}

	q = math.Exp(-pi2 / 2 / z2)
	sqrt3z := math.Sqrt(3) * z
	var k2extra, k3extra float64
	for k := maxk; k > 0; k-- {
		kk := float64(k * k)
		qk := math.Pow(q, kk)
		k2extra += kk * qk
		kpi := math.Pi * float64(k)
		k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * kk * qk
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6)
	sum := 0.0
	for i := range K {
		sum += K[i] / math.Pow(n, float64(i)/2)
	}
	return sum
}

// smirnovSF is scipy.special.smirnov(n, x): Pr(D+_n > x) for the one-sided
// statistic, by the Smirnov / Birnbaum–Tingey series, or scipy's approximation
// beyond smirnovMaxN observations.
func smirnovSF(n int, x float64) float64 {
	if !(n > 0 && x >= 0 && x <= 1) {
		return math.NaN()
	}
	switch {
	case n == 1:
		return 1 - x
	case x == 0:
		return 1
	case x == 1:
		return 0
	}
	fn := float64(n)
	nxfl, alpha := floorFrac(fn, x)
	if nxfl == 0 || nxfl == 1 && alpha == 0 { // x <= 1/n
		return 1 - x*math.Pow(1+x, fn-1)
	}
	if -2*fn*x*x < cephesMinLn {
		return 0
	}
	if nxfl >= n-1 {
		return math.Pow(1-x, fn)
	}
	if n > smirnovMaxN {
		logp := -math.Pow(6*fn*x+1, 2) / 18 / fn
		if logp < -math.Ln2 {
			return math.Exp(logp)
		}
		return 1 + math.Expm1(logp)
	}
	// The lower sum x·Σ_{v=0}^{⌊n(1-x)⌋} C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1). Each
	// term is taken in logarithms; the bases are formed from the exact n·x so that
	// they keep full relative precision as they approach 0.
	terms := n - nxfl
	var sum float64
	logC := 0.0
	for v := range terms {
		if v > 0 {
			logC += math.Log(float64(n-v+1) / float64(v))
		}
		lower := ((fn - float64(v) - float64(nxfl)) - alpha) / fn
		upper := ((float64(nxfl) + float64(v)) + alpha) / fn
		term := math.Exp(logC + float64(n-v)*math.Log(lower) + float64(v-1)*math.Log(upper))
		sum += term
		if term != 0 {
			if 4*float64(terms-v)*term < 0x1p-52*sum && v != terms-1 {
				break
			}
		} else if v > n/2 {
			break
		}
	}
	return clip01(x * sum)
}

// floorFrac splits n·x, computed exactly, into its integral part and fraction.
func floorFrac(n, x float64) (int, float64) {
	p := n * x
	e := math.FMA(n, x, -p) // n·x = p + e exactly
	fl := math.Floor(p)
	frac := (p - fl) + e
	if frac < 0 {
		fl--
		frac++
	}
	if frac >= 1 {
		fl++
		frac--
	}
	return int(fl), frac
}
