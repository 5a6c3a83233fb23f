package compliance

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// Formats a report renders in.
const (
	FormatHTML     = "html"
	FormatMarkdown = "md"
	FormatJSON     = "json"
	FormatPDF      = "pdf"
)

// Render writes the report in format, one of the Format constants.
func (r *Report) Render(w io.Writer, format string) error {
	switch format {
	case FormatHTML:
		return r.WriteHTML(w)
	case FormatMarkdown:
		return r.WriteMarkdown(w)
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatPDF:
		return r.WritePDF(w)
	}
	return fmt.Errorf("render compliance report: unknown format %q", format)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as CommonMark. Text from the audit log is
// escaped, so that a model or a policy message cannot inject markup.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, b := range r.outline() {
		if i > 0 {
			bw.WriteString("\n")
		}
		switch b.Kind {
		case heading:
			fmt.Fprintf(bw, "%s %s\n", strings.Repeat("#", b.Level), mdEscape(b.Text))
		case paragraph:
			fmt.Fprintf(bw, "%s\n", mdEscape(b.Text))
		case alert:
			fmt.Fprintf(bw, "> **%s**\n", mdEscape(b.Text))
		case list:
			for _, it := range b.Items {
				fmt.Fprintf(bw, "- %s", mdEscape(it.Text))
				if ref := it.Ref(); ref != "" {
					fmt.Fprintf(bw, " *(%s)*", mdEscape(ref))
				}
				bw.WriteString("\n")
				for _, d := range it.Details {
					fmt.Fprintf(bw, "  - %s\n", mdEscape(d))
				}
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

// mdEscaper backslash-escapes the characters that start CommonMark inline
// markup or raw HTML anywhere in a line. Lines never start with text from the
// audit log, so block markup needs no escaping.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `&`, `\&`, `|`, `\|`, `~`, `\~`, "\n", " ", "\r", " ",
)

func mdEscape(s string) string {
	return mdEscaper.Replace(s)
}

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// WriteHTML writes the report as one self-contained HTML page: inline style,
// no scripts, no external resources, and everything from the audit log
// escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	data := struct {
		Title  string
		Blocks []block
	}{r.title(), r.outline()}
	if err := htmlTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

// WritePDF writes the report as a PDF document of A4 text pages.
func (r *Report) WritePDF(w io.Writer) error {
	doc := pdfDocument{Title: r.title(), Created: r.GeneratedAt}
	for _, b := range r.outline() {
		switch b.Kind {
		case heading:
			doc.Lines = append(doc.Lines, pdfText{Text: b.Text, Bold: true, Size: headingSizes[b.Level-1], Gap: headingSizes[b.Level-1] * 0.8})
		case paragraph:
			doc.Lines = append(doc.Lines, pdfText{Text: b.Text, Size: bodySize, Gap: 4})
		case alert:
			doc.Lines = append(doc.Lines, pdfText{Text: b.Text, Bold: true, Size: bodySize, Gap: 4})
		case list:
			for i, it := range b.Items {
				text := it.Text
				if ref := it.Ref(); ref != "" {
					text += " [" + ref + "]"
				}
				gap := 1.0
				if i == 0 {
					gap = 4
				}
				doc.Lines = append(doc.Lines, pdfText{Text: text, Size: bodySize, Indent: 10, Bullet: "\u2022", Gap: gap})
				for _, d := range it.Details {
					doc.Lines = append(doc.Lines, pdfText{Text: d, Size: 9, Indent: 24, Bullet: "\u2013"})
				}
			}
		}
	}
	if err := doc.write(w); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

var headingSizes = [...]float64{17, 14, 12, 11}
