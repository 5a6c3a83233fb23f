package chart

import (
	"math"
)

// A layout is a list of shapes on a surface whose origin is the top left
// corner, y growing downwards, as both SVG and PDF pages have it.
type shape struct {
	kind       shapeKind
	x, y, w, h float64 // a rect; a line from (x, y) to (x+w, y+h); a dot at (x, y) of radius w
	color      rgb
	dashed     bool
	text       string
	size       float64 // of text
	anchor     anchor
}

type shapeKind int

const (
	rect shapeKind = iota
	line
	dot
	text
)

type anchor int

const (
	start anchor = iota
	middle
	end
)

type rgb struct{ r, g, b uint8 }

// The palette tells series apart for readers with the common forms of colour
// blindness (Okabe and Ito); thresholds are drawn dark red and dashed, so
// they are told apart by their dashes too.
var (
	palette   = []rgb{{0, 114, 178}, {230, 159, 0}, {0, 158, 115}, {204, 121, 167}, {86, 180, 233}, {213, 94, 0}}
	ink       = rgb{31, 35, 40}
	faint     = rgb{208, 215, 222}
	threshold = rgb{164, 14, 38}
)

func colorOf(i int) rgb { return palette[i%len(palette)] }

// measure is the width of a text at a font size, in the units of the surface.
type measure func(s string, size float64) float64

// Font sizes and margins of every chart, in surface units.
const (
	titleSize = 12.0
	labelSize = 9.0
	smallSize = 8.0
	padLeft   = 40.0
	padRight  = 12.0
	padBottom = 26.0
)

// frame is the plot area of a chart and the scale of its value axis.
type frame struct {
	left, top, right, bottom float64
	max                      float64
}

// y is where value v is drawn; a missing value at zero.
func (f frame) y(v float64) float64 {
	if math.IsNaN(v) {
		v = 0
	}
	v = math.Max(0, math.Min(v, f.max))
	return f.bottom - (f.bottom-f.top)*v/f.max
}

// header lays out the title and a legend of the series, and returns the
// frame below them.
func header(title string, series []string, w, h float64, width measure) ([]shape, frame) {
	out := []shape{{kind: text, x: 0, y: titleSize, text: title, size: titleSize, color: ink}}
	y := titleSize + 8
	x := padLeft
	if len(series) > 0 {
		y += labelSize
		for i, s := range series {
			sw := width(s, labelSize)
			if x > padLeft && x+12+sw > w-padRight {
				x, y = padLeft, y+labelSize+4
			}
			out = append(out, shape{kind: rect, x: x, y: y - labelSize*0.8, w: 8, h: 8, color: colorOf(i)},
				shape{kind: text, x: x + 11, y: y, text: s, size: labelSize, color: ink})
			x += 11 + sw + 14
		}
	}
	return out, frame{left: padLeft, top: y + 12, right: w - padRight, bottom: h - padBottom}
}

// axis draws the value axis with gridlines at nice steps.
func axis(f frame) []shape {
	var out []shape
	step := niceStep(f.max / 4)
	for v := 0.0; v <= f.max*(1+1e-9); v += step {
		y := f.y(v)
		out = append(out, shape{kind: line, x: f.left, y: y, w: f.right - f.left, color: faint},
			shape{kind: text, x: f.left - 4, y: y + smallSize*0.35, text: Label(round(v, step)), size: smallSize, anchor: end, color: ink})
	}
	return append(out, shape{kind: line, x: f.left, y: f.top, h: f.bottom - f.top, color: ink})
}

// round removes the float noise that adding steps leaves.
func round(v, step float64) float64 {
	return math.Round(v/step) * step
}

func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// top is the top of a value axis showing every value and threshold: 1 for
// rates and scores, otherwise a nice number above the largest.
func top(values []float64) float64 {
	hi := 0.0
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			hi = math.Max(hi, v)
		}
	}
	if hi == 0 {
		return 1
	}
	if hi <= 1 {
		return 1
	}
	step := niceStep(hi / 4)
	return math.Ceil(hi*1.05/step) * step
}

