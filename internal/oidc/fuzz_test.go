package oidc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/oidc"
	"github.com/modelgate/modelgate/internal/oidctest"
)

// FuzzVerify feeds bytes as a token to a verifier of a live loopback issuer:
// nothing panics, every refusal is an *oidc.Error (the issuer is up), and a
// token that verifies has every claim the App relies on.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	valid := fx.iss.Sign(fx.claims())
	f.Add([]byte(valid))
	f.Add([]byte(fx.iss.Sign(fx.claims(), oidctest.AlgNone())))
	f.Add([]byte(fx.iss.Sign(fx.claims(), oidctest.HS256WithPublicKey())))
	f.Add([]byte(fx.iss.Sign(fx.claims(), oidctest.KeyIDHeader("unknown"))))
	f.Add([]byte(fx.iss.Sign(fx.claims(), oidctest.SignedWith(oidctest.NewKey(f)))))
	parts := strings.Split(valid, ".")
	f.Add([]byte(parts[0] + "." + parts[1] + "."))
	f.Add([]byte(parts[0] + ".." + parts[2]))
	f.Add([]byte(`{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`))
	f.Add([]byte("e30.e30.e30"))
	f.Fuzz(func(t *testing.T, token []byte) {
		claims, err := fx.v.Verify(context.Background(), string(token))
		if err != nil {
			if _, ok := errors.AsType[*oidc.Error](err); !ok {
				t.Fatalf("Verify: %v is not an *oidc.Error though the issuer is up", err)
			}
			if claims != nil {
				t.Fatalf("claims %+v returned with %v", claims, err)
			}
			return
		}
		if claims.Issuer != fx.iss.URL || claims.Repository == "" || claims.RepositoryID == "" || claims.SHA == "" ||
			claims.Ref == "" || claims.JobWorkflowRef == "" || claims.RunID == "" || claims.ID == "" || claims.Expiry.IsZero() {
			t.Fatalf("verified claims lack what the App relies on: %+v", claims)
		}
	})
}
