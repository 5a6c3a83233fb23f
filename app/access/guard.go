package access

import (
	"context"
	"crypto/sha256"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// guardPage lets a request to a page through with a valid session and
// answers the others: 303 to /login without a session cookie, 403 with one
// that is invalid or expired, or whose user left the reviewer teams.
func (a *Access) guardPage(c *gin.Context) {
	if a.fromSession(c, false) {
		c.Next()
	}
}

// guardAPI lets a request to the API through with a valid session or a
// GitHub token of a reviewer, and answers the others with a JSON error: 401
// without a credential or with a token GitHub refuses, 403 for a refused
// session or a user outside the teams. EvidenceRoute authenticates its
// callers itself.
func (a *Access) guardAPI(c *gin.Context) {
	if c.Request.Method == http.MethodPost && c.FullPath() == EvidenceRoute {
		c.Next()
		return
	}
	if h := c.GetHeader("Authorization"); h != "" {
		if a.fromToken(c, h) {
			c.Next()
		}
		return
	}
	if a.fromSession(c, true) {
		c.Next()
	}
}

// fromSession checks the request's session cookie, confirms the membership
// when it is due, and checks the CSRF token of a state-changing request. It
// answers and aborts the request, and returns false, when any check fails.
func (a *Access) fromSession(c *gin.Context, api bool) bool {
	now := a.now()
	s, err := a.cookies.readSession(c.Request, now)
	switch {
	case errors.Is(err, errNoCookie):
		if api {
			a.deny(c, true, http.StatusUnauthorized, "sign in required: a session, or Authorization: Bearer with a GitHub token")
			return false
		}
		target := "/login"
		if c.Request.Method == http.MethodGet {
			target += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
		c.Redirect(http.StatusSeeOther, target)
		c.Abort()
		return false
	case err != nil:
		a.log.Warn("reviewer session refused", "reason", err.Error(), "path", c.Request.URL.Path)
		a.cookies.clear(c.Writer, a.cookies.sessionName)
		a.deny(c, api, http.StatusForbidden, "Your session is not valid or has expired. Sign in again.")
		return false
	}
	if now.Unix()-s.Checked >= int64(a.cfg.Recheck.Seconds()) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), githubTimeout)
		member, err := a.members.confirm(ctx, s.Token, s.Login)
		cancel()
		switch {
		case errors.Is(err, errBadToken):
			a.log.Warn("reviewer session refused", "login", s.Login, "reason", "GitHub no longer accepts the session's token")
			a.cookies.clear(c.Writer, a.cookies.sessionName)
			a.deny(c, api, http.StatusForbidden, "GitHub no longer accepts your sign-in. Sign in again.")
			return false
		case err != nil:
			a.log.Error("confirm a reviewer's team membership", "login", s.Login, "err", err)
			a.deny(c, api, http.StatusServiceUnavailable, "Your team membership could not be confirmed with GitHub. Try again shortly.")
			return false
		case !member:
			a.log.Warn("reviewer session refused", "login", s.Login, "reason", "no longer a member of a reviewer team")
			a.cookies.clear(c.Writer, a.cookies.sessionName)
			a.deny(c, api, http.StatusForbidden, "You are not a member of the reviewer teams.")
			return false
		}
		s.Checked = now.Unix()
		if err := a.cookies.writeSession(c.Writer, s, now); err != nil {
			a.log.Error("renew a reviewer session", "err", err)
			a.deny(c, api, http.StatusInternalServerError, "The session could not be renewed.")
			return false
		}
	}
	if stateChanging(c.Request.Method) {
		got := c.GetHeader(CSRFHeader)
		if got == "" {
			got = c.PostForm(CSRFField)
		}
		if !validCSRF(s, got) {
			a.log.Warn("request refused", "login", s.Login, "reason", "missing or wrong CSRF token", "method", c.Request.Method, "path", c.Request.URL.Path)
			a.deny(c, api, http.StatusForbidden, "The form's CSRF token is missing or wrong. Reload the page and try again.")
			return false
		}
	}
	c.Set(reviewerKey, Reviewer{Login: s.Login, Via: "session"})
	c.Set(csrfKey, s.CSRF)
	return true
}

// fromToken checks a GitHub token presented to the API: its user, asked of
// GitHub with the token itself, must be a member of a reviewer team. What
// GitHub said is kept for Config.TokenCache under the token's SHA-256.
func (a *Access) fromToken(c *gin.Context, header string) bool {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token") || token == "" {
		a.deny(c, true, http.StatusUnauthorized, "Authorization must be Bearer with a GitHub token")
		return false
	}
	now := a.now()
	key := sha256.Sum256([]byte(token))
	e, ok := a.tokens.get(key, now)
	if !ok {
		ctx, cancel := context.WithTimeout(c.Request.Context(), githubTimeout)
		login, member, err := a.members.identify(ctx, token)
		cancel()
		switch {
		case errors.Is(err, errBadToken):
			a.deny(c, true, http.StatusUnauthorized, "GitHub does not accept the token")
			return false
		case err != nil:
			a.log.Error("verify a GitHub token presented to the API", "login", login, "err", err)
			a.deny(c, true, http.StatusServiceUnavailable, "the token could not be verified with GitHub; try again shortly")
			return false
		}
		e = tokenEntry{login: login, member: member}
		a.tokens.put(key, e, now)
	}
	if !e.member {
		a.log.Warn("API request refused", "login", e.login, "reason", "not a member of a reviewer team")
		a.deny(c, true, http.StatusForbidden, "not a member of the reviewer teams")
		return false
	}
	c.Set(reviewerKey, Reviewer{Login: e.login, Via: "token"})
	return true
}

// deny answers and aborts a request: JSON for the API, a page otherwise.
func (a *Access) deny(c *gin.Context, api bool, status int, message string) {
	if api {
		if status == http.StatusUnauthorized {
			c.Header("WWW-Authenticate", `Bearer realm="modelgate"`)
		}
		c.AbortWithStatusJSON(status, gin.H{"error": message})
		return
	}
	a.page(c, status, message, status == http.StatusForbidden)
	c.Abort()
}

// notice is the page of the sign-in flow's answers.
var notice = template.Must(template.New("notice").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>modelgate</title></head>
<body><main><h1>modelgate</h1><p>{{.Message}}</p>{{if .SignIn}}<p><a href="/login">Sign in with GitHub</a></p>{{end}}</main></body></html>
`))

// page writes a notice, under a policy that lets the page load nothing.
func (a *Access) page(c *gin.Context, status int, message string, signIn bool) {
	c.Header("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := notice.Execute(c.Writer, struct {
		Message string
		SignIn  bool
	}{message, signIn}); err != nil {
		a.log.Warn("write a sign-in page", "err", err)
	}
}
