package floats

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// Parse parses a finite decimal number — optional sign, digits with an optional
// fraction, optional exponent — between optional spaces and tabs, correctly
// rounded. NaN, infinities, hexadecimal and digit separators are not numbers. A
// number too small for a float64 is 0, as every reader of CSV has it, and -0 is 0.
//
// Numbers of up to 19 significant digits, which is every float64 in its shortest
// form, are converted without allocating: exactly by Clinger's fast path where
// it applies, else by the Eisel–Lemire algorithm, and by strconv.ParseFloat in
// the rare cases that the algorithm cannot decide.
func Parse(b []byte) (float64, bool) {
	// Most numbers in data are digits with at most a point, as short as "7" or
	// as long as "0.020976787446718163": those are read a word at a time without
	// a loop, and everything else by parseAny.
	s, neg := b, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		s, neg = s[1:], s[0] == '-'
	}
	if len(s) < 8 {
		if mant, frac, ok := short(s); ok {
			// Clinger's fast path: both operands are exact, so one correctly
			// rounded operation gives the correctly rounded result.
			v := float64(mant) / pow10[frac]
			if neg && v != 0 {
				v = -v
			}
			return v, true
		}
		return parseAny(b)
	}
	mant, frac, ok := plain(s)
	if !ok {
		return parseAny(b)
	}
	if mant == 0 {
		return 0, true
	}
	// As likely below 2^53 as above when the digits are many: Eisel–Lemire
	// for all of them costs less than guessing wrong which way to go.
	v, ok := eiselLemire(mant, -frac)
	if !ok {
		return parseSlow(b)
	}
	if neg {
		v = -v
	}
	return v, true
}

// zeros is eight ASCII zeros.
const zeros = 0x3030303030303030

// short reads 1 to 7 bytes of digits with at most one point, and at least one
// digit, as mant × 10^-frac.
func short(b []byte) (mant uint64, frac int, ok bool) {
	// w holds the text in its last bytes, as parseEight reads them, after zeros.
	n := len(b)
	var w uint64
	switch {
	case n >= 8:
		return 0, 0, false
	case n >= 4:
		// Two loads of four bytes, overlapping when n > 4.
		w = uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32 | uint64(binary.LittleEndian.Uint32(b))<<(8*uint(8-n))
	case n > 0:
		w = uint64(b[n-1])<<56 | uint64(b[n/2])<<(8*uint(8-n+n/2)) | uint64(b[0])<<(8*uint(8-n))
	default:
		return 0, 0, false
	}
	w |= zeros >> (8 * uint(n))
	odd := nonDigits(w)
	if odd == 0 {
		return parseEight(w), 0, true
	}
	// One point, and digits besides it: the digits before it move up into its
	// place.
	at := uint(bits.TrailingZeros64(odd) / 8)
	if byte(w>>(8*at)) != '.' || odd>>(8*at+8) != 0 || n == 1 {
		return 0, 0, false
	}
	below := uint64(1)<<(8*at) - 1
	through := uint64(1)<<(8*at+8) - 1
	w = w&^through | (w&below)<<8 | '0'
	return parseEight(w), 7 - int(at), true
}

// plain reads 8 to 20 bytes of digits with a point among the first eight, as
// mant × 10^-frac.
func plain(b []byte) (mant uint64, frac int, ok bool) {
	n := len(b)
	if n < 8 || n > 20 {
		return 0, 0, false
	}
	first := binary.LittleEndian.Uint64(b)
	at := uint(bits.TrailingZeros64(nonDigits(first)) / 8)
	if at == 8 || byte(first>>(8*at)) != '.' {
		return 0, 0, false
	}
	whole := parseEight(first<<(64-8*at) | zeros>>(8*at))
	// The digits are read as one number x with a zero for the point, in three
	// words that end where b ends, the first made from first; mant is then
	// x less nine times whole × 10^frac. Sums overflow past 19 digits, but
	// mant, at most 19, comes out right all the same.
	const point = '.' ^ '0'
	first ^= point << (8 * at)
	var hi, mid uint64
	lo := binary.LittleEndian.Uint64(b[n-8:])
	if n >= 16 {
		hi = first<<(8*uint(24-n)) | zeros>>(8*uint(n-16))
		// Where the point lies before these bytes the shift wraps round to
		// 64 or more, which clears nothing.
		mid = binary.LittleEndian.Uint64(b[n-16:]) ^ point<<(8*(at+16-uint(n)))
	} else {
		hi = zeros
		mid = first<<(8*uint(16-n)) | zeros>>(8*uint(n-8))
		lo ^= point << (8 * (at + 8 - uint(n)))
	}
	if notDigits(hi)|notDigits(mid)|notDigits(lo) != 0 {
		return 0, 0, false
	}
	frac = n - 1 - int(at)
	x := parseEight(hi)*1e16 + parseEight(mid)*1e8 + parseEight(lo)
	return x - 9*whole*pow10u[frac], frac, true
}

