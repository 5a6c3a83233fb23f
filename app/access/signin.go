package access

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"
)

// login starts the sign-in: it binds a fresh state to this browser in the
// state cookie and sends the browser to GitHub's authorization page.
func (a *Access) login(c *gin.Context) {
	now := a.now()
	st := oauthState{State: rand.Text(), Next: localPath(c.Query("next")), Expires: now.Add(stateLifetime).Unix()}
	if err := a.cookies.write(c.Writer, a.cookies.stateName, st, stateLifetime); err != nil {
		a.log.Error("start a reviewer sign-in", "err", err)
		a.page(c, http.StatusInternalServerError, "The sign-in could not be started.", false)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, a.oauth.AuthCodeURL(st.State))
}

// callback finishes the sign-in: the state GitHub returns must be the one
// this browser's state cookie holds, the code is exchanged for the user's
// token server-side, and the user must be a member of a reviewer team.
func (a *Access) callback(c *gin.Context) {
	now := a.now()
	st, err := a.cookies.readState(c.Request, c.Query("state"), now)
	a.cookies.clear(c.Writer, a.cookies.stateName) // a state serves once
	if err != nil {
		a.log.Warn("reviewer sign-in refused", "reason", "state: "+err.Error())
		a.page(c, http.StatusForbidden, "This sign-in was not started by this browser, or took too long.", true)
		return
	}
	if e := c.Query("error"); e != "" {
		a.log.Warn("reviewer sign-in refused", "reason", "GitHub: "+e)
		a.page(c, http.StatusForbidden, "GitHub did not authorize the sign-in ("+e+").", true)
		return
	}
	code := c.Query("code")
	if code == "" {
		a.page(c, http.StatusForbidden, "GitHub sent no authorization code.", true)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), githubTimeout)
	defer cancel()
	tok, err := a.oauth.Exchange(context.WithValue(ctx, oauth2.HTTPClient, a.client), code)
	if err != nil {
		a.log.Warn("reviewer sign-in refused", "reason", "code exchange: "+exchangeError(err))
		a.page(c, http.StatusForbidden, "GitHub did not accept the sign-in.", true)
		return
	}
	login, member, err := a.members.identify(ctx, tok.AccessToken)
	switch {
	case errors.Is(err, errBadToken):
		a.log.Warn("reviewer sign-in refused", "reason", "GitHub refused the token it issued")
		a.page(c, http.StatusForbidden, "GitHub did not accept the sign-in.", true)
		return
	case err != nil:
		a.log.Error("reviewer sign-in", "login", login, "err", err)
		a.page(c, http.StatusServiceUnavailable, "Your team membership could not be confirmed with GitHub. Try again shortly.", true)
		return
	case !member:
		a.log.Warn("reviewer sign-in refused", "login", login, "reason", "not a member of a reviewer team")
		a.page(c, http.StatusForbidden, "You are not a member of the reviewer teams.", true)
		return
	}
	lifetime := a.cfg.SessionLifetime
	if !tok.Expiry.IsZero() {
		// oauth2 dates the token's expiry by the wall clock.
		lifetime = min(lifetime, time.Until(tok.Expiry))
	}
	s := session{Login: login, Token: tok.AccessToken, CSRF: rand.Text(), Expires: now.Add(lifetime).Unix(), Checked: now.Unix()}
	if err := a.cookies.writeSession(c.Writer, s, now); err != nil {
		a.log.Error("reviewer sign-in", "login", login, "err", err)
		a.page(c, http.StatusInternalServerError, "The session could not be created.", false)
		return
	}
	a.log.Info("reviewer signed in", "login", login)
	c.Redirect(http.StatusSeeOther, st.Next)
}

// exchangeError describes a failed code exchange by GitHub's error code,
// never by the response, which could hold a token.
func exchangeError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return re.ErrorCode
		}
		if re.Response != nil {
			return re.Response.Status
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "no token in GitHub's answer"
}

// logout ends the browser's session. The guard has checked its CSRF token:
// no other site can sign a reviewer out.
func (a *Access) logout(c *gin.Context) {
	a.cookies.clear(c.Writer, a.cookies.sessionName)
	r, _ := ReviewerOf(c)
	a.log.Info("reviewer signed out", "login", r.Login)
	a.page(c, http.StatusOK, "You have signed out of modelgate.", true)
}

// localPath returns next when it is a path on this host, and "/" otherwise:
// the sign-in never sends a browser to another site.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	return next
}
