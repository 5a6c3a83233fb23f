package floats

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// reference is what Parse must return: for a decimal number strconv's correctly
// rounded value, with -0 as 0, underflow as 0 and overflow refused; for
// anything else, that it is not a number.
func reference(s string) (float64, bool) {
	if !decimal.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.Trim(s, " \t"), 64)
	if err != nil && !(errors.Is(err, strconv.ErrRange) && f == 0) || math.IsInf(f, 0) {
		return 0, false
	}
	return f + 0, true
}

// same reports whether Parse agrees with reference on s, bit for bit.
func same(t *testing.T, s string) {
	t.Helper()
	got, ok := Parse([]byte(s))
	want, wantOK := reference(s)
	if ok != wantOK || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("Parse(%q) = %v (%#x), %v; want %v (%#x), %v", s, got, math.Float64bits(got), ok, want, math.Float64bits(want), wantOK)
	}
}

// TestParseShortest: every float64 in its shortest forms, as Go, Python and
// pandas write them, reads back as itself, over two million random bit patterns
// (every exponent, subnormals included) and values of the sizes data hold.
func TestParseShortest(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 2000000
	if testing.Short() {
		n = 100000
	}
	var buf []byte
	for i := range n {
		var v float64
		switch i % 4 {
		case 0, 1:
			v = math.Float64frombits(rng.Uint64())
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
		case 2:
			v = math.Exp(rng.NormFloat64() * 5)
		default:
			v = rng.Float64()
		}
		for _, format := range []byte{'g', 'e', 'f'} {
			if format == 'f' && math.Abs(v) > 1e30 || math.Abs(v) < 1e-30 && format == 'f' {
				continue
			}
			buf = strconv.AppendFloat(buf[:0], v, format, -1, 64)
			got, ok := Parse(buf)
			if !ok || got != v && !(v == 0 && got == 0) {
				t.Fatalf("Parse(%q) = %v, %v; want %v", buf, got, ok, v)
			}
		}
	}
}

// TestParseDigits: mantissas of 1 to 25 digits, at exponents from one end of
// the range to the other, agree with strconv.
func TestParseDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	n := 1000000
	if testing.Short() {
		n = 50000
	}
	var sb strings.Builder
	for range n {
		sb.Reset()
		if rng.IntN(2) == 0 {
			sb.WriteByte('-')
		}
		digits := 1 + rng.IntN(25)
		point := rng.IntN(digits + 1)
		for d := range digits {
			if d == point {
				sb.WriteByte('.')
			}
			sb.WriteByte(byte('0' + rng.IntN(10)))
		}
		if rng.IntN(3) > 0 {
			sb.WriteString("e" + strconv.Itoa(rng.IntN(700)-350))
		}
		same(t, sb.String())
	}
}

// TestParseHalfway: numbers exactly halfway between two float64s, and a hair
// either side, round as strconv rounds them (to even at the halfway point).
func TestParseHalfway(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 20000 {
		v := math.Float64frombits(rng.Uint64() >> 1)
		if i%2 == 0 {
			v = math.Exp(rng.NormFloat64() * 10)
		}
		if math.IsInf(v, 0) || math.IsNaN(v) || v == math.MaxFloat64 {
			continue
		}
		lo := new(big.Float).SetPrec(200).SetFloat64(v)
		hi := new(big.Float).SetPrec(200).SetFloat64(math.Nextafter(v, math.Inf(1)))
		mid := new(big.Float).SetPrec(200).Add(lo, hi)
		mid.Quo(mid, big.NewFloat(2))
		exact := mid.Text('e', 1100)
		m, e, _ := strings.Cut(exact, "e")
		m = strings.TrimRight(m, "0")
		same(t, m+"e"+e)
		for _, digits := range []int{16, 17, 18, 19, 20, 25, 40} {
			same(t, mid.Text('e', digits))
		}
	}
}

