package compliance

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
)

// A4 in points, and the page layout.
const (
	pageWidth    = 595.28
	pageHeight   = 841.89
	margin       = 56.69 // 20 mm
	footerY      = 28.0
	footerSize   = 8.0
	bulletIndent = 10.0 // from a bullet to its text
	bodySize     = 10.0
)

// pdfDocument is a document of text lines, laid out on as many pages as
// they need.
type pdfDocument struct {
	Title   string
	Created time.Time
	Lines   []pdfText
}

// pdfText is a paragraph, wrapped to the page width.
type pdfText struct {
	Text   string
	Bold   bool
	Size   float64
	Indent float64 // from the left margin
	Bullet string  // drawn at Indent; the text then hangs after it
	Gap    float64 // extra space above
}

// pdfRun is one line of text placed on a page.
type pdfRun struct {
	bold       bool
	size, x, y float64
	text       []byte // WinAnsi
}

// layout wraps the lines and places them on pages.
func (d *pdfDocument) layout() [][]pdfRun {
	var pages [][]pdfRun
	var page []pdfRun
	top := pageHeight - margin
	bottom := margin
	y := top
	newPage := func() {
		pages = append(pages, page)
		page, y = nil, top
	}
	for _, l := range d.Lines {
		leading := l.Size * 1.3
		textX := margin + l.Indent
		if l.Bullet != "" {
			textX += bulletIndent
		}
		lines := wrap(winAnsi(l.Text), l.Bold, l.Size, pageWidth-margin-textX)
		gap := l.Gap
		if y == top {
			gap = 0
		}
		// A heading needs a few lines under it, not to end a page.
		need := leading * float64(min(len(lines), 2))
		if l.Bold && l.Size > bodySize {
			need += 3 * bodySize * 1.3
		}
		if y-gap-need < bottom && y != top {
			newPage()
			gap = 0
		}
		y -= gap
		for i, text := range lines {
			if y-leading < bottom {
				newPage()
			}
			y -= leading
			if i == 0 && l.Bullet != "" {
				page = append(page, pdfRun{bold: l.Bold, size: l.Size, x: margin + l.Indent, y: y, text: winAnsi(l.Bullet)})
			}
			page = append(page, pdfRun{bold: l.Bold, size: l.Size, x: textX, y: y, text: text})
		}
	}
	if page != nil || len(pages) == 0 {
		pages = append(pages, page)
	}
	return pages
}

// wrap breaks WinAnsi text into lines no wider than width points, at spaces
// where it can and inside words longer than a line where it must.
func wrap(text []byte, bold bool, size, width float64) [][]byte {
	limit := int(width * 1000 / size)
	space := textWidth([]byte{' '}, bold)
	var lines [][]byte
	var line []byte
	lineW := 0
	for _, word := range bytes.Fields(text) {
		w := textWidth(word, bold)
		if len(line) > 0 && lineW+space+w <= limit {
			line = append(append(line, ' '), word...)
			lineW += space + w
			continue
		}
		if len(line) > 0 {
			lines = append(lines, line)
		}
		line, lineW = nil, 0
		for w > limit {
			n, nw := 0, 0
			for n < len(word) && nw+textWidth(word[n:n+1], bold) <= limit {
				nw += textWidth(word[n:n+1], bold)
				n++
			}
			n = max(n, 1) // a page narrower than one glyph still makes progress
			lines = append(lines, word[:n])
			word = word[n:]
			w = textWidth(word, bold)
		}
		line, lineW = append(line, word...), w
	}
	if len(line) > 0 || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// write writes the document as PDF 1.4.
func (d *pdfDocument) write(w io.Writer) error {
	pages := d.layout()
	var b bytes.Buffer
	offsets := []int{0} // of each object, by number; object 0 is the free list head
	object := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets)-1, body)
	}
	// A comment of bytes above 0x7f tells transfer tools the file is binary.
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

	// Objects 1 to 5 are fixed; page i (from 0) is object 6+2i and its
	// content stream 7+2i.
	const firstPage = 6
	kids := make([]byte, 0, 8*len(pages))
	for i := range pages {
		kids = fmt.Appendf(kids, "%d 0 R ", firstPage+2*i)
	}
	object("<< /Type /Catalog /Pages 2 0 R >>")
	object(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", bytes.TrimSpace(kids), len(pages)))
	object("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	object("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	object(fmt.Sprintf("<< /Title %s /Producer (modelgate) /CreationDate (D:%s) >>",
		utf16String(d.Title), d.Created.UTC().Format("20060102150405Z")))
	for i, runs := range pages {
		object(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>",
			num2(pageWidth), num2(pageHeight), firstPage+2*i+1))
		content := d.content(runs, i+1, len(pages))
		object(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}

	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets))
	for _, off := range offsets[1:] {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets), xref)
	_, err := w.Write(b.Bytes())
	return err
}

// content is the content stream of one page: its text and its footer.
func (d *pdfDocument) content(runs []pdfRun, page, pages int) []byte {
	var b []byte
	show := func(r pdfRun) {
		font := "F1"
		if r.bold {
			font = "F2"
		}
		b = fmt.Appendf(b, "BT /%s %s Tf %s %s Td %s Tj ET\n", font, num2(r.size), num2(r.x), num2(r.y), literal(r.text))
	}
	for _, r := range runs {
		show(r)
	}
	footer := winAnsi(fmt.Sprintf("Page %d of %d", page, pages))
	title := winAnsi(d.Title)
	titleWidth := pageWidth - 2*margin - float64(textWidth(footer, false))*footerSize/1000 - 20
	if lines := wrap(title, false, footerSize, titleWidth); len(lines) > 0 {
		show(pdfRun{size: footerSize, x: margin, y: footerY, text: lines[0]})
	}
	show(pdfRun{size: footerSize, x: pageWidth - margin - float64(textWidth(footer, false))*footerSize/1000, y: footerY, text: footer})
	return bytes.TrimSuffix(b, []byte("\n"))
}

// literal is s as a PDF literal string. Bytes outside printable ASCII are
// written as octal escapes so that the file stays text.
func literal(s []byte) []byte {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '(')
	for _, c := range s {
		switch {
		case c == '(' || c == ')' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20 || c > 0x7e:
			out = fmt.Appendf(out, "\\%03o", c)
		default:
			out = append(out, c)
		}
	}
	return append(out, ')')
}

// utf16String is s as a PDF text string: UTF-16BE with a byte order mark, in
// hexadecimal, which carries any character into the document information.
func utf16String(s string) string {
	b := []byte("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		b = fmt.Appendf(b, "%04X", u)
	}
	return string(append(b, '>'))
}

// num2 formats a coordinate with at most two decimals and, as PDF requires,
// no exponent.
func num2(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
