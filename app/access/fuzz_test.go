package access

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzCookies feeds the session and state cookies, and the state GitHub
// returns, arbitrary bytes: nothing panics, and nothing but the cookies the
// server sealed is accepted.
func FuzzCookies(f *testing.F) {
	cs, err := newCookies([]byte(strings.Repeat("k", MinKeyLength)), false)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	sealed := func(name string, v any) string {
		value, err := cs.codec.Encode(name, v)
		if err != nil {
			f.Fatal(err)
		}
		return value
	}
	// Sealing draws a fresh IV, so each fuzzing process seals its own
	// copies: what is accepted must be what was sealed, whichever copy.
	sealedSession := session{Login: "rita", Token: "ghu_x", CSRF: "c", Expires: now.Unix() + 60, Checked: now.Unix()}
	sealedState := oauthState{State: "s", Next: "/", Expires: now.Unix() + 60}
	f.Add(sealed(cs.sessionName, sealedSession), sealed(cs.stateName, sealedState), "s", "/models")
	f.Add("", "", "", "//evil.example")
	f.Add("bm90IGEgc2Vzc2lvbg==", sealed(cs.stateName, sealedState), "t", "https://evil.example/")
	f.Fuzz(func(t *testing.T, sessionValue, stateValue, returned, next string) {
		r := &http.Request{Header: http.Header{}}
		r.AddCookie(&http.Cookie{Name: cs.sessionName, Value: sessionValue})
		r.AddCookie(&http.Cookie{Name: cs.stateName, Value: stateValue})
		if s, err := cs.readSession(r, now); err == nil && s != sealedSession {
			t.Errorf("session cookie %q accepted", sessionValue)
		}
		if st, err := cs.readState(r, returned, now); err == nil && (st != sealedState || st.State != returned) {
			t.Errorf("state cookie %q accepted for state %q", stateValue, returned)
		}
		if p := localPath(next); p != "/" && (p != next || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\")) {
			t.Errorf("localPath(%q) = %q", next, p)
		}
	})
}
