package web

import (
	"net/http"
	"slices"

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
	ctx := c.Request.Context()
	models, err := u.store.Models(ctx)
	if err != nil {
		u.apiFail(c, u.fail(c, err))
		return
	}
	chain, err := compliance.VerifyChain(ctx, u.store)
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
	model, version := c.Param("model"), c.Param("version")
	rep, err := u.load(c.Request.Context(), model, version)
	if err != nil {
		u.apiFail(c, u.fail(c, err))
		return
	}
	i := slices.IndexFunc(rep.Versions, func(v compliance.Version) bool { return v.Version == version })
	if i < 0 {
		u.apiFail(c, failure{http.StatusNotFound, "The audit log holds no records of " + describe(c) + "."})
		return
	}
	c.JSON(http.StatusOK, gin.H{"chain": rep.Chain, "model": model, "version": rep.Versions[i]})
}

func (u *UI) apiDecision(c *gin.Context) {
	seq, ok := seqParam(c)
	if !ok {
		u.apiFail(c, failure{http.StatusNotFound, "a decision is named by the number of its audit record"})
		return
	}
	rep, err := u.load(c.Request.Context(), c.Param("model"), "")
	if err != nil {
		u.apiFail(c, u.fail(c, err))
		return
	}
	d, ok := findDecision(rep, seq)
	if !ok {
		u.apiFail(c, failure{http.StatusNotFound, "model " + rep.Model + " has no decision recorded as record #" + c.Param("seq")})
		return
	}
	c.JSON(http.StatusOK, gin.H{"chain": rep.Chain, "model": rep.Model, "version": d.Version, "stage": d.Stage,
		"verified": rep.Chain.Verifies(seq), "decision": d.Decision})
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
