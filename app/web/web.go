// Package web is the reviewers' web UI and JSON API: the models in the audit
// log, each model's timeline across its stages, a version's history, a
// decision with its inputs, messages and evidence, charts of the evidence
// drawn on the server as SVG, and every format of the compliance report for
// download.
//
// Everything is read from the audit store alone, through package
// compliance, so that what a reviewer sees is what the audit report says and
// can be reproduced after GitHub has forgotten the pull request. Every page
// and every API answer carries the result of verifying the audit chain.
//
// Pages load nothing but the server's own stylesheet: no script runs, and the
// Content-Security-Policy says so, so that text from the audit log (which
// pull request authors write) can never become code in a reviewer's browser.
package web

import (
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/modelgate/modelgate/internal/compliance"
)

// Store is the audit store the UI reads. It is used concurrently.
type Store interface {
	compliance.Store
	// Models lists the models the log holds records of, in name order.
	Models(ctx context.Context) ([]string, error)
}

// Config holds the UI's dependencies.
type Config struct {
	Store Store
	Log   *slog.Logger
	// Now stamps the reports (default time.Now).
	Now func() time.Time
}

// UI serves the reviewers' pages and API. It is safe for concurrent use.
type UI struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	pages *template.Template
}

//go:embed templates/*.tmpl
var templateFiles embed.FS

//go:embed assets/web.css
var stylesheet []byte

// stylesheetPath carries the stylesheet's digest, so that it can be cached
// for good and a new release is never shown with the old one.
var stylesheetPath = func() string {
	sum := sha256.Sum256(stylesheet)
	return "/assets/web-" + hex.EncodeToString(sum[:6]) + ".css"
}()

// pagePolicy lets a page load its stylesheet from the server and nothing
// else: no script, no inline style, no frame, no form posted elsewhere.
const pagePolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// downloadPolicy is the HTML report's own policy, for a report opened
// from the download: its style is inline, and it runs in a sandbox.
const downloadPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

// New returns the UI.
func New(cfg Config) (*UI, error) {
	if cfg.Store == nil {
		return nil, errors.New("web UI: Store is required")
	}
	pages, err := template.New("pages").Funcs(funcs).ParseFS(templateFiles, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("web UI: %w", err)
	}
	u := &UI{store: cfg.Store, log: cmp.Or(cfg.Log, slog.Default()), now: cfg.Now, pages: pages}
	if u.now == nil {
		u.now = time.Now
	}
	return u, nil
}

