package commands

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse checks the properties the rest of the bot relies on: Parse never
// panics, fails only with *Error, returns only Commands that are valid for
// their kind, and Command.String is read back as the same Command.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "help", "help gruop", "HELP Status extra words",
		"user lester@contoso.com", "user a@contoso.com, B@contoso.com;a@CONTOSO.com",
		"lester@contoso.com bob@contoso.com --reason left the company",
		"user jane_fabrikam.com#EXT#@contoso.onmicrosoft.com smtp:x@contoso.com " + guid,
		"group Migration Wave 1", `group "Migration Wave 1" -r="x y"`, `group Bob "The Boss" Team`,
		`group 'a "b" c'`, `group ''a "b" c''`, `group "'quoted'"`, `group say "hi" now --reason it's "done" now`,
		`group '"a b" c' --reason '"x" y'`, "group R&amp;D &lt;EU&gt;", "group R&amp;amp;D &amp",
		"match (Contractor) --reason=end of contract", "match a", `match " a "`,
		"status a@contoso.com", "status a@contoso.com b@contoso.com", "cancel r-7f3a9c", "cancel !!",
		"gruop Sales", "Lester Smith", "--reason x", "group Sales --reson x", "group Sales \u2014reason stolen",
		"<at>Signout Bot</at> user <mailto:a@contoso.com|a@contoso.com>",
		"<p><at>Bot</at>&nbsp;group R&amp;D</p><p>x</p>", "user <@U123|bob>", "user <at>Lester Smith</at>",
		"group \u201CSales\u201D --reason it\u2019s over", "user les\u200Bter@contoso.com", "group a&#7;b",
		`group "abc`, "user a@contoso.com\x01", "\xff", "group '", `group "`, `group ""x" y"`, "-r '' a@b.co",
		"/signout signout user a@contoso.com", "group <b>x</b> <br/>y", "group a <b", "match &lt;&lt;",
		"deny R7K3Q9P wrong group", "help deny", "help 0", `help "--x"`, `help "a b"`, "help 'x', y",
		// the cutover forms
		`group Migrated --at "2026-12-01 22:00"`, "group Migrated --at 2026-12-01 22:00 --reason wave 1",
		"user a@contoso.com --at=2026-12-01T22:00:05.5+01:00", "match Test --at tomorrow 06:00 Europe/Berlin",
		"a@contoso.com --at 'today 22:00 UTC'", "--at 2026-12-01 22:00 group X", `group X --at "2026-02-30 22:00"`,
		"plan group Migrated", "plan user a@x.com", "plan match Test --at today 23:59", "plan a@x.com", "plan plan", "plan status x",
		"schedule", "schedule group X", "policy", "policy reset", `policy set 10m --until "2026-12-03 09:00"`,
		"policy set 1 hour 30 min --until tomorrow 06:00 -r cutover", "policy set 9m --until today 22:00", "policy 1d",
		"policy set 1d", `policy set "2 hours" --until=2026-12-03T09:00Z`, "audit R7K3Q9P", "audit r7k3q9p",
		"audit lester@contoso.com", "audit R7K3Q9", "group X --until today 22:00",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not *Error: %v", text, err, err)
			}
			if pe.Msg == "" {
				t.Fatalf("Parse(%q) returned an *Error without a message", text)
			}
			return
		}
		if p := invalid(c); p != "" {
			t.Fatalf("Parse(%q) = %#v, which is invalid: %s", text, c, p)
		}
		s := c.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v; its String %q does not parse: %v", text, c, s, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip of Parse(%q) via %q:\n got %#v\nwant %#v", text, s, again, c)
		}
	})
}

