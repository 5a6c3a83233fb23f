package chart

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// SVGWidth and SVGHeight are the size of the SVG's view box; the document
// scales to the width of its container.
const (
	SVGWidth  = 640.0
	SVGHeight = 300.0
)

// SVG writes c as a standalone SVG document: no scripts, no styles or fonts
// from elsewhere, every text escaped, with a <title> and a <desc> listing
// every number for assistive technology. The output can be embedded as is in
// an HTML page, whose CSP then needs no more than the report's
// (default-src 'none'; style-src 'unsafe-inline').
func SVG(w io.Writer, c Chart) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="100%%" role="img" font-family="sans-serif">`,
		num(SVGWidth), num(SVGHeight))
	bw.WriteString("<title>")
	escape(bw, c.heading())
	bw.WriteString("</title><desc>")
	escape(bw, c.summary())
	bw.WriteString("</desc>")
	for _, s := range c.plot(SVGWidth, SVGHeight, approxWidth) {
		switch s.kind {
		case rect:
			fmt.Fprintf(bw, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, num(s.x), num(s.y), num(s.w), num(s.h), hex(s.color))
		case line:
			dash := ""
			if s.dashed {
				dash = ` stroke-dasharray="5 3"`
			}
			fmt.Fprintf(bw, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`,
				num(s.x), num(s.y), num(s.x+s.w), num(s.y+s.h), hex(s.color), num(weight(s)), dash)
		case dot:
			fmt.Fprintf(bw, `<circle cx="%s" cy="%s" r="%s" fill="%s"/>`, num(s.x), num(s.y), num(s.w), hex(s.color))
		case text:
			fmt.Fprintf(bw, `<text x="%s" y="%s" font-size="%s" fill="%s"%s>`, num(s.x), num(s.y), num(s.size), hex(s.color), anchors[s.anchor])
			escape(bw, s.text)
			bw.WriteString("</text>")
		}
	}
	bw.WriteString("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

var anchors = map[anchor]string{start: "", middle: ` text-anchor="middle"`, end: ` text-anchor="end"`}

func escape(w io.Writer, s string) {
	xml.EscapeText(w, []byte(s)) // writes to a bufio.Writer, whose error Flush reports
}

// approxWidth estimates the width of sans-serif text, which the SVG's
// reader, not its writer, lays out: enough to keep legend entries apart.
func approxWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * 0.56
}

func weight(s shape) float64 {
	switch {
	case s.color == faint:
		return 0.5
	case s.dashed:
		return 1.2
	}
	return 1.5
}

func hex(c rgb) string {
	return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b)
}

func num(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64)
}
