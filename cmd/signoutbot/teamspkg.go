package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/url"
	"os"
	"regexp"

	"github.com/spf13/cobra"
)

// teamsManifestVersion is the Teams app manifest schema the package is written for.
const teamsManifestVersion = "1.22"

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type teamsPackageConfig struct {
	appID, out, name, version, developer, website, privacy, terms string
}

func newTeamsPackageCmd() *cobra.Command {
	var c teamsPackageConfig
	cmd := &cobra.Command{
		Use:   "teams-package",
		Short: "Write the Teams app package (manifest.json and icons, zipped) to upload to Teams",
		Long: `teams-package writes a Teams app package for signoutbot: manifest.json (app manifest schema v` + teamsManifestVersion + `)
with a bot in the team, groupChat and personal scopes (personal chat is where the bot tells a person things
privately, so a team-only bot would lose those replies), its command list, and the colour and outline icons.
Upload it in Teams (Apps → Manage your apps → Upload an app) or through the Teams admin center.`,
		Example: `  signoutbot teams-package --app-id 6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f --website https://signoutbot.contoso.com`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Create(c.out)
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if err := writeTeamsPackage(f, c); err != nil {
				f.Close()
				os.Remove(c.out)
				return err
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (Teams app %s, bot %s)\n", c.out, c.appID, c.appID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.appID, "app-id", os.Getenv("MICROSOFT_APP_ID"), "the bot's Microsoft app id (MICROSOFT_APP_ID): an Entra application (client) id")
	fl.StringVar(&c.out, "out", "signoutbot-teams.zip", "the package file to write")
	fl.StringVar(&c.name, "name", "signoutbot", "the app's name in Teams (at most 30 characters)")
	fl.StringVar(&c.version, "package-version", "1.0.0", "the package version (raise it for every upload of a changed package)")
	fl.StringVar(&c.developer, "developer", "IT Helpdesk", "who publishes the app in your organization")
	fl.StringVar(&c.website, "website", "https://signoutbot.example.com", "https URL of a page about the bot in your organization")
	fl.StringVar(&c.privacy, "privacy-url", "", "https URL of the privacy statement (default: --website)")
	fl.StringVar(&c.terms, "terms-url", "", "https URL of the terms of use (default: --website)")
	return cmd
}

func (c *teamsPackageConfig) validate() error {
	var problems []error
	if !guidRE.MatchString(c.appID) {
		problems = append(problems, fmt.Errorf("--app-id %q is not an app id (a GUID such as 6f1c0d2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f, "+
			"the Azure Bot's Microsoft App ID)", c.appID))
	}
	if c.name == "" || len([]rune(c.name)) > 30 {
		problems = append(problems, errors.New("--name must be 1 to 30 characters"))
	}
	if c.privacy == "" {
		c.privacy = c.website
	}
	if c.terms == "" {
		c.terms = c.website
	}
	for flag, v := range map[string]string{"--website": c.website, "--privacy-url": c.privacy, "--terms-url": c.terms} {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			problems = append(problems, fmt.Errorf("%s %q must be an https URL (Teams refuses others)", flag, v))
		}
	}
	return errors.Join(problems...)
}

// teamsManifest builds manifest.json. The bot's scopes include personal: Teams has no ephemeral messages in a
// channel, so whatever the bot tells one person alone goes to their personal chat with it.
func teamsManifest(c teamsPackageConfig) map[string]any {
	commands := []map[string]string{
		{"title": "signout user", "description": "Sign out users by UPN, e-mail or object id (a second admin approves)"},
		{"title": "signout group", "description": "Sign out every member of a group (a second admin approves)"},
		{"title": "signout match", "description": "Sign out users whose display name contains text"},
		{"title": "signout status", "description": "A user's sessions-valid-from time and this bot's history for them"},
		{"title": "signout deny", "description": "Deny a pending request, with a reason"},
		{"title": "signout cancel", "description": "Withdraw a pending request"},
		{"title": "signout help", "description": "Every form with examples"},
	}
	return map[string]any{
		"$schema":         "https://developer.microsoft.com/json-schemas/teams/v" + teamsManifestVersion + "/MicrosoftTeams.schema.json",
		"manifestVersion": teamsManifestVersion,
		"version":         c.version,
		"id":              c.appID,
		"developer": map[string]string{"name": c.developer, "websiteUrl": c.website, "privacyUrl": c.privacy,
			"termsOfUseUrl": c.terms},
		"name": map[string]string{"short": c.name, "full": c.name + ": sign Microsoft 365 users out, approved by a second admin"},
		"description": map[string]string{
			"short": "Sign users out of Microsoft 365, approved by a second admin",
			"full": "Helpdesk admins ask signoutbot to sign users out (one user, a group or a name match); a second admin " +
				"approves; the bot revokes their sessions through Microsoft Graph, confirms it from Graph, and says when every " +
				"access token issued before has expired. Every step is audited.",
		},
		"icons":       map[string]string{"color": "color.png", "outline": "outline.png"},
		"accentColor": "#4A154B",
		"bots": []map[string]any{{
			"botId":              c.appID,
			"scopes":             []string{"team", "groupChat", "personal"},
			"isNotificationOnly": false,
			"supportsFiles":      false,
			"commandLists": []map[string]any{
				{"scopes": []string{"team", "groupChat", "personal"}, "commands": commands},
			},
		}},
		"permissions":  []string{"identity", "messageTeamMembers"},
		"validDomains": []string{},
	}
}

func writeTeamsPackage(w io.Writer, c teamsPackageConfig) error {
	if err := c.validate(); err != nil {
		return err
	}
	manifest, err := json.MarshalIndent(teamsManifest(c), "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {"color.png", icon(192, false)}, {"outline.png", icon(32, true)}}
	z := zip.NewWriter(w)
	for _, f := range files {
		fw, err := z.Create(f.name)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return z.Close()
}

// icon draws the app's icon: a door with an arrow out of it. Teams wants the colour icon 192×192 in full colour
// and the outline icon 32×32 in white on a transparent background.
func icon(size int, outline bool) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{0x4A, 0x15, 0x4B, 0xFF}
	fg := color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	if outline {
		bg = color.NRGBA{}
	}
	s := func(f float64) int { return int(f * float64(size)) }
	for y := range size {
		for x := range size {
			c := bg
			door := x >= s(0.22) && x <= s(0.52) && y >= s(0.18) && y <= s(0.82)
			inside := x > s(0.22)+max(1, s(0.04)) && x < s(0.52)-max(1, s(0.04)) && y > s(0.18)+max(1, s(0.04))
			arrow := y >= s(0.46) && y <= s(0.54) && x >= s(0.45) && x <= s(0.80)
			head := x >= s(0.68) && x <= s(0.84) && abs(y-s(0.5)) <= s(0.84)-x
			if (door && !inside) || arrow || head {
				c = fg
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // encoding an in-memory image cannot fail
	return b.Bytes()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
