package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// The package is a zip Teams accepts: manifest.json in a current schema with the bot in the team, groupChat and
// personal scopes and its commands, and icons of the sizes and colours Teams requires.
func TestTeamsPackage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pkg.zip")
	root := newRoot()
	root.SetArgs([]string{"teams-package", "--app-id", "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f", "--out", out,
		"--website", "https://signoutbot.contoso.com"})
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	z, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	files := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(r)
		r.Close()
	}
	var m struct {
		Schema          string `json:"$schema"`
		ManifestVersion string
		ID              string
		Developer       struct{ WebsiteURL, PrivacyURL, TermsOfUseURL string }
		Icons           struct{ Color, Outline string }
		Bots            []struct {
			BotID        string
			Scopes       []string
			CommandLists []struct {
				Commands []struct{ Title string }
			}
		}
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if !strings.Contains(m.Schema, "v"+m.ManifestVersion+"/") || m.ManifestVersion != teamsManifestVersion ||
		m.ID != "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f" || m.Developer.PrivacyURL != "https://signoutbot.contoso.com" {
		t.Errorf("manifest: %+v", m)
	}
	if len(m.Bots) != 1 || m.Bots[0].BotID != m.ID || strings.Join(m.Bots[0].Scopes, ",") != "team,groupChat,personal" {
		t.Fatalf("bots: %+v", m.Bots)
	}
	if len(m.Bots[0].CommandLists) != 1 || len(m.Bots[0].CommandLists[0].Commands) < 5 {
		t.Errorf("command list: %+v", m.Bots[0].CommandLists)
	}
	for name, size := range map[string]int{m.Icons.Color: 192, m.Icons.Outline: 32} {
		img, err := png.Decode(bytes.NewReader(files[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("%s is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), size, size)
		}
		if name == m.Icons.Outline {
			for y := range size {
				for x := range size {
					r, g, b, a := img.At(x, y).RGBA()
					if a != 0 && (r != 0xffff || g != 0xffff || b != 0xffff) {
						t.Fatalf("outline icon has a pixel that is neither white nor transparent at %d,%d", x, y)
					}
				}
			}
		}
	}
}

func TestTeamsPackageRefusesBadInput(t *testing.T) {
	for _, args := range [][]string{{"--app-id", "not-a-guid"}, {"--app-id", "6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f", "--website", "http://x"}} {
		out := filepath.Join(t.TempDir(), "pkg.zip")
		root := newRoot()
		root.SetArgs(append([]string{"teams-package", "--out", out}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
		if _, err := zip.OpenReader(out); err == nil {
			t.Errorf("%v: a package was left behind", args)
		}
	}
}
