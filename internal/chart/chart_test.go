package chart

import (
	"bytes"
	"encoding/xml"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/goregular"
)

func fairness() Bars {
	return Bars{
		Title:       "Fairness by sex <&> \"quoted\"",
		Description: "Selection rate, TPR and FPR per group",
		Series:      []string{"selection rate", "TPR", "FPR"},
		Groups: []Group{
			{Label: "Łódź <script>", Values: []float64{0.5, 0.9, 0.1}},
			{Label: "Ελληνικά", Values: []float64{0.42, math.NaN(), 0.12}},
		},
		Thresholds: []Threshold{{Label: "min selection rate", Value: 0.4}},
	}
}

func drift() Bars {
	return Bars{
		Title:  "Drift (PSI) per column",
		Series: []string{"PSI"},
		Groups: []Group{
			{Label: "amount", Values: []float64{0.31}, Limit: &Threshold{Label: "max", Value: 0.2}},
			{Label: "Кириллица", Values: []float64{0.05}, Limit: &Threshold{Label: "max", Value: 0.25}},
		},
	}
}

func accuracy() Lines {
	return Lines{
		Title:      "accuracy across versions",
		Points:     []string{"1.0.0", "1.1.0", "2.0.0"},
		Series:     []Series{{Name: "accuracy", Values: []float64{0.88, math.NaN(), 0.913}}},
		Thresholds: []Threshold{{Label: "minimum", Value: 0.85}},
	}
}

// svgDoc is what an SVG document is made of, as a reader parses it.
type svgDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Role    string   `xml:"role,attr"`
	Title   string   `xml:"title"`
	Desc    string   `xml:"desc"`
	Texts   []string `xml:"text"`
	Lines   []struct {
		Y1   string `xml:"y1,attr"`
		Y2   string `xml:"y2,attr"`
		Dash string `xml:"stroke-dasharray,attr"`
	} `xml:"line"`
	Rects []struct {
		Y      string `xml:"y,attr"`
		Height string `xml:"height,attr"`
	} `xml:"rect"`
}

func renderSVG(t *testing.T, c Chart) (string, svgDoc) {
	t.Helper()
	var buf bytes.Buffer
	if err := SVG(&buf, c); err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("SVG does not parse: %v\n%s", err, buf.String())
	}
	return buf.String(), doc
}

func TestSVGIsSelfContainedAndEscaped(t *testing.T) {
	out, doc := renderSVG(t, fairness())
	if doc.Role != "img" || doc.Title != `Fairness by sex <&> "quoted"` {
		t.Errorf("role %q, title %q", doc.Role, doc.Title)
	}
	for _, forbidden := range []string{"<script", "href", "<style", "url(", "<image", "<foreignObject", "on" + "load"} {
		if strings.Contains(out, forbidden) {
			t.Errorf("SVG has %q:\n%s", forbidden, out)
		}
	}
	for _, want := range []string{"Selection rate, TPR and FPR per group.", "Łódź <script>: selection rate 0.5, TPR 0.9, FPR 0.1.",
		"Ελληνικά: selection rate 0.42, TPR n/a, FPR 0.12.", "Threshold min selection rate: 0.4."} {
		if !strings.Contains(doc.Desc, want) {
			t.Errorf("desc %q lacks %q", doc.Desc, want)
		}
	}
	texts := strings.Join(doc.Texts, "|")
	for _, want := range []string{"|0.5|", "|0.42|", "|n/a|", "Łódź <script>", "min selection rate 0.4", "selection rate|"} {
		if !strings.Contains("|"+texts+"|", want) {
			t.Errorf("text labels %q lack %q", texts, want)
		}
	}
}

// TestThresholdsAreWhereTheirValuesAre checks the geometry: a dashed line at
// a threshold's value, bars proportional to their values, on one axis.
func TestThresholdsAreWhereTheirValuesAre(t *testing.T) {
	_, doc := renderSVG(t, drift())
	// The axis of values up to 0.31 tops at 1; the y of value v is
	// bottom - (bottom-top)*v, with bottom the y of the axis's 0 gridline.
	parse := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var dashed []float64
	for _, l := range doc.Lines {
		if l.Dash != "" {
			dashed = append(dashed, parse(l.Y1))
		}
	}
	if len(dashed) != 2 {
		t.Fatalf("%d dashed lines, want one per column limit", len(dashed))
	}
	if len(doc.Rects) != 3 { // the legend's swatch and two bars
		t.Fatalf("%d rects, want a swatch and 2 bars", len(doc.Rects))
	}
	bottom := parse(doc.Rects[1].Y) + parse(doc.Rects[1].Height)
	unit := parse(doc.Rects[1].Height) / 0.31
	for i, want := range []float64{0.2, 0.25} {
		if got := (bottom - dashed[i]) / unit; math.Abs(got-want) > 0.01 {
			t.Errorf("limit %d drawn at %.3f, want %.3f", i, got, want)
		}
	}
	if got := parse(doc.Rects[2].Height) / unit; math.Abs(got-0.05) > 0.01 {
		t.Errorf("second bar is %.3f high, want 0.05", got)
	}
}

func TestLinesBreakAtMissingValues(t *testing.T) {
	_, doc := renderSVG(t, accuracy())
	var solid int
	for _, l := range doc.Lines {
		if l.Dash == "" && l.Y1 != l.Y2 {
			solid++
		}
	}
	if solid != 1 { // the axis; no segment joins a missing value
		t.Errorf("%d sloped solid lines, want only the axis", solid)
	}
	texts := strings.Join(doc.Texts, "|")
	for _, want := range []string{"0.88", "0.913", "n/a", "minimum 0.85", "2.0.0"} {
		if !strings.Contains(texts, want) {
			t.Errorf("labels %q lack %q", texts, want)
		}
	}
}

func TestLabel(t *testing.T) {
	for v, want := range map[float64]string{0.91234: "0.9123", 12: "12", 0: "0", 1e-5: "1e-05"} {
		if got := Label(v); got != want {
			t.Errorf("Label(%v) = %q, want %q", v, got, want)
		}
	}
	if Label(math.NaN()) != "n/a" {
		t.Error("NaN is not n/a")
	}
}

// TestDrawOnAPDFPage draws every chart on a real PDF page with an embedded
// font and reads its labels back with poppler's pdftotext.
func TestDrawOnAPDFPage(t *testing.T) {
	pdf := fpdf.New("P", "pt", "A4", "")
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.SetFont("go", "", 10)
	pdf.AddPage()
	for i, c := range []Chart{fairness(), drift(), accuracy()} {
		Draw(pdf, c, 40, 40+float64(i)*250, 500, 230)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	for _, want := range []string{"Łódź <script>", "Ελληνικά", "Кириллица", "min selection rate 0.4", "max 0.2", "0.913", "minimum 0.85", "n/a"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
	if bytes.Contains(buf.Bytes(), []byte("/Subtype /Image")) {
		t.Error("charts were drawn as images, not vectors")
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_PDFTOTEXT") != "" {
			t.Fatal("pdftotext (poppler-utils) is not installed")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	file := filepath.Join(t.TempDir(), "chart.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}
