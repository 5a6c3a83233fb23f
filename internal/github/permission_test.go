package github

import (
	"context"
	"testing"
)

func TestPermission(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	for login, role := range map[string]string{"ada": "admin", "max": "maintain", "wes": "write", "tia": "triage"} {
		s.gh.SetRole(testRepo, login, role)
	}
	s.gh.AddUser("rex", "rex@example.com")
	tests := []struct {
		user string
		want Permission
		can  bool
	}{
		{"ada", Permission{"admin", "admin"}, true},
		{"max", Permission{"write", "maintain"}, true},
		{"wes", Permission{"write", "write"}, true},
		{"tia", Permission{"read", "triage"}, false},
		{"rex", Permission{"read", "read"}, false},
	}
	for _, tt := range tests {
		got, err := s.repo.Permission(ctx, tt.user)
		if err != nil || got != tt.want || got.CanWrite() != tt.can {
			t.Errorf("Permission(%s) = %+v (write %v), %v; want %+v (write %v)", tt.user, got, got.CanWrite(), err, tt.want, tt.can)
		}
	}
	if _, err := s.repo.Permission(ctx, "nobody-at-all"); StatusCode(err) != 404 {
		t.Errorf("Permission of an unknown user: err = %v; want 404", err)
	}
	if _, err := s.repo.Permission(ctx, ""); err == nil {
		t.Error("Permission of no user: no error")
	}
}

func TestDefaultBranchAndTip(t *testing.T) {
	ctx := context.Background()
	s := newPullScenario(t)
	branch, err := s.repo.DefaultBranch(ctx)
	if err != nil || branch != "main" {
		t.Errorf("DefaultBranch = %q, %v", branch, err)
	}
	for name, want := range map[string]string{"main": s.base, "promote": s.head} {
		if tip, err := s.repo.BranchTip(ctx, name); err != nil || tip != want {
			t.Errorf("BranchTip(%s) = %s, %v; want %s", name, tip, err, want)
		}
	}
	if _, err := s.repo.BranchTip(ctx, s.base); err == nil {
		t.Error("BranchTip of a commit SHA: no error")
	}
}