func thresholdLine(f frame, t Threshold, x0, x1 float64) []shape {
	y := f.y(t.Value)
	return []shape{
		{kind: line, x: x0, y: y, w: x1 - x0, color: threshold, dashed: true},
		{kind: text, x: x1, y: y - 2, text: t.Label + " " + Label(t.Value), size: smallSize, anchor: end, color: threshold},
	}
}

func (b Bars) plot(w, h float64, width measure) []shape {
	var all []float64
	for _, g := range b.Groups {
		all = append(all, g.Values...)
		if g.Limit != nil {
			all = append(all, g.Limit.Value)
		}
	}
	for _, t := range b.Thresholds {
		all = append(all, t.Value)
	}
	out, f := header(b.Title, b.Series, w, h, width)
	f.max = top(all)
	out = append(out, axis(f)...)
	band := (f.right - f.left) / float64(max(len(b.Groups), 1))
	n := float64(max(len(b.Series), 1))
	barW := band * 0.8 / n
	for gi, g := range b.Groups {
		x0 := f.left + band*float64(gi)
		for si := range b.Series {
			v := value(g.Values, si)
			x := x0 + band*0.1 + barW*float64(si)
			if !math.IsNaN(v) {
				y := f.y(v)
				out = append(out, shape{kind: rect, x: x + barW*0.05, y: y, w: barW * 0.9, h: f.bottom - y, color: colorOf(si)})
			}
			out = append(out, shape{kind: text, x: x + barW/2, y: f.y(v) - 2, text: Label(v), size: smallSize, anchor: middle, color: ink})
		}
		out = append(out, shape{kind: text, x: x0 + band/2, y: f.bottom + labelSize + 4, text: g.Label, size: labelSize, anchor: middle, color: ink})
		if g.Limit != nil {
			out = append(out, thresholdLine(f, *g.Limit, x0+band*0.05, x0+band*0.95)...)
		}
	}
	for _, t := range b.Thresholds {
		out = append(out, thresholdLine(f, t, f.left, f.right)...)
	}
	return out
}

func (l Lines) plot(w, h float64, width measure) []shape {
	var all []float64
	names := make([]string, 0, len(l.Series))
	for _, s := range l.Series {
		all = append(all, s.Values...)
		names = append(names, s.Name)
	}
	for _, t := range l.Thresholds {
		all = append(all, t.Value)
	}
	out, f := header(l.Title, names, w, h, width)
	f.max = top(all)
	out = append(out, axis(f)...)
	band := (f.right - f.left) / float64(max(len(l.Points), 1))
	xOf := func(i int) float64 { return f.left + band*(float64(i)+0.5) }
	for i, p := range l.Points {
		out = append(out, shape{kind: text, x: xOf(i), y: f.bottom + labelSize + 4, text: p, size: labelSize, anchor: middle, color: ink})
	}
	for _, t := range l.Thresholds {
		out = append(out, thresholdLine(f, t, f.left, f.right)...)
	}
	for si, s := range l.Series {
		c := colorOf(si)
		for i := range l.Points {
			v := value(s.Values, i)
			if math.IsNaN(v) {
				out = append(out, shape{kind: text, x: xOf(i), y: f.bottom - 2, text: Label(v), size: smallSize, anchor: middle, color: ink})
				continue
			}
			if next := value(s.Values, i+1); i+1 < len(l.Points) && !math.IsNaN(next) {
				out = append(out, shape{kind: line, x: xOf(i), y: f.y(v), w: xOf(i+1) - xOf(i), h: f.y(next) - f.y(v), color: c})
			}
			out = append(out, shape{kind: dot, x: xOf(i), y: f.y(v), w: 3, color: c},
				shape{kind: text, x: xOf(i), y: f.y(v) - 5, text: Label(v), size: smallSize, anchor: middle, color: ink})
		}
	}
	return out
}
