package chart

// Canvas is a PDF page being drawn on, measured in points with the origin at
// the top left, as *fpdf.Fpdf (github.com/go-pdf/fpdf) created with the unit
// "pt" is. Draw sets the canvas's colours, line width and font size as it
// needs them and leaves them so: the caller sets them again for what it
// draws next.
type Canvas interface {
	SetDrawColor(r, g, b int)
	SetFillColor(r, g, b int)
	SetTextColor(r, g, b int)
	SetLineWidth(width float64)
	SetDashPattern(dashArray []float64, dashPhase float64)
	SetFontSize(size float64)
	Line(x1, y1, x2, y2 float64)
	Rect(x, y, w, h float64, style string)
	Circle(x, y, r float64, style string)
	Text(x, y float64, text string)
	GetStringWidth(s string) float64
}

// Draw draws c onto the canvas in the box of w by h points whose top left
// corner is at (x, y). Its text is drawn in the canvas's current font, which
// must cover the chart's labels.
func Draw(p Canvas, c Chart, x, y, w, h float64) {
	width := func(s string, size float64) float64 {
		p.SetFontSize(size)
		return p.GetStringWidth(s)
	}
	for _, s := range c.plot(w, h, width) {
		switch s.kind {
		case rect:
			p.SetFillColor(int(s.color.r), int(s.color.g), int(s.color.b))
			p.Rect(x+s.x, y+s.y, s.w, s.h, "F")
		case line:
			p.SetDrawColor(int(s.color.r), int(s.color.g), int(s.color.b))
			p.SetLineWidth(weight(s))
			if s.dashed {
				p.SetDashPattern([]float64{5, 3}, 0)
			}
			p.Line(x+s.x, y+s.y, x+s.x+s.w, y+s.y+s.h)
			if s.dashed {
				p.SetDashPattern([]float64{}, 0)
			}
		case dot:
			p.SetFillColor(int(s.color.r), int(s.color.g), int(s.color.b))
			p.Circle(x+s.x, y+s.y, s.w, "F")
		case text:
			p.SetTextColor(int(s.color.r), int(s.color.g), int(s.color.b))
			tw := width(s.text, s.size)
			tx := x + s.x
			switch s.anchor {
			case middle:
				tx -= tw / 2
			case end:
				tx -= tw
			}
			p.Text(tx, y+s.y, s.text)
		}
	}
}