// invalid checks the promises Parse makes about a Command, independently of
// how Parse arrives at it; it returns "" for a valid Command.
func invalid(c Command) string {
	// Fields of other kinds must be empty, so consumers can switch on Kind alone.
	other := c
	other.Kind, other.Reason = 0, ""
	if c.Kind.revokes() {
		other.Plan, other.At = false, ""
		if c.At != "" {
			if _, err := ParseWhen(c.At, time.UTC, checkNow); err != nil {
				return "--at is not a time: " + err.Error()
			}
			if p := freeTextProblem(c.At, 1); p != "" {
				return "--at " + p
			}
		}
	}
	switch c.Kind {
	case KindHelp:
		other.Topic = ""
		// An unknown topic is kept so that Help can say it is unknown, as one lower-case word.
		if c.Topic != "" && !slices.Contains(topicNames(), c.Topic) {
			if w := words([]token{{raw: c.Topic}}); c.Topic != strings.ToLower(c.Topic) || len(w) != 1 || w[0] != c.Topic {
				return "help topic is neither a form nor one lower-case word"
			}
		}
	case KindRevokeUsers:
		other.Users = nil
		if len(c.Users) == 0 || len(c.Users) > MaxUsers {
			return "user count out of range"
		}
		seen := map[string]bool{}
		for _, u := range c.Users {
			if refProblem(u) != "" {
				return "invalid ref " + u
			}
			if seen[strings.ToLower(u)] {
				return "duplicate ref " + u
			}
			seen[strings.ToLower(u)] = true
		}
	case KindRevokeGroup:
		other.Group = ""
		if p := freeTextProblem(c.Group, 1); p != "" {
			return "group " + p
		}
	case KindRevokeMatch:
		other.Match = ""
		if p := freeTextProblem(c.Match, minMatchLen); p != "" {
			return "match " + p
		}
	case KindStatus:
		other.Target = ""
		if refProblem(c.Target) != "" {
			return "invalid target"
		}
	case KindCancel, KindDeny:
		other.RequestID = ""
		if !validRequestID(c.RequestID) {
			return "invalid request id"
		}
	case KindSchedule:
	case KindPolicy:
		other.PolicyAction, other.Lifetime, other.Until = "", 0, ""
		switch c.PolicyAction {
		case PolicyShow, PolicyReset:
			if c.Lifetime != 0 || c.Until != "" {
				return "a lifetime or --until without policy set"
			}
		case PolicySet:
			if c.Lifetime < MinLifetime || c.Lifetime > MaxLifetime || c.Lifetime%time.Minute != 0 {
				return "lifetime out of range or not whole minutes"
			}
			if _, err := ParseWhen(c.Until, time.UTC, checkNow); err != nil {
				return "--until is not a time: " + err.Error()
			}
		default:
			return "unknown policy action"
		}
	case KindAudit:
		other.Target, other.AuditRequest = "", false
		if c.AuditRequest != isIssuedRequestID(c.Target) {
			return "AuditRequest does not say whether Target is a request id"
		}
		if !c.AuditRequest && refProblem(c.Target) != "" {
			return "audit target is neither a request id nor a user"
		}
	default:
		return "unknown kind"
	}
	if !reflect.DeepEqual(other, Command{}) {
		return "fields of another kind are set"
	}
	if c.Reason != "" {
		if !c.takesReason() {
			return "reason on a kind that takes none"
		}
		if p := freeTextProblem(c.Reason, 1); p != "" {
			return "reason " + p
		}
		if utf8.RuneCountInString(c.Reason) > MaxReasonLen {
			return "reason longer than MaxReasonLen"
		}
	}
	return ""
}

// freeTextProblem checks that a value is what normalize can produce: trimmed,
// single-spaced, without control or invisible characters, and long enough.
func freeTextProblem(v string, minLen int) string {
	if n := utf8.RuneCountInString(v); n < minLen || n > maxNameLen && minLen > 1 {
		return "has a bad length"
	}
	if strings.TrimSpace(v) != v || strings.Contains(v, "  ") {
		return "is not trimmed and single-spaced"
	}
	for _, r := range v {
		if r != ' ' && (r < ' ' || r == 0x7f || invisible(r)) {
			return "contains a control or invisible character"
		}
	}
	return ""
}
