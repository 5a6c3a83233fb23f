package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/app/access"
)

// reviewerFlags are serve's settings of the reviewers' sign-in.
type reviewerFlags struct {
	clientID, secretFile, keyFile, publicURL *string
	teams                                    teamList
	c                                        *cli
}

func (c *cli) reviewerFlags(fl *pflag.FlagSet) *reviewerFlags {
	r := &reviewerFlags{c: c}
	r.clientID = fl.String("oauth-client-id", c.getenv("MODELGATE_OAUTH_CLIENT_ID"), "the App's OAuth client ID, for the reviewers' sign-in (env MODELGATE_OAUTH_CLIENT_ID)")
	r.secretFile = fl.String("oauth-client-secret-file", c.getenv("MODELGATE_OAUTH_CLIENT_SECRET_FILE"), "a file holding the App's OAuth client secret (env MODELGATE_OAUTH_CLIENT_SECRET_FILE)")
	r.keyFile = fl.String("session-key-file", c.getenv("MODELGATE_SESSION_KEY_FILE"), fmt.Sprintf("a file of at least %d bytes that signs and encrypts the reviewers' session cookies (env MODELGATE_SESSION_KEY_FILE)", access.MinKeyLength))
	r.publicURL = fl.String("public-url", c.getenv("MODELGATE_PUBLIC_URL"), "the App's base URL as browsers reach it; the OAuth callback is its /callback (env MODELGATE_PUBLIC_URL)")
	fl.Var(&r.teams, "reviewer-team", "ORG/TEAM whose members may read the reviewers' UI and API; repeatable (env MODELGATE_REVIEWER_TEAMS, comma-separated)")
	return r
}

// config returns the sign-in's configuration, or nil when none of it is
// set: the reviewers' UI is then not served. Part of it set is an error,
// never a UI served open.
func (r *reviewerFlags) config() (*access.Config, error) {
	teams := r.teams
	if len(teams) == 0 {
		for s := range strings.FieldsFuncSeq(r.c.getenv("MODELGATE_REVIEWER_TEAMS"), func(c rune) bool { return c == ',' || c == ' ' }) {
			if err := teams.Set(s); err != nil {
				return nil, fmt.Errorf("MODELGATE_REVIEWER_TEAMS: %w", err)
			}
		}
	}
	settings := []struct{ name, value string }{
		{"--oauth-client-id (MODELGATE_OAUTH_CLIENT_ID)", *r.clientID},
		{"--oauth-client-secret-file (MODELGATE_OAUTH_CLIENT_SECRET_FILE)", *r.secretFile},
		{"--session-key-file (MODELGATE_SESSION_KEY_FILE)", *r.keyFile},
		{"--reviewer-team (MODELGATE_REVIEWER_TEAMS)", strings.Join(teams.names(), ",")},
	}
	var missing []string
	for _, s := range settings {
		if s.value == "" {
			missing = append(missing, s.name)
		}
	}
	// The public URL alone is no sign-in setting: it is also the audience
	// of evidence uploads.
	if len(missing) == len(settings) {
		return nil, nil
	}
	if *r.publicURL == "" {
		missing = append(missing, "--public-url (MODELGATE_PUBLIC_URL)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the reviewers' sign-in is partly configured: %s missing", strings.Join(missing, ", "))
	}
	secret, err := readSecret(*r.secretFile, "OAuth client secret")
	if err != nil {
		return nil, err
	}
	key, err := readSecret(*r.keyFile, "session key")
	if err != nil {
		return nil, err
	}
	return &access.Config{ClientID: *r.clientID, ClientSecret: string(secret), SessionKey: key, PublicURL: *r.publicURL, Teams: teams}, nil
}

// readSecret reads a secret file, less its final line break.
func readSecret(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the %s: %w", what, err)
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// teamList is a repeatable ORG/TEAM flag.
type teamList []access.Team

func (l *teamList) String() string { return strings.Join(l.names(), ",") }

func (l *teamList) Type() string { return "ORG/TEAM" }

func (l teamList) names() []string {
	var out []string
	for _, t := range l {
		out = append(out, t.String())
	}
	return out
}

func (l *teamList) Set(s string) error {
	t, err := access.ParseTeam(s)
	if err != nil {
		return err
	}
	*l = append(*l, t)
	return nil
}