// nonDigits returns w with bits set in each of its bytes that is not an ASCII
// digit, and in no digit below the first that is not.
func nonDigits(w uint64) uint64 {
	const high = 0xF0F0F0F0F0F0F0F0
	return (w&high ^ zeros) | ((w+0x0606060606060606)&high ^ zeros)
}

// notDigits returns 0 when the eight bytes of w are ASCII digits.
func notDigits(w uint64) uint64 {
	return (w&(w+0x0606060606060606) ^ zeros) & 0xF0F0F0F0F0F0F0F0
}

// pow10u are the powers of ten that a uint64 holds.
var pow10u = [...]uint64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// parseAny is Parse for any text.
func parseAny(b []byte) (float64, bool) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	i, n := 0, len(b)
	if n == 0 {
		return 0, false
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i++
	}
	// The digits are gathered eight at a time while they last, then one at a
	// time; mant overflows past 19 digits, which digits tells.
	start := i
	var mant uint64
	i, mant = digitRun(b, i, mant)
	digits, fraction := i-start, 0
	if i < n && b[i] == '.' {
		from := i + 1
		i, mant = digitRun(b, from, mant)
		fraction = i - from
		digits += fraction
	}
	if digits == 0 {
		return 0, false
	}
	end := i
	e := 0
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i == n {
			return 0, false
		}
		for ; i < n && '0' <= b[i] && b[i] <= '9'; i++ {
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	if i != n {
		return 0, false
	}
	exp10, exact := e-fraction, true
	if digits > 19 {
		// Leading zeros, as in 0.00012345678901234567, or more digits than a
		// float64 needs: counted again, keeping the first 19 significant ones.
		var shift int
		mant, shift, exact = significant(b[start:end])
		exp10 = e + shift
	}
	v, ok := fromDecimal(mant, exp10, exact)
	if !ok {
		return parseSlow(b)
	}
	if neg && v != 0 {
		v = -v
	}
	return v, true
}

// fromDecimal returns mant × 10^exp10 correctly rounded, where exact says that
// is the number; otherwise the number lies between it and (mant+1) × 10^exp10.
// It reports false when it cannot tell, or the number is subnormal or out of
// range.
func fromDecimal(mant uint64, exp10 int, exact bool) (float64, bool) {
	switch {
	case mant == 0:
		return 0, true
	case exact && mant < 1<<53 && -22 <= exp10 && exp10 <= 22:
		// Clinger's fast path: both operands are exact, so one correctly rounded
		// operation gives the correctly rounded result.
		v := float64(mant)
		if exp10 < 0 {
			return v / pow10[-exp10], true
		}
		return v * pow10[exp10], true
	}
	v, ok := eiselLemire(mant, exp10)
	if !ok || exact {
		return v, ok
	}
	// If both ends of the interval the number lies in round to the same
	// float64, so does the number.
	w, ok := eiselLemire(mant+1, exp10)
	return v, ok && w == v
}

// digitRun reads the digits of b from i on into mant, and returns where they end.
func digitRun(b []byte, i int, mant uint64) (int, uint64) {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if !eightDigits(w) {
			break
		}
		mant = mant*100000000 + parseEight(w)
	}
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		mant = mant*10 + uint64(b[i]-'0')
	}
	return i, mant
}

