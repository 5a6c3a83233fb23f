package oidc

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

const (
	// maxJWKSBytes bounds the JWKS read: GitHub's is a few KiB.
	maxJWKSBytes = 1 << 20
	// minRSABits is the smallest RSA key whose signatures are believed.
	minRSABits = 2048
)

// keysFor returns the issuer's keys with id kid, fetching the JWKS (after the
// discovery document, the first time) when the cached copy lacks kid or is
// older than maxKeyAge, unless the issuer was asked less than
// refetchInterval ago.
func (v *Verifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	if keys := v.cached(kid); keys != nil {
		return keys, nil
	}
	select {
	case v.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the OIDC issuer's keys: %w", ctx.Err())
	}
	defer func() { <-v.fetching }()
	// Another request may have fetched them while this one waited.
	if keys := v.cached(kid); keys != nil {
		return keys, nil
	}

	now := v.now()
	v.mu.Lock()
	recent := !v.attempted.IsZero() && !now.Before(v.attempted) && now.Sub(v.attempted) < refetchInterval
	failure, fresh := v.failure, !v.fetched.IsZero() && now.Sub(v.fetched) < maxKeyAge
	jwksURL := v.jwksURL
	v.mu.Unlock()
	if recent {
		if failure != nil {
			return nil, fmt.Errorf("OIDC issuer %s: %w", v.issuer, failure)
		}
		if fresh {
			return nil, refuse(ReasonUnknownKey, "the issuer publishes no key %q", kid)
		}
	}

	// The fetch is the verifier's, not the request's: a caller that gives
	// up must not leave a failure every other request would be answered
	// with until the next attempt.
	fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	keys, jwksURL, err := v.fetch(fetchCtx, jwksURL)
	v.mu.Lock()
	v.attempted, v.failure, v.jwksURL = now, err, jwksURL
	if err == nil {
		v.keys, v.fetched = keys, now
	}
	v.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("OIDC issuer %s: %w", v.issuer, err)
	}
	if keys := withID(keys, kid); keys != nil {
		return keys, nil
	}
	return nil, refuse(ReasonUnknownKey, "the issuer publishes no key %q", kid)
}

// cached returns the cached keys with id kid if the copy is fresh.
func (v *Verifier) cached(kid string) []jose.JSONWebKey {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fetched.IsZero() || v.now().Sub(v.fetched) >= maxKeyAge {
		return nil
	}
	return withID(v.keys, kid)
}

func withID(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// fetch reads the JWKS, and first the discovery document when jwksURL is
// "". It returns the JWKS URL it used, "" when discovery failed, so that a
// document once had is not fetched again.
func (v *Verifier) fetch(ctx context.Context, jwksURL string) ([]jose.JSONWebKey, string, error) {
	if jwksURL == "" {
		provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, v.client), v.issuer)
		if err != nil {
			return nil, "", fmt.Errorf("discovery: %w", err)
		}
		var doc struct {
			JWKSURL string `json:"jwks_uri"`
		}
		if err := provider.Claims(&doc); err != nil {
			return nil, "", fmt.Errorf("discovery: %w", err)
		}
		if err := checkURL(doc.JWKSURL); err != nil {
			return nil, "", fmt.Errorf("discovery: jwks_uri: %w", err)
		}
		jwksURL = doc.JWKSURL
	}
	keys, err := v.fetchJWKS(ctx, jwksURL)
	if err != nil {
		return nil, jwksURL, fmt.Errorf("JWKS %s: %w", jwksURL, err)
	}
	return keys, jwksURL, nil
}

func (v *Verifier) fetchJWKS(ctx context.Context, jwksURL string) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("more than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS returns the RSA signing keys of a JWKS. Keys of other types,
// which no accepted algorithm could use, are left out rather than refused,
// as RFC 7517 section 5 asks.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	var keys []jose.JSONWebKey
	for i, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				continue
			}
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("key %q: %d-bit RSA, fewer than %d", k.KeyID, pub.N.BitLen(), minRSABits)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
