package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelgate/modelgate/internal/chart"
	"github.com/modelgate/modelgate/internal/compliance"
)

// browserTab is a tab of the one headless Chromium the browser test runs,
// with what its pages wrote to the console.
type browserTab struct {
	ctx     context.Context
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// headlessChromium starts Debian's chromium, headless, with a profile of its
// own. Without it the test is skipped, unless MODELGATE_REQUIRE_CHROMIUM=1,
// which makes it fail.
func headlessChromium(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MODELGATE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("chromium is required (MODELGATE_REQUIRE_CHROMIUM=1) but not on PATH: %v", err)
		}
		t.Skipf("chromium not on PATH (apt-get install chromium): %v", err)
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	t.Cleanup(cancel)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	return browser
}

// tab opens a tab in the browser for the rest of the test.
func tab(t *testing.T, browser context.Context) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	b := &browserTab{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

func run[T any](t *testing.T, b *browserTab, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (b *browserTab) open(t *testing.T, url string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
}

// complaints are the console's errors and security messages, such as a
// Content-Security-Policy violation.
func (b *browserTab) complaints() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		if m.Type == "error" || m.Source == "security" || m.IsException() {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}

// screenshots is the directory the screenshots are saved in: the one
// MODELGATE_SCREENSHOTS names, or one of the test's.
func screenshots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MODELGATE_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves the page as dir/name.png.
func (b *browserTab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png := run(t, b, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// chartDOM is what the browser made of the SVG charts of a page.
type chartDOM struct {
	Titles []string   `json:"titles"`
	Texts  [][]string `json:"texts"`
	// Dashed counts each chart's dashed lines: its thresholds.
	Dashed []int `json:"dashed"`
	// Width is each chart's rendered width in CSS pixels.
	Width []float64 `json:"width"`
}

const chartsJS = `(() => {
	const svgs = [...document.querySelectorAll(%q)];
	return {
		titles: svgs.map(s => s.querySelector('title').textContent),
		texts: svgs.map(s => [...s.querySelectorAll('text')].map(t => t.textContent)),
		dashed: svgs.map(s => s.querySelectorAll('line[stroke-dasharray]').length),
		width: svgs.map(s => s.getBoundingClientRect().width),
	};
})()`

func (b *browserTab) charts(t *testing.T, selector string) chartDOM {
	t.Helper()
	return run(t, b, chromedp.Evaluate[chartDOM](fmt.Sprintf(chartsJS, selector)))
}

// chainBanner is the chain's status line as shown: its text, and the colour
// the server's stylesheet gave it.
type chainBanner struct {
	Intact     string `json:"intact"`
	Text       string `json:"text"`
	Background string `json:"background"`
}

func (b *browserTab) chain(t *testing.T) chainBanner {
	t.Helper()
	return run(t, b, chromedp.Evaluate[chainBanner](`(() => {
		const c = document.getElementById('chain');
		return c ? {intact: c.dataset.intact, text: c.textContent, background: getComputedStyle(c).backgroundColor} : {};
	})()`))
}

func TestInBrowser(t *testing.T) {
	browser := headlessChromium(t)
	h := gatedStore(t)
	s := newSite(t, h.db)
	rep, err := compliance.Load(context.Background(), h.db, compliance.Query{Model: model}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := tab(t, browser)
	shots := screenshots(t)

	t.Run("sign in", func(t *testing.T) {
		s.gh.SignIn("rita")
		b.open(t, s.url+"/models/"+model)
		if loc := run(t, b, chromedp.Location()); loc != s.url+"/models/"+model {
			t.Fatalf("signing in ended at %s", loc)
		}
		if who := run(t, b, chromedp.Evaluate[string](`document.getElementById('reviewer').textContent`)); who != "rita" {
			t.Errorf("signed in as %q", who)
		}
	})

	t.Run("timeline", func(t *testing.T) {
		b.open(t, s.url+"/models/"+model)
		if c := b.chain(t); c.Intact != "true" || !strings.Contains(c.Text, "Audit chain intact: 5 records verified.") || c.Background != "rgb(218, 251, 225)" {
			t.Errorf("chain status %+v", c)
		}
		rows := run(t, b, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#timeline tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()))`))
		if len(rows) != 5 {
			t.Fatalf("timeline rows %q", rows)
		}
		// Columns: when, dev, production.
		if !strings.Contains(rows[0][1], "2.2.0: allowed by dana") || rows[0][2] != "" ||
			!strings.Contains(rows[1][2], "2.3.0: denied by alice") || !strings.Contains(rows[2][2], "2.3.0: allowed by alice") ||
			!strings.Contains(rows[3][2], "2.3.0: merged by alice") || !strings.Contains(rows[4][2], "2.3.0: deployment by deploy-bot") {
			t.Errorf("timeline %q", rows)
		}
		// Each metric across the two versions, labelled with the numbers
		// the store holds.
		charts := b.charts(t, "#metric-charts svg")
		allowed, _ := decisionOf(rep, h.allowed.Seq)
		dev, _ := decisionOf(rep, h.devDecision.Seq)
		if len(charts.Titles) != len(allowed.Evidence.Metrics) {
			t.Fatalf("metric charts %q, want one per metric of %+v", charts.Titles, allowed.Evidence.Metrics)
		}
		if !slices.ContainsFunc(allowed.Evidence.Metrics, func(m compliance.Metric) bool { return m.Threshold != nil }) {
			t.Fatalf("no metric of %+v has a threshold to draw", allowed.Evidence.Metrics)
		}
		for i, m := range allowed.Evidence.Metrics {
			want := []string{m.Name + " across versions", "2.2.0", "2.3.0", chart.Label(*m.Value), chart.Label(*dev.Evidence.Metrics[i].Value)}
			for _, w := range want {
				if !slices.Contains(charts.Texts[i], w) {
					t.Errorf("chart %q lacks the label %q: %q", charts.Titles[i], w, charts.Texts[i])
				}
			}
			if m.Threshold != nil && charts.Dashed[i] != 1 {
				t.Errorf("chart %q: %d threshold lines, want the threshold %v", charts.Titles[i], charts.Dashed[i], *m.Threshold)
			}
			if charts.Width[i] < 300 {
				t.Errorf("chart %q drawn %.0f pixels wide", charts.Titles[i], charts.Width[i])
			}
		}
		b.screenshot(t, shots, "timeline")
	})

	t.Run("decision", func(t *testing.T) {
		b.open(t, s.url+fmt.Sprintf("/models/%s/decisions/%d", model, h.allowed.Seq))
		if v := run(t, b, chromedp.Evaluate[string](`document.getElementById('verdict').textContent`)); v != "allowed" {
			t.Errorf("verdict %q", v)
		}
		d, _ := decisionOf(rep, h.allowed.Seq)
		cells := run(t, b, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#metrics tbody tr')].map(r => [...r.cells].map(c => c.textContent))`))
		for i, m := range d.Evidence.Metrics {
			if i >= len(cells) || cells[i][0] != m.Name || cells[i][1] != chart.Label(*m.Value) || cells[i][2] != chart.Label(*m.Baseline) {
				t.Errorf("metrics table %q, want %s %v %v in row %d", cells, m.Name, *m.Value, *m.Baseline, i)
			}
		}
		// Fairness per group and drift per column, each against its
		// threshold, labelled with the numbers the store holds.
		charts := b.charts(t, "#evidence-charts svg")
		chartOf := func(title string) int {
			t.Helper()
			i := slices.Index(charts.Titles, title)
			if i < 0 {
				t.Fatalf("no chart %q among %q", title, charts.Titles)
			}
			return i
		}
		wantLabels := func(i int, labels ...string) {
			t.Helper()
			for _, l := range labels {
				if !slices.Contains(charts.Texts[i], l) {
					t.Errorf("chart %q lacks the label %q: %q", charts.Titles[i], l, charts.Texts[i])
				}
			}
		}
		for _, f := range d.Evidence.Fairness {
			i := chartOf("Fairness by " + f.Attribute)
			for _, g := range f.Groups {
				wantLabels(i, g.Group, chart.Label(*g.SelectionRate), chart.Label(*g.TPR), chart.Label(*g.FPR))
			}
			if f.DisparateImpactMin == nil || charts.Dashed[i] != 1 || !slices.ContainsFunc(charts.Texts[i], func(s string) bool { return strings.HasPrefix(s, "lowest selection rate allowed ") }) {
				t.Errorf("chart %q: %d threshold lines, labels %q", charts.Titles[i], charts.Dashed[i], charts.Texts[i])
			}
		}
		i := chartOf("Drift per column")
		for _, c := range d.Evidence.Drift {
			wantLabels(i, chart.Label(*c.Statistic), "threshold "+chart.Label(*c.Threshold))
		}
		if charts.Dashed[i] != len(d.Evidence.Drift) {
			t.Errorf("drift chart: %d threshold lines for %d columns", charts.Dashed[i], len(d.Evidence.Drift))
		}
		b.screenshot(t, shots, "decision")
	})

	t.Run("no script, no violation", func(t *testing.T) {
		if n := run(t, b, chromedp.Evaluate[int](`document.scripts.length`)); n != 0 {
			t.Errorf("%d scripts on the page", n)
		}
		if c := b.complaints(); len(c) > 0 {
			t.Errorf("the console complained:\n%s", strings.Join(c, "\n"))
		}
	})

	t.Run("tampered store", func(t *testing.T) {
		tampered := gatedStore(t)
		tamper(t, tampered, "UPDATE audit_records SET actor = 'mallory' WHERE seq = ?", tampered.denied.Seq)
		// Another host, so that the browser holds a session for each.
		ts := newSiteAt(t, tampered.db, "localhost")
		ts.gh.SignIn("rita")
		for _, p := range append(tampered.pages(), "/models/absent") {
			b.open(t, ts.url+p)
			c := b.chain(t)
			if c.Intact != "false" || !strings.Contains(c.Text, fmt.Sprintf("Audit chain BROKEN at record #%d", tampered.denied.Seq)) || c.Background != "rgb(255, 235, 233)" {
				t.Errorf("%s: chain status %+v", p, c)
			}
		}
		b.open(t, ts.url+"/models/"+model)
		b.screenshot(t, shots, "tampered")
	})
}

func decisionOf(rep *compliance.Report, seq int64) (compliance.Decision, bool) {
	for _, v := range rep.Versions {
		for _, st := range v.Stages {
			for _, p := range st.Proposals {
				for _, d := range p.Decisions {
					if d.Seq == seq {
						return d, true
					}
				}
			}
		}
	}
	return compliance.Decision{}, false
}