// TestParseEdges: the limits of float64 and of the fast paths, signs, spaces,
// and what is not a number.
func TestParseEdges(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "+0", "0.0", "-0.0", "0e999999", ".5", "5.", "-.5e-3", " 1.5\t", "\t-2 ",
		"9007199254740991", "9007199254740992", "9007199254740993", "9007199254740994", "9007199254740995",
		"18014398509481985", "1e22", "1e23", "9999999999999999999", "10000000000000000000", "18446744073709551615",
		"18446744073709551616", "99999999999999999999999", "1234567890123456789012345678901234567890",
		"0.1", "0.2", "0.3", "1e-05", "54.598150033144236", "0.00012345678901234567", "1.7976931348623157e+308",
		"1.7976931348623158e308", "1.7976931348623159e308", "1.8e308", "1e309", "-1e309",
		"2.2250738585072014e-308", "2.2250738585072011e-308", "2.225073858507201e-308", "4.9406564584124654e-324",
		"5e-324", "2.4703282292062328e-324", "2.4703282292062327e-324", "2.4e-324", "1e-400", "-1e-400",
		"1e-348", "1e-349", "1e347", "1e-350", "1e348", "0.000000000000000000000000000000000000001e38",
		"100000000000000000000000000000000000000e-38", "1e+16", "1E5", "1e+", "1e", "e5", "", " ", "-", "+", ".",
		"1.2.3", "1e5.5", "0x1p3", "inf", "-inf", "Inf", "infinity", "nan", "NaN", "1_000", "1,5", "--1", "+-1",
		"1 2", "١",
	} {
		same(t, s)
	}
}

// TestParseShapes: digits with at most a point, every length from 1 to 24
// bytes with the point at every place or none, signed or not, as they are and
// with what makes them another number or none after them, agree with strconv.
// Those are the lengths either side of every word the digits are read in.
func TestParseShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	fills := []func(int) byte{
		func(int) byte { return '9' },
		func(int) byte { return '0' },
		func(i int) byte { return "10"[min(i, 1)] },
		func(i int) byte { return "0001"[min(i, 3)] },
		func(int) byte { return byte('0' + rng.IntN(10)) },
		func(int) byte { return byte('0' + rng.IntN(10)) },
	}
	var digits []byte
	for n := 1; n <= 24; n++ {
		for point := -1; point <= n; point++ {
			for _, fill := range fills {
				digits = digits[:0]
				for i := range n {
					if i == point {
						digits = append(digits, '.')
					}
					digits = append(digits, fill(i))
				}
				if point == n {
					digits = append(digits, '.')
				}
				fast(t, digits, point)
				for _, sign := range []string{"", "-", "+"} {
					for _, after := range []string{"", " ", "\t", ".", "0", "e5", "E-3", "x", "-", "e"} {
						same(t, sign+string(digits)+after)
						same(t, " "+sign+string(digits)+after)
					}
				}
			}
		}
	}
}

// fast checks that short or plain reads digits, with a point at point or none
// where point is -1, whenever they are of its shape, and exactly.
func fast(t *testing.T, digits []byte, point int) {
	t.Helper()
	n := len(digits)
	read, shape := short, n < 8
	if n >= 8 {
		read, shape = plain, n <= 20 && 0 <= point && point < 8
	}
	mant, frac, ok := read(digits)
	if ok != shape || !ok {
		if ok != shape {
			t.Fatalf("%q: read as %v × 10^-%v, %v; want it read %v", digits, mant, frac, ok, shape)
		}
		return
	}
	wantFrac := 0
	if point >= 0 {
		wantFrac = n - 1 - point
	}
	want, err := strconv.ParseUint(strings.Replace(string(digits), ".", "", 1), 10, 64)
	if err != nil || mant != want || frac != wantFrac {
		t.Fatalf("%q: read as %v × 10^-%v; want %v × 10^-%v (%v)", digits, mant, frac, want, wantFrac, err)
	}
}