// eightDigits reports whether the eight bytes of w, little-endian, are all
// ASCII digits.
func eightDigits(w uint64) bool {
	return w&(w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 == 0x3030303030303030
}

// parseEight returns the number that eight ASCII digits, little-endian in w,
// write: three multiplications instead of eight.
func parseEight(w uint64) uint64 {
	const mask = 0x000000FF000000FF
	const mul1 = 0x000F424000000064 // 100 + (1000000 << 32)
	const mul2 = 0x0000271000000001 // 1 + (10000 << 32)
	w -= 0x3030303030303030
	w = w*10 + w>>8
	return ((w&mask)*mul1 + (w>>16&mask)*mul2) >> 32
}

// significant returns the first 19 significant digits of a mantissa — digits
// with an optional point — as a number times 10^exp10, and whether the digits
// after them were all zeros. exp10 counts the digits after the point that it
// keeps, negatively, and those before it that it drops.
func significant(b []byte) (mant uint64, exp10 int, exact bool) {
	digits, exact, point := 0, true, false
	for _, c := range b {
		if c == '.' {
			point = true
			continue
		}
		d := uint64(c - '0')
		switch {
		case digits < 19:
			mant = mant*10 + d
			if mant != 0 {
				digits++
			}
			if point {
				exp10--
			}
		default:
			exact = exact && d == 0
			if !point {
				exp10++
			}
		}
	}
	return mant, exp10, exact
}

// parseSlow parses a number that fromDecimal could not, which Parse has checked
// is a decimal number.
func parseSlow(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !(errors.Is(err, strconv.ErrRange) && f == 0) || math.IsInf(f, 0) {
		return 0, false
	}
	return f + 0, true // +0 turns -0 into 0
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// eiselLemire returns mant × 10^exp10 (mant > 0) correctly rounded, or false
// where 128 bits of the power of ten do not decide the rounding, or the result is
// subnormal, infinite or out of the table's range. It is Go's strconv's
// implementation (BSD licence), after Lemire, "Number Parsing at a Gigabyte per
// Second" (2021), and Tao's write-up of the algorithm.
func eiselLemire(mant uint64, exp10 int) (float64, bool) {
	const bias = 1023 // of the exponent: 2^0 is 1023
	if exp10 < pow10Min || exp10 > pow10Max {
		return 0, false
	}
	pow := &pow10Tab[exp10-pow10Min]
	exp2 := 1 + (exp10*108853)>>15 // ⌊exp10 × log2(10)⌋ + 1 for |exp10| ≤ 500

	// Normalization.
	clz := bits.LeadingZeros64(mant)
	mant <<= uint(clz)
	retExp2 := uint64(exp2+63+bias) - uint64(clz)

	// Multiplication.
	xHi, xLo := bits.Mul64(mant, pow[0])

	// Wider approximation.
	if xHi&0x1FF == 0x1FF && xLo+mant < mant {
		yHi, yLo := bits.Mul64(mant, pow[1])
		mergedHi, mergedLo := xHi, xLo+yHi
		if mergedLo < xLo {
			mergedHi++
		}
		if mergedHi&0x1FF == 0x1FF && mergedLo+1 == 0 && yLo+mant < mant {
			return 0, false
		}
		xHi, xLo = mergedHi, mergedLo
	}

	// Shifting to 54 bits.
	msb := xHi >> 63
	retMant := xHi >> (msb + 9)
	retExp2 -= 1 ^ msb

	// Half-way ambiguity.
	if xLo == 0 && xHi&0x1FF == 0 && retMant&3 == 1 {
		return 0, false
	}

	// From 54 to 53 bits.
	retMant += retMant & 1
	retMant >>= 1
	if retMant>>53 > 0 {
		retMant >>= 1
		retExp2++
	}
	// retExp2 is unsigned: 0 or below is subnormal, 0x7FF or above infinite.
	if retExp2-1 >= 0x7FF-1 {
		return 0, false
	}
	return math.Float64frombits(retExp2<<52 | retMant&(1<<52-1)), true
}
