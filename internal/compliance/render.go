package compliance

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/modelgate/modelgate/internal/chart"
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

// WriteJSON writes the report as indented JSON (modelgate.report/v1).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as CommonMark with GitHub's tables. Text
// from the audit log is escaped, so that a model or a policy message cannot
// inject markup. A chart is given by its description, whose numbers its
// table beside it holds too.
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
		case tabular:
			fmt.Fprintf(bw, "| %s | Record |\n|%s\n", mdCells(b.Table.Header), strings.Repeat(" --- |", len(b.Table.Header)+1))
			for _, row := range b.Table.Rows {
				fmt.Fprintf(bw, "| %s | %s |\n", mdCells(row.Cells), mdEscape(row.Ref()))
			}
		case figure:
			fmt.Fprintf(bw, "*Chart: %s*\n", mdEscape(chart.Summary(b.Chart)))
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}

func mdCells(cells []string) string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = mdEscape(c)
	}
	return strings.Join(out, " | ")
}

// mdEscaper backslash-escapes the characters that start CommonMark inline
// markup or raw HTML anywhere in a line, and the pipes that end a table's
// cell. Lines never start with text from the audit log, so block markup needs
// no escaping.
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

// htmlBlock is a block with its chart rendered.
type htmlBlock struct {
	block
	SVG template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: inline style
// and SVG, no scripts, no external resources, and everything from the audit
// log escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	status, ok := r.chainStatus()
	data := struct {
		Title  string
		Status string
		Intact bool
		Blocks []htmlBlock
	}{Title: r.title(), Status: status, Intact: ok}
	for _, b := range r.outline() {
		hb := htmlBlock{block: b}
		if b.Kind == figure {
			var svg bytes.Buffer
			if err := chart.SVG(&svg, b.Chart); err != nil {
				return fmt.Errorf("write compliance report: %w", err)
			}
			// chart.SVG escapes every text it writes.
			hb.SVG = template.HTML(svg.String())
		}
		data.Blocks = append(data.Blocks, hb)
	}
	if err := htmlTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("write compliance report: %w", err)
	}
	return nil
}