// TestParseRandomText: short strings of digits, points, signs, exponents and
// spaces, most of them not numbers, agree with strconv.
func TestParseRandomText(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const alphabet = "0123456789000000000099999999.-+eE \t/:"
	n := 2000000
	if testing.Short() {
		n = 200000
	}
	b := make([]byte, 0, 24)
	for range n {
		b = b[:0]
		for range rng.IntN(25) {
			c := alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(4) > 0 {
				c = alphabet[rng.IntN(10)]
			}
			b = append(b, c)
		}
		same(t, string(b))
	}
}

// TestParseEnd: a number read from the front of a longer text, as a reader
// of CSV hands them, ends where its slice ends, whatever follows in memory; and
// one that fills its buffer to the last byte reads no further.
func TestParseEnd(t *testing.T) {
	for _, text := range []string{
		"0.020976787446718163999999999",
		"11.854290696768322999999999",
		"6.5865403932690695555555555",
		"1234567.1234567891234567891",
		"16.55555555555555555555",
		"0.1e5e5e5e5e5e5e5e5e5e5e5e5",
		"1.........................",
		"-0.34318590051245473123456789",
		"99999999999999999999999999",
	} {
		for n := range len(text) + 1 {
			field := []byte(text)[:n]
			got, ok := Parse(field)
			want, wantOK := reference(text[:n])
			if ok != wantOK || math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("Parse(%q followed by %q) = %v, %v; want %v, %v", text[:n], text[n:], got, ok, want, wantOK)
			}
			exact := []byte(text[:n])
			if got, ok := Parse(exact[:n:n]); ok != wantOK || math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("Parse(%q) at the end of its buffer = %v, %v; want %v, %v", text[:n], got, ok, want, wantOK)
			}
		}
	}
}

// TestParseAllocates: a number of any size is read without allocating.
func TestParseAllocates(t *testing.T) {
	for _, s := range []string{"54.598150033144236", "0.00012345678901234567", "12.5", "1e-05", "9999999999999999999999"} {
		b := []byte(s)
		if n := testing.AllocsPerRun(100, func() { Parse(b) }); n != 0 {
			t.Errorf("Parse(%q): %v allocations", s, n)
		}
	}
}

// decimal is the grammar Parse accepts.
var decimal = regexp.MustCompile(`^[ \t]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t]*$`)

// FuzzParseFloat: Parse agrees with strconv.ParseFloat, bit for bit, on every
// decimal number, and refuses everything else.
func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"54.598150033144236", "1e-05", "-0", "9007199254740993", "2.4703282292062328e-324", "1.5 ", "inf", "0x10", "1e309"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		same(t, s)
	})
}

func BenchmarkParse(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	lognormal := func(mu, sigma float64) float64 { return math.Exp(mu + sigma*rng.NormFloat64()) }
	shortest := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, c := range []struct {
		name string
		text func() string
	}{
		{"shortest", func() string { return shortest(lognormal(3.5, 1.1)) }},
		{"cents", func() string { return strconv.FormatFloat(lognormal(3.5, 1.1), 'f', 2, 64) }},
		// Amounts, probabilities and small counts as pandas writes them.
		{"amounts", func() string { return shortest(lognormal(2, 0.8)) }},
		{"scores", func() string { v := lognormal(-1.5, 1.2); return shortest(v / (1 + v)) }},
		{"hours", func() string { return strconv.Itoa(rng.IntN(24)) }},
		{"signed", func() string { return shortest(rng.NormFloat64() * 10) }},
	} {
		texts := make([][]byte, 4096)
		size := 0
		for i := range texts {
			texts[i] = []byte(c.text())
			size += len(texts[i])
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(size / len(texts)))
			i := 0
			for b.Loop() {
				Parse(texts[i&4095])
				i++
			}
		})
		b.Run(c.name+"-strconv", func(b *testing.B) {
			b.SetBytes(int64(size / len(texts)))
			i := 0
			for b.Loop() {
				strconv.ParseFloat(string(texts[i&4095]), 64)
				i++
			}
		})
	}
}