// Register adds the pages to pages, a group at the root, and the JSON API
// to api, the group of access.APIPrefix; both groups are expected behind
// the reviewers' guard (access.Access.Mount).
func (u *UI) Register(pages, api *gin.RouterGroup) {
	pages.GET(stylesheetPath, func(c *gin.Context) {
		c.Header("Cache-Control", "private, max-age=31536000, immutable")
		c.Header("X-Content-Type-Options", "nosniff")
		c.Data(http.StatusOK, "text/css; charset=utf-8", stylesheet)
	})
	// Browsers ask for an icon whatever the page says; there is none.
	pages.GET("/favicon.ico", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	pages.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/models") })
	pages.GET("/models", u.modelsPage)
	pages.GET("/models/:model", u.modelPage)
	pages.GET("/models/:model/versions/:version", u.versionPage)
	pages.GET("/models/:model/decisions/:seq", u.decisionPage)
	pages.GET("/models/:model/report/:format", u.download)

	api.GET("/models", u.apiModels)
	api.GET("/models/:model/versions", u.apiVersions)
	api.GET("/models/:model/versions/:version", u.apiVersion)
	api.GET("/models/:model/decisions/:seq", u.apiDecision)
	api.GET("/models/:model/report", u.apiReport)
}

// load reads a model's report (of one version when version is not empty).
func (u *UI) load(ctx context.Context, model, version string) (*compliance.Report, error) {
	return compliance.Load(ctx, u.store, compliance.Query{Model: model, Version: version}, u.now())
}

// failure is an answer other than the page asked for.
type failure struct {
	status  int
	message string
}

// fail turns an error of the store into what the reviewer is told: not
// found for a model or version the log knows nothing of, and otherwise an
// error whose detail goes to the log only.
func (u *UI) fail(c *gin.Context, err error) failure {
	if errors.Is(err, compliance.ErrNoRecords) {
		return failure{http.StatusNotFound, "The audit log holds no records of " + describe(c) + "."}
	}
	u.log.Error("read the audit store", "path", c.Request.URL.Path, "err", err)
	return failure{http.StatusInternalServerError, "The audit store could not be read. Try again shortly."}
}

func describe(c *gin.Context) string {
	s := "model " + c.Param("model")
	if v := cmp.Or(c.Param("version"), c.Query("version")); v != "" {
		s += " version " + v
	}
	return s
}

// models lists the models of the log, and the chain's status.
func (u *UI) models(ctx context.Context) ([]string, compliance.Chain, error) {
	models, err := u.store.Models(ctx)
	if err != nil {
		return nil, compliance.Chain{}, err
	}
	chain, err := compliance.VerifyChain(ctx, u.store)
	return models, chain, err
}

// version reads the report of the request's :model restricted to its
// :version.
func (u *UI) version(c *gin.Context) (*compliance.Report, compliance.Version, *failure) {
	version := c.Param("version")
	rep, err := u.load(c.Request.Context(), c.Param("model"), version)
	if err != nil {
		f := u.fail(c, err)
		return nil, compliance.Version{}, &f
	}
	i := slices.IndexFunc(rep.Versions, func(v compliance.Version) bool { return v.Version == version })
	if i < 0 {
		return nil, compliance.Version{}, &failure{http.StatusNotFound, "The audit log holds no records of " + describe(c) + "."}
	}
	return rep, rep.Versions[i], nil
}

// decision reads the report of the request's :model and finds in it the
// decision recorded as :seq.
func (u *UI) decision(c *gin.Context) (*compliance.Report, located, *failure) {
	seq, ok := seqParam(c)
	if !ok {
		return nil, located{}, &failure{http.StatusNotFound, "A decision is named by the number of its audit record."}
	}
	rep, err := u.load(c.Request.Context(), c.Param("model"), "")
	if err != nil {
		f := u.fail(c, err)
		return nil, located{}, &f
	}
	d, ok := findDecision(rep, seq)
	if !ok {
		return nil, located{}, &failure{http.StatusNotFound, "Model " + rep.Model + " has no decision recorded as record #" + c.Param("seq") + "."}
	}
	return rep, d, nil
}

// seqParam reads the :seq of a decision's route.
func seqParam(c *gin.Context) (int64, bool) {
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	return seq, err == nil && seq > 0
}

// reportFormats are the formats of the report, in the order offered.
var reportFormats = []string{compliance.FormatHTML, compliance.FormatPDF, compliance.FormatMarkdown, compliance.FormatJSON}

var contentTypes = map[string]string{
	compliance.FormatHTML:     "text/html; charset=utf-8",
	compliance.FormatPDF:      "application/pdf",
	compliance.FormatMarkdown: "text/markdown; charset=utf-8",
	compliance.FormatJSON:     "application/json; charset=utf-8",
}

// writeReport answers with the report in format, as a file to save.
func (u *UI) writeReport(c *gin.Context, rep *compliance.Report, format string) {
	name := fileName(rep.Model)
	if rep.Version != "" {
		name += "-" + fileName(rep.Version)
	}
	var body strings.Builder
	if err := rep.Render(&body, format); err != nil {
		u.log.Error("render a compliance report", "model", rep.Model, "format", format, "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "the report could not be rendered"})
		return
	}
	c.Header("Content-Security-Policy", downloadPolicy)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", `attachment; filename="`+name+"-compliance."+format+`"`)
	c.Data(http.StatusOK, contentTypes[format], []byte(body.String()))
}

// fileName keeps the characters of a name that are safe in a file name and
// in a quoted header value.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}
