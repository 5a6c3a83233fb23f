package web

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/modelgate/modelgate/app/access"
	"github.com/modelgate/modelgate/internal/compliance"
)

// page is what every page shows around its content.
type page struct {
	Title      string
	Crumbs     []crumb
	Chain      compliance.Chain
	Reviewer   string
	CSRF       template.HTML
	Stylesheet string
	Content    any
}

type crumb struct{ Label, Href string }

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"num": func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		return formatNumber(*v)
	},
	"path":    pathEscape,
	"reports": reportLinks,
}

// reportLinks are the downloads of a model's report, of one version unless
// version is empty.
func reportLinks(model, version string) []crumb {
	var links []crumb
	for _, f := range reportFormats {
		href := "/models/" + pathEscape(model) + "/report/" + f
		if version != "" {
			href += "?version=" + url.QueryEscape(version)
		}
		links = append(links, crumb{f, href})
	}
	return links
}

func pathEscape(s string) string { return url.PathEscape(s) }

// render writes a page; name is its template.
func (u *UI) render(c *gin.Context, status int, name string, p page) {
	r, _ := access.ReviewerOf(c)
	p.Reviewer, p.CSRF, p.Stylesheet = r.Login, access.CSRFInput(c), stylesheetPath
	var buf bytes.Buffer
	if err := u.pages.ExecuteTemplate(&buf, name, p); err != nil {
		u.log.Error("render a page", "page", name, "err", err)
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString("The page could not be rendered.\n")
	}
	c.Header("Content-Security-Policy", pagePolicy)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// failPage answers with an error page, which shows the chain's status too
// when it can be had.
func (u *UI) failPage(c *gin.Context, f failure) {
	p := page{Title: "modelgate", Content: f.message}
	if chain, err := compliance.VerifyChain(c.Request.Context(), u.store); err == nil {
		p.Chain = chain
	} else {
		u.log.Error("verify the audit chain", "err", err)
		p.Chain = compliance.Chain{Reason: "the chain could not be verified"}
	}
	u.render(c, f.status, "error", p)
}

func modelsCrumb() crumb { return crumb{"Models", "/models"} }

func modelCrumb(model string) crumb { return crumb{model, "/models/" + pathEscape(model)} }

func (u *UI) modelsPage(c *gin.Context) {
	models, chain, err := u.models(c.Request.Context())
	if err != nil {
		u.failPage(c, u.fail(c, err))
		return
	}
	u.render(c, http.StatusOK, "models", page{Title: "Models", Crumbs: []crumb{modelsCrumb()}, Chain: chain, Content: models})
}

func (u *UI) modelPage(c *gin.Context) {
	rep, err := u.load(c.Request.Context(), c.Param("model"), "")
	if err != nil {
		u.failPage(c, u.fail(c, err))
		return
	}
	u.render(c, http.StatusOK, "model", page{Title: rep.Model, Crumbs: []crumb{modelsCrumb(), modelCrumb(rep.Model)},
		Chain: rep.Chain, Content: newModelView(rep)})
}

func (u *UI) versionPage(c *gin.Context) {
	rep, v, f := u.version(c)
	if f != nil {
		u.failPage(c, *f)
		return
	}
	u.render(c, http.StatusOK, "version", page{Title: rep.Model + " " + v.Version,
		Crumbs: []crumb{modelsCrumb(), modelCrumb(rep.Model), {v.Version, ""}}, Chain: rep.Chain,
		Content: newVersionView(rep, v)})
}

func (u *UI) decisionPage(c *gin.Context) {
	rep, d, f := u.decision(c)
	if f != nil {
		u.failPage(c, *f)
		return
	}
	title := "Decision #" + c.Param("seq")
	u.render(c, http.StatusOK, "decision", page{Title: title,
		Crumbs: []crumb{modelsCrumb(), modelCrumb(rep.Model),
			{d.Version, "/models/" + pathEscape(rep.Model) + "/versions/" + pathEscape(d.Version)}, {title, ""}},
		Chain: rep.Chain, Content: newDecisionView(rep, d)})
}

// download serves the report in the format of the path, of the version of
// the query (all versions when there is none).
func (u *UI) download(c *gin.Context) {
	format := c.Param("format")
	if contentTypes[format] == "" {
		u.failPage(c, failure{http.StatusNotFound, "Reports come as html, pdf, md or json."})
		return
	}
	rep, err := u.load(c.Request.Context(), c.Param("model"), c.Query("version"))
	if err != nil {
		u.failPage(c, u.fail(c, err))
		return
	}
	u.writeReport(c, rep, format)
}
