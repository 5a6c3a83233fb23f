package access

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// session is what a session cookie holds. It is encrypted: the browser can
// neither read the token nor change a field.
type session struct {
	Login string `json:"l"`
	// Token is the user's GitHub token, with which the membership is checked
	// again; it never leaves the cookie but towards GitHub.
	Token string `json:"t"`
	CSRF  string `json:"c"`
	// Expires ends the session; Checked is when the membership was last
	// confirmed. Both are Unix seconds on the server's clock.
	Expires int64 `json:"e"`
	Checked int64 `json:"k"`
}

// oauthState is what the state cookie holds between /login and /callback:
// the state sent to GitHub, which binds the authorization to this browser,
// and where to return after signing in.
type oauthState struct {
	State   string `json:"s"`
	Next    string `json:"n"`
	Expires int64  `json:"e"`
}

// stateLifetime is how long a browser has to come back from GitHub.
const stateLifetime = 10 * time.Minute

// cookies encodes the session and state cookies.
type cookies struct {
	codec                  *securecookie.SecureCookie
	secure                 bool
	sessionName, stateName string
}

func newCookies(key []byte, secure bool) (*cookies, error) {
	if len(key) < MinKeyLength {
		return nil, fmt.Errorf("reviewers' sign-in: the session key (MODELGATE_SESSION_KEY_FILE) has %d bytes; at least %d are required", len(key), MinKeyLength)
	}
	// One key from the operator, two for securecookie: deriving them keeps
	// the key that authenticates from being the one that encrypts.
	hashKey, err := hkdf.Key(sha256.New, key, nil, "modelgate session cookie HMAC", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, key, nil, "modelgate session cookie AES-256", 32)
	if err != nil {
		return nil, err
	}
	codec := securecookie.New(hashKey, blockKey)
	codec.SetSerializer(securecookie.JSONEncoder{})
	// Expiry is checked against the server's clock (Config.Now), inside the
	// cookie; securecookie's own check would read the wall clock instead.
	codec.MaxAge(0)
	c := &cookies{codec: codec, secure: secure, sessionName: "modelgate_session", stateName: "modelgate_oauth_state"}
	if secure {
		// __Host- cookies are Secure, for the whole host and no other: a
		// sibling subdomain cannot plant one.
		c.sessionName, c.stateName = "__Host-"+c.sessionName, "__Host-"+c.stateName
	}
	return c, nil
}

// errNoCookie is a request without the cookie; any other error is a cookie
// that is forged, tampered with, sealed with another key or expired.
var errNoCookie = errors.New("no cookie")

var errExpired = errors.New("expired")

func (cs *cookies) read(r *http.Request, name string, v any) error {
	ck, err := r.Cookie(name)
	if err != nil {
		return errNoCookie
	}
	if err := cs.codec.Decode(name, ck.Value, v); err != nil {
		return fmt.Errorf("cookie %s: %w", name, err)
	}
	return nil
}

func (cs *cookies) write(w http.ResponseWriter, name string, v any, maxAge time.Duration) error {
	value, err := cs.codec.Encode(name, v)
	if err != nil {
		return fmt.Errorf("cookie %s: %w", name, err)
	}
	http.SetCookie(w, cs.cookie(name, value, int(maxAge.Seconds())))
	return nil
}

func (cs *cookies) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, cs.cookie(name, "", -1))
}

func (cs *cookies) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: cs.secure, SameSite: http.SameSiteLaxMode}
}

// readSession decodes the session cookie and checks its expiry.
func (cs *cookies) readSession(r *http.Request, now time.Time) (session, error) {
	var s session
	if err := cs.read(r, cs.sessionName, &s); err != nil {
		return session{}, err
	}
	if s.Login == "" || s.Token == "" || s.CSRF == "" {
		return session{}, errors.New("session cookie: incomplete")
	}
	if now.Unix() >= s.Expires {
		return session{}, errExpired
	}
	return s, nil
}

func (cs *cookies) writeSession(w http.ResponseWriter, s session, now time.Time) error {
	return cs.write(w, cs.sessionName, s, time.Unix(s.Expires, 0).Sub(now))
}

// readState decodes the state cookie, checks its expiry and compares its
// state with the one GitHub sent back, in constant time.
func (cs *cookies) readState(r *http.Request, returned string, now time.Time) (oauthState, error) {
	var st oauthState
	if err := cs.read(r, cs.stateName, &st); err != nil {
		return oauthState{}, err
	}
	if now.Unix() >= st.Expires {
		return oauthState{}, errExpired
	}
	if st.State == "" || subtle.ConstantTimeCompare([]byte(st.State), []byte(returned)) != 1 {
		return oauthState{}, errors.New("the state GitHub returned is not this browser's")
	}
	return st, nil
}

// validCSRF compares a request's CSRF token with its session's, in constant
// time.
func validCSRF(s session, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(got)) == 1
}
