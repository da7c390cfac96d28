package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signoutbot/signoutbot/store/sqlite"
)

func TestFileSettings(t *testing.T) {
	tests := []struct {
		name, publicURL, key string
		problem              string // "" when fine
	}{
		{"neither", "", "", ""},
		{"an https address and a long key", "https://signoutbot.contoso.com/", strings.Repeat("k", 32), ""},
		{"a loopback http address", "http://127.0.0.1:8080", "", ""},
		{"no scheme", "signoutbot.contoso.com", "", "SIGNOUTBOT_PUBLIC_URL"},
		{"a query", "https://signoutbot.contoso.com/?x=1", "", "SIGNOUTBOT_PUBLIC_URL"},
		{"another scheme", "ftp://signoutbot.contoso.com", "", "SIGNOUTBOT_PUBLIC_URL"},
		{"a short key", "", "hunter2", "SIGNOUTBOT_FILE_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems := serveConfig{publicURL: tc.publicURL, fileKey: tc.key}.checkFileSettings()
			switch {
			case tc.problem == "" && len(problems) > 0:
				t.Errorf("refused: %v", problems)
			case tc.problem != "" && (len(problems) != 1 || !strings.Contains(problems[0].Error(), tc.problem)):
				t.Errorf("problems %v, want one naming %s", problems, tc.problem)
			}
		})
	}
}

// Without SIGNOUTBOT_FILE_KEY the key is made once and kept in the database: a restart, or another replica on the
// same database, signs and accepts the same links. With it, it is the key.
func TestFileLinkKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	key := func() []byte {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		k, err := serveConfig{}.fileLinkKey(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first, second := key(), key()
	if len(first) != 32 || string(first) != string(second) {
		t.Fatalf("keys %x and %x: want one 32-byte key kept across restarts", first, second)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set := strings.Repeat("s", 40)
	if k, err := (serveConfig{fileKey: set}).fileLinkKey(ctx, st); err != nil || string(k) != set {
		t.Fatalf("with SIGNOUTBOT_FILE_KEY: %q, %v", k, err)
	}
}
