package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"

	"github.com/signoutbot/signoutbot/store"
)

// fileKeySecret names the download-link key in the store.
const fileKeySecret = "file-link-key"

// minFileKey is the shortest SIGNOUTBOT_FILE_KEY accepted: an HMAC key guessed is every report handed out.
const minFileKey = 32

// checkFileSettings reports what is wrong with SIGNOUTBOT_PUBLIC_URL and SIGNOUTBOT_FILE_KEY.
func (c serveConfig) checkFileSettings() []error {
	var problems []error
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, fmt.Errorf("SIGNOUTBOT_PUBLIC_URL: %q is not the bot's public address (e.g. https://signoutbot.contoso.com)", c.publicURL))
		}
	}
	if c.fileKey != "" && len(c.fileKey) < minFileKey {
		problems = append(problems, fmt.Errorf("SIGNOUTBOT_FILE_KEY must be at least %d characters (e.g. openssl rand -base64 32)", minFileKey))
	}
	return problems
}

// fileLinkKey is the key that signs report download links: SIGNOUTBOT_FILE_KEY, else one kept in the store, made
// by the first process that needed it, so that replicas sharing a database accept each other's links and a
// restart keeps the links already posted working.
func (c serveConfig) fileLinkKey(ctx context.Context, st store.Store) ([]byte, error) {
	if c.fileKey != "" {
		return []byte(c.fileKey), nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("file link key: %w", err)
	}
	key, err := st.Secret(ctx, fileKeySecret, fresh)
	if err != nil {
		return nil, fmt.Errorf("file link key: %w", err)
	}
	return key, nil
}

// publicBase is SIGNOUTBOT_PUBLIC_URL without a trailing slash.
func (c serveConfig) publicBase() string { return strings.TrimRight(c.publicURL, "/") }
