// Package webtest drives the App's pages in tests as a browser without
// JavaScript does: it keeps cookies, and follows redirects, across the App
// and the emulated GitHub, or stops at the first.
package webtest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// Browser is an HTTP client with a cookie jar. It fails its test on any
// error of transport, never on a status: statuses are what tests look at.
type Browser struct {
	*http.Client
	t testing.TB
}

// NewBrowser returns a browser with no cookies, which follows redirects when
// follow is set.
func NewBrowser(t testing.TB, follow bool) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &Browser{Client: c, t: t}
}

// Page is a response read in full.
type Page struct {
	Status int
	Header http.Header
	Body   string
	URL    *url.URL // where the request ended, after redirects
}

// Send sends a request, with form as its urlencoded body when not nil.
func (b *Browser) Send(method, target string, form url.Values, header map[string]string) Page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return Page{Status: resp.StatusCode, Header: resp.Header, Body: string(data), URL: resp.Request.URL}
}

// Open GETs a page.
func (b *Browser) Open(target string) Page {
	b.t.Helper()
	return b.Send(http.MethodGet, target, nil, nil)
}
