package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/modelgate/modelgate/internal/compliance"
)

// The API's answers carry the chain's status beside what was asked for, as
// every page does: a client never reads a record without knowing whether the
// log still vouches for it.

func (u *UI) apiFail(c *gin.Context, f failure) {
	c.AbortWithStatusJSON(f.status, gin.H{"error": f.message})
}

func (u *UI) apiModels(c *gin.Context) {
	models, chain, err := u.models(c.Request.Context())
	if err != nil {
		u.apiFail(c, u.fail(c, err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"chain": chain, "models": models})
}

func (u *UI) apiVersions(c *gin.Context) {
	rep, err := u.load(c.Request.Context(), c.Param("model"), "")
	if err != nil {
		u.apiFail(c, u.fail(c, err))
		return
	}
	versions := []string{}
	for _, v := range rep.Versions {
		versions = append(versions, v.Version)
	}
	c.JSON(http.StatusOK, gin.H{"chain": rep.Chain, "model": rep.Model, "versions": versions, "summary": rep.Summary})
}

func (u *UI) apiVersion(c *gin.Context) {
	rep, v, f := u.version(c)
	if f != nil {
		u.apiFail(c, *f)
		return
	}
	c.JSON(http.StatusOK, gin.H{"chain": rep.Chain, "model": rep.Model, "version": v})
}

func (u *UI) apiDecision(c *gin.Context) {
	rep, d, f := u.decision(c)
	if f != nil {
		u.apiFail(c, *f)
		return
	}
	c.JSON(http.StatusOK, gin.H{"chain": rep.Chain, "model": rep.Model, "version": d.Version, "stage": d.Stage,
		"verified": rep.Chain.Verifies(d.Decision.Seq), "decision": d.Decision})
}

// apiReport answers with the report in the format of the query (json
// unless told), of the version of the query or of all.
func (u *UI) apiReport(c *gin.Context) {
	format := c.DefaultQuery("format", compliance.FormatJSON)
	if contentTypes[format] == "" {
		u.apiFail(c, failure{http.StatusBadRequest, "format must be html, pdf, md or json"})
		return
	}
	rep, err := u.load(c.Request.Context(), c.Param("model"), c.Query("version"))
	if err != nil {
		u.apiFail(c, u.fail(c, err))
		return
	}
	u.writeReport(c, rep, format)
}
