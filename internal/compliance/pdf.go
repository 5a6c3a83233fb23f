package compliance

import (
	"fmt"
	"io"
	"slices"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/modelgate/modelgate/internal/chart"
)

// The PDF's layout, in points on A4. The Go fonts are embedded (subset) so
// that every reader shows Latin, Greek and Cyrillic names as written.
const (
	pdfMargin    = 50.0
	pdfTop       = 72.0 // below the header, which states the chain's verdict
	pdfBottom    = 48.0 // above the footer
	bodySize     = 9.5
	chartHeight  = 210.0
	cellPad      = 3.0
	font         = "go"
	minColumnPts = 40.0
)

var headingSizes = [...]float64{17, 14, 12, 10.5}

// WritePDF writes the report as an A4 PDF: headings, tables, the charts as
// vector drawings, and on every page a header with the audit chain's verdict
// and a footer with the title and the page number.
func (r *Report) WritePDF(w io.Writer) error {
	p := fpdf.New("P", "pt", "A4", "")
	p.AddUTF8FontFromBytes(font, "", goregular.TTF)
	p.AddUTF8FontFromBytes(font, "B", gobold.TTF)
	p.SetTitle(r.title(), true)
	p.SetProducer("modelgate", true)
	p.SetCreationDate(r.GeneratedAt)
	p.SetModificationDate(r.GeneratedAt)
	p.SetMargins(pdfMargin, pdfTop, pdfMargin)
	p.SetAutoPageBreak(true, pdfBottom)
	p.AliasNbPages("")
	pageW, pageH := p.GetPageSize()
	width := pageW - 2*pdfMargin
	status, intact := r.chainStatus()
	p.SetHeaderFunc(func() {
		p.SetFont(font, "B", 8)
		p.SetXY(pdfMargin, 22)
		if intact {
			p.SetTextColor(26, 127, 55)
			p.MultiCell(width, 10, status, "B", "L", false)
		} else {
			p.SetTextColor(207, 34, 46)
			p.MultiCell(width, 10, status, "1", "L", false)
		}
		p.SetTextColor(0, 0, 0)
		p.SetXY(pdfMargin, pdfTop)
	})
	p.SetFooterFunc(func() {
		p.SetFont(font, "", 8)
		p.SetTextColor(87, 96, 106)
		p.SetXY(pdfMargin, pageH-32)
		p.CellFormat(width*0.75, 10, r.title(), "", 0, "L", false, 0, "")
		p.CellFormat(width*0.25, 10, fmt.Sprintf("Page %d of {nb}", p.PageNo()), "", 0, "R", false, 0, "")
		p.SetTextColor(0, 0, 0)
	})
	p.AddPage()
	d := pdfWriter{p: p, width: width, limit: pageH - pdfBottom}
	for _, b := range r.outline() {
		d.block(b)
	}
	if err := p.Output(w); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

type pdfWriter struct {
	p     *fpdf.Fpdf
	width float64
	limit float64 // the lowest y a line may end at
}

// room starts a new page unless h points fit below the current line.
func (d *pdfWriter) room(h float64) {
	if d.p.GetY()+h > d.limit {
		d.p.AddPage()
	}
}

func (d *pdfWriter) block(b block) {
	p := d.p
	p.SetFont(font, "", bodySize)
	switch b.Kind {
	case heading:
		size := headingSizes[b.Level-1]
		d.room(size*2 + 3*bodySize*1.4) // a heading never ends a page
		p.Ln(size * 0.6)
		p.SetFont(font, "B", size)
		p.MultiCell(d.width, size*1.3, b.Text, "", "L", false)
	case paragraph:
		p.Ln(3)
		p.MultiCell(d.width, bodySize*1.4, b.Text, "", "L", false)
	case alert:
		p.Ln(3)
		p.SetFont(font, "B", bodySize)
		p.SetTextColor(207, 34, 46)
		p.MultiCell(d.width, bodySize*1.4, b.Text, "1", "L", false)
		p.SetTextColor(0, 0, 0)
	case list:
		p.Ln(3)
		for _, it := range b.Items {
			text := it.Text
			if ref := it.Ref(); ref != "" {
				text += " [" + ref + "]"
			}
			d.bullet("\u2022", 8, text, bodySize)
			for _, det := range it.Details {
				d.bullet("\u2013", 22, det, bodySize-1)
			}
		}
	case tabular:
		p.Ln(4)
		d.table(b.Table)
	case figure:
		p.Ln(4)
		d.room(chartHeight)
		y := p.GetY()
		chart.Draw(p, b.Chart, pdfMargin, y, d.width, chartHeight)
		p.SetTextColor(0, 0, 0)
		p.SetDrawColor(0, 0, 0)
		p.SetLineWidth(0.5)
		p.SetXY(pdfMargin, y+chartHeight+6)
	}
}

func (d *pdfWriter) bullet(mark string, indent float64, text string, size float64) {
	p := d.p
	p.SetFont(font, "", size)
	p.SetX(pdfMargin + indent)
	p.CellFormat(10, size*1.4, mark, "", 0, "L", false, 0, "")
	p.MultiCell(d.width-indent-10, size*1.4, text, "", "L", false)
}

// table draws a table with a record column, its header repeated on every
// page it spans; columns get widths after their content.
func (d *pdfWriter) table(t table) {
	p := d.p
	header := append(slices.Clone(t.Header), "Record")
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = append(slices.Clone(r.Cells), r.Ref())
	}
	size := bodySize - 1
	p.SetFont(font, "", size)
	want := make([]float64, len(header))
	total := 0.0
	for c := range header {
		want[c] = p.GetStringWidth(header[c]) + 2*cellPad
		for _, r := range rows {
			want[c] = max(want[c], min(p.GetStringWidth(r[c])+2*cellPad, d.width*0.6))
		}
		want[c] = max(want[c], minColumnPts)
		total += want[c]
	}
	for c := range want {
		want[c] *= d.width / total
	}
	d.row(header, want, size, true)
	for _, r := range rows {
		if d.row(r, want, size, false) {
			d.row(header, want, size, true)
			d.row(r, want, size, false)
		}
	}
	p.SetFont(font, "", bodySize)
}

// row draws one row of a table, or, when it does not fit on the page, only
// starts a new page and reports that it did.
func (d *pdfWriter) row(cells []string, widths []float64, size float64, bold bool) (newPage bool) {
	p := d.p
	style := ""
	if bold {
		style = "B"
	}
	p.SetFont(font, style, size)
	lead := size * 1.3
	lines := make([][]string, len(cells))
	h := 0.0
	for c, text := range cells {
		lines[c] = p.SplitText(text, widths[c]-2*cellPad)
		h = max(h, float64(max(len(lines[c]), 1))*lead+2*cellPad)
	}
	if p.GetY()+h > d.limit {
		p.AddPage()
		return true
	}
	x, y := pdfMargin, p.GetY()
	for c := range cells {
		if bold {
			p.SetFillColor(246, 248, 250)
			p.Rect(x, y, widths[c], h, "FD")
		} else {
			p.Rect(x, y, widths[c], h, "D")
		}
		for i, l := range lines[c] {
			p.SetXY(x+cellPad, y+cellPad+float64(i)*lead)
			p.CellFormat(widths[c]-2*cellPad, lead, l, "", 0, "L", false, 0, "")
		}
		x += widths[c]
	}
	p.SetXY(pdfMargin, y+h)
	return false
}
