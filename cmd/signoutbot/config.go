package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// envFlag binds a flag whose default comes from an environment variable, so every setting can be given
// either way (flags win). The variable's name is part of the flag's help.
type envFlag struct {
	fs  *pflag.FlagSet
	env func(string) string
}

func (e envFlag) str(p *string, name, envName, def, usage string) {
	if v := e.env(envName); v != "" {
		def = v
	}
	e.fs.StringVar(p, name, def, usage+" ($"+envName+")")
}

func (e envFlag) dur(p *time.Duration, name, envName string, def time.Duration, usage string) error {
	if v := e.env(envName); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a duration like 30m or 2h: %w", envName, v, err)
		}
		def = d
	}
	e.fs.DurationVar(p, name, def, usage+" ($"+envName+")")
	return nil
}

func (e envFlag) num(p *float64, name, envName string, def float64, usage string) error {
	if v := e.env(envName); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%s=%q: not a number: %w", envName, v, err)
		}
		def = f
	}
	e.fs.Float64Var(p, name, def, usage+" ($"+envName+")")
	return nil
}

func (e envFlag) boolean(p *bool, name, envName string, def bool, usage string) error {
	if v := e.env(envName); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not 1/0 or true/false: %w", envName, v, err)
		}
		def = b
	}
	e.fs.BoolVar(p, name, def, usage+" ($"+envName+")")
	return nil
}

func (e envFlag) integer(p *int, name, envName string, def int, usage string) error {
	if v := e.env(envName); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a whole number: %w", envName, v, err)
		}
		def = n
	}
	e.fs.IntVar(p, name, def, usage+" ($"+envName+")")
	return nil
}

// list splits a setting on commas, semicolons and newlines; spaces stay, since group names have them.
func list(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// splitAdmins separates Slack user ids (U…, W…) from Slack user group ids (S…) in SIGNOUTBOT_ADMINS.
func splitAdmins(s string) (users, groups []string, err error) {
	for _, id := range strings.Fields(strings.Join(list(s), " ")) {
		switch {
		case len(id) >= 2 && (id[0] == 'U' || id[0] == 'W') && isSlackID(id):
			users = append(users, id)
		case len(id) >= 2 && id[0] == 'S' && isSlackID(id):
			groups = append(groups, id)
		default:
			return nil, nil, fmt.Errorf("SIGNOUTBOT_ADMINS: %q is not a Slack user id (U… or W…) or user group id (S…); "+
				"find ids in Slack under a profile's ⋮ menu → Copy member ID", id)
		}
	}
	return users, groups, nil
}

func isSlackID(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// loadCA reads SIGNOUTBOT_GRAPH_CA: extra roots to trust for Graph (a simulated tenant's certificate).
func loadCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SIGNOUTBOT_GRAPH_CA: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("SIGNOUTBOT_GRAPH_CA: no PEM certificate in " + path)
	}
	return pool, nil
}

func tlsConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
