package commands

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the host's zoneinfo
)

// The forms a tenant-migration team plans a cutover with: scheduled and
// planned sign-outs, the schedule, the token lifetime policy and the audit log.
func TestParseCutoverForms(t *testing.T) {
	group := func(at, reason string) Command {
		return Command{Kind: KindRevokeGroup, Group: "Migrated", At: at, Reason: reason}
	}
	tests := []struct {
		name string
		in   string
		want Command
	}{
		// --at on every sign-out form, in every way an option value can be written
		{"at quoted", `group Migrated --at "2026-12-01 22:00"`, group("2026-12-01 22:00", "")},
		{"at unquoted ends at the next option", "group Migrated --at 2026-12-01 22:00 --reason wave 1", group("2026-12-01 22:00", "wave 1")},
		{"at unquoted to the end of the line", "group Migrated --reason wave 1 --at 2026-12-01 22:00", group("2026-12-01 22:00", "wave 1")},
		{"at equals", "group Migrated --at=2026-12-01T22:00Z", group("2026-12-01T22:00Z", "")},
		{"at equals quoted", `group Migrated --at="tomorrow 06:00"`, group("tomorrow 06:00", "")},
		{"at single quoted", `group Migrated --at '2026-12-01 22:00'`, group("2026-12-01 22:00", "")},
		{"at first, quoted", `--at "2026-12-01 22:00" group Migrated`, group("2026-12-01 22:00", "")},
		{"at between name words, quoted", `group Migration --at "today 22:00" Wave 1`,
			Command{Kind: KindRevokeGroup, Group: "Migration Wave 1", At: "today 22:00"}},
		{"at keeps the text as typed", "group Migrated --at Tomorrow 6:00 utc --reason x",
			Command{Kind: KindRevokeGroup, Group: "Migrated", At: "Tomorrow 6:00 utc", Reason: "x"}},
		{"at with a zone name", `group Migrated --at "2026-12-01 22:00 Europe/Berlin"`, group("2026-12-01 22:00 Europe/Berlin", "")},
		{"at in the past is the core's to refuse", `group Migrated --at "1999-01-01 00:00"`, group("1999-01-01 00:00", "")},
		{"at option name case", `group Migrated --AT "2026-12-01 22:00"`, group("2026-12-01 22:00", "")},
		{"at em dash from phone", "group Migrated \u2014at 2026-12-01 22:00", group("2026-12-01 22:00", "")},
		{"at smart quotes", "group Migrated --at \u201C2026-12-01 22:00\u201D", group("2026-12-01 22:00", "")},
		{"at on users", `user a@contoso.com b@contoso.com --at "2026-12-01 22:00"`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com", "b@contoso.com"}, At: "2026-12-01 22:00"}},
		{"at on bare users", `a@contoso.com --at "2026-12-01 22:00"`,
			Command{Kind: KindRevokeUsers, Users: []string{"a@contoso.com"}, At: "2026-12-01 22:00"}},
		{"at on match", `match Test --at "2026-12-01 22:00:05+01:00"`,
			Command{Kind: KindRevokeMatch, Match: "Test", At: "2026-12-01 22:00:05+01:00"}},

		// plan
		{"plan group", "plan group Migrated", Command{Kind: KindRevokeGroup, Group: "Migrated", Plan: true}},
		{"plan user", "plan user a@x.com", Command{Kind: KindRevokeUsers, Users: []string{"a@x.com"}, Plan: true}},
		{"plan bare users", "plan a@x.com b@x.com", Command{Kind: KindRevokeUsers, Users: []string{"a@x.com", "b@x.com"}, Plan: true}},
		{"plan match", "plan match Test", Command{Kind: KindRevokeMatch, Match: "Test", Plan: true}},
		{"plan case", "PLAN Group Migrated", Command{Kind: KindRevokeGroup, Group: "Migrated", Plan: true}},
		{"plan with at and reason", `plan group Migrated --at "2026-12-01 22:00" -r wave 1`,
			Command{Kind: KindRevokeGroup, Group: "Migrated", Plan: true, At: "2026-12-01 22:00", Reason: "wave 1"}},
		{"a group called plan", "group plan", Command{Kind: KindRevokeGroup, Group: "plan"}},
		{"help plan", "help plan", Command{Kind: KindHelp, Topic: "plan"}},

		// schedule
		{"schedule", "schedule", Command{Kind: KindSchedule}},
		{"schedule case", "Schedule", Command{Kind: KindSchedule}},

		// policy
		{"policy", "policy", Command{Kind: KindPolicy}},
		{"policy reset", "policy reset", Command{Kind: KindPolicy, PolicyAction: PolicyReset}},
		{"policy reset case", "Policy RESET", Command{Kind: KindPolicy, PolicyAction: PolicyReset}},
		{"policy set", `policy set 10m --until "2026-12-03 09:00"`,
			Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 10 * time.Minute, Until: "2026-12-03 09:00"}},
		{"policy set unquoted until, reason", "policy set 1h30m --until 2026-12-03 09:00 --reason cutover wave 2",
			Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 90 * time.Minute, Until: "2026-12-03 09:00", Reason: "cutover wave 2"}},
		{"policy set until first", `policy --until "tomorrow 06:00" set 2h`,
			Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 2 * time.Hour, Until: "tomorrow 06:00"}},
		{"policy set words", `policy set 10 min --until "2026-12-03 09:00"`,
			Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 10 * time.Minute, Until: "2026-12-03 09:00"}},
		{"policy set one day", `policy SET 1d --until "2026-12-03 09:00"`,
			Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 24 * time.Hour, Until: "2026-12-03 09:00"}},
		{"policy set quoted lifetime", `policy set "2 hours" --until=2026-12-03T09:00Z`,
			Command{Kind: KindPolicy, PolicyAction: PolicySet, Lifetime: 2 * time.Hour, Until: "2026-12-03T09:00Z"}},

		// audit
		{"audit request id", "audit R7K3Q9P", Command{Kind: KindAudit, Target: "R7K3Q9P", AuditRequest: true}},
		{"audit request id lower case kept as typed", "audit r7k3q9p", Command{Kind: KindAudit, Target: "r7k3q9p", AuditRequest: true}},
		{"audit request id quoted", `audit "R7K3Q9P"`, Command{Kind: KindAudit, Target: "R7K3Q9P", AuditRequest: true}},
		{"audit user", "audit lester@contoso.com", Command{Kind: KindAudit, Target: "lester@contoso.com"}},
		{"audit user by object id", "audit " + guid, Command{Kind: KindAudit, Target: guid}},
		{"audit user by smtp", "audit smtp:l.smith@fabrikam.com", Command{Kind: KindAudit, Target: "smtp:l.smith@fabrikam.com"}},
		{"audit slack mailto", "audit <mailto:lester@contoso.com|lester@contoso.com>", Command{Kind: KindAudit, Target: "lester@contoso.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCutoverErrors(t *testing.T) {
	policyUsage := usage(KindPolicy)
	tests := []struct {
		name       string
		in         string
		contains   []string // each must appear in Error()
		suggestion string
		usage      string
	}{
		// --at
		{"at empty", "group Migrated --at", []string{`--at needs a time, e.g. --at "2026-12-01 22:00"`}, "", usage(KindRevokeGroup)},
		{"at empty quoted", `group Migrated --at ""`, []string{"--at needs a time"}, "", usage(KindRevokeGroup)},
		{"at twice", `group Migrated --at "today 22:00" --at "tomorrow 06:00"`, []string{"--at is given twice; give one time"}, "", usage(KindRevokeGroup)},
		{"at not a time", "group Migrated --at soon", []string{`--at "soon" is not a time`, "does not start with a date", "tomorrow 06:00", "Europe/Berlin"}, "", usage(KindRevokeGroup)},
		{"at bad month", `user a@contoso.com --at "2026-13-01 22:00"`, []string{`--at "2026-13-01 22:00" is not a time: there is no month 13`}, "", usage(KindRevokeUsers)},
		{"at bad zone", `match Test --at "2026-12-01 22:00 Europe/Berln"`, []string{`there is no time zone "Europe/Berln"`}, "", usage(KindRevokeMatch)},
		{"at swallows the command", "--at 2026-12-01 22:00 group Migrated", []string{"nothing to sign out", "unquoted --at", "put it last or quote it"}, "", usage(KindRevokeGroup)},
		{"at alone", `--at "2026-12-01 22:00"`, []string{"nothing to sign out"}, "", usage(KindRevokeGroup)},
		{"at on status", `status a@contoso.com --at "2026-12-01 22:00"`, []string{"--at only goes with a sign-out (user, group or match), not with status"}, "", usage(KindStatus)},
		{"at on schedule", `schedule --at "2026-12-01 22:00"`, []string{"not with schedule"}, "", usage(KindSchedule)},
		{"at on policy set points to until", `policy set 10m --at "2026-12-03 09:00"`, []string{"--at only goes with a sign-out", "not with policy set", "--until"}, "", policyUsage},
		{"at typo", `group Migrated --att "2026-12-01 22:00"`, []string{`unknown option "--att"`, "--reason (or -r), --at and --until"}, "--at", usage(KindRevokeGroup)},
		{"one-letter option gets no guess", "group Migrated -t x", []string{`unknown option "-t"`}, "", usage(KindRevokeGroup)},

		// plan
		{"plan alone", "plan", []string{"plan needs the sign-out to show", "/signout plan group Migrated"}, "", planUsage},
		{"plan twice", "plan plan group Migrated", []string{`"plan" is given twice`}, "", planUsage},
		{"plan of status", "plan status a@contoso.com", []string{"plan only goes with a sign-out (user, group or match), not with status"}, "", planUsage},
		{"plan of policy", "plan policy", []string{"not with policy"}, "", planUsage},
		{"plan typo in the form", "plan gruop Migrated", []string{`unknown sign-out form "gruop"`}, "group", usage(KindRevokeGroup)},
		{"plan of a name", "plan Lester Smith", []string{`"Lester" is not a sign-out form or a user`}, "", planUsage},
		{"plan typo", "plna group Migrated", []string{`unknown command "plna"`}, "plan", planUsage},
		{"plan with an empty group", "plan group", []string{"group needs a group name"}, "", usage(KindRevokeGroup)},
		{"plan with a bad option", "plan group Migrated --reson x", []string{`unknown option "--reson"`}, "--reason", planUsage},
		{"plan with until", `plan group Migrated --until "2026-12-01 22:00"`, []string{"--until only goes with policy set, not with plan group", "use --at"}, "", planUsage},

		// schedule
		{"schedule with an argument", "schedule group Migrated", []string{`schedule takes nothing after it, but "group Migrated" was given`, "add --at"}, "", usage(KindSchedule)},
		{"schedule typo", "schedul", []string{`unknown command "schedul"`}, "schedule", usage(KindSchedule)},
		{"schedule of a sign-out says how to schedule one", `schedule group Migrated --at "2026-12-01 22:00"`,
			[]string{"schedule takes nothing after it", `/signout group Migrated --at "2026-12-01 22:00"`}, "", usage(KindSchedule)},
		{"schedule with reason", "schedule --reason x", []string{"--reason only goes with", "not with schedule"}, "", usage(KindSchedule)},

		// policy
		{"policy typo", "polcy", []string{`unknown command "polcy"`}, "policy", policyUsage},
		{"policy action typo", "policy sett 10m", []string{`unknown policy action "sett"`}, "set", policyUsage},
		{"policy show is the bare form", "policy show", []string{`unknown policy action "show"`, "/signout policy alone shows the policy"}, "", policyUsage},
		{"policy without set", `policy 10m --until "2026-12-03 09:00"`, []string{`"10m" is not a policy action`, "/signout policy set 10m --until"}, "", policyUsage},
		{"policy set without until", "policy set 10m", []string{"policy set needs --until", "breaks sign-ins", `/signout policy set 10m --until "2026-12-03 09:00"`}, "", policyUsage},
		{"policy set without lifetime", `policy set --until "2026-12-03 09:00"`, []string{"policy set needs the new access-token lifetime"}, "", policyUsage},
		{"policy set too short", `policy set 5m --until "2026-12-03 09:00"`, []string{`the lifetime "5m" does not work`, "Entra allows access-token lifetimes from 10 minutes to 1 day"}, "", policyUsage},
		{"policy set too long", `policy set 2d --until "2026-12-03 09:00"`, []string{"Entra allows access-token lifetimes from 10 minutes to 1 day"}, "", policyUsage},
		{"policy set 25 hours", `policy set 24h 1m --until "2026-12-03 09:00"`, []string{"outside the range"}, "", policyUsage},
		{"policy set no unit", `policy set 90 --until "2026-12-03 09:00"`, []string{`"90" has no unit`, "90m"}, "", policyUsage},
		{"policy set fraction", `policy set 1.5h --until "2026-12-03 09:00"`, []string{"whole numbers", "1h30m"}, "", policyUsage},
		{"policy set seconds", `policy set 600s --until "2026-12-03 09:00"`, []string{"not set in seconds"}, "", policyUsage},
		{"policy set timespan", `policy set 01:00:00 --until "2026-12-03 09:00"`, []string{"with units", "not as hours:minutes:seconds"}, "", policyUsage},
		{"policy set bad until", "policy set 10m --until Friday", []string{`--until "Friday" is not a time`}, "", policyUsage},
		{"policy set until twice", `policy set 10m --until "today 22:00" --until "today 23:00"`, []string{"--until is given twice"}, "", policyUsage},
		{"policy until swallows the command", "--until 2026-12-03 09:00 policy set 10m", []string{"nothing to change", "unquoted --until"}, "", policyUsage},
		{"policy reset with more", "policy reset 10m", []string{"policy reset puts the default lifetime back and takes nothing more", `"10m"`}, "", policyUsage},
		{"policy reset with until", `policy reset --until "2026-12-03 09:00"`, []string{"--until only goes with policy set, not with policy reset"}, "", policyUsage},
		{"policy reset with reason", "policy reset --reason done", []string{"--reason only goes with", "policy set", "not with policy reset"}, "", policyUsage},
		{"policy show with reason", "policy --reason x", []string{"not with policy"}, "", policyUsage},
		{"until on a sign-out points to at", `group Migrated --until "2026-12-01 22:00"`, []string{"--until only goes with policy set, not with group", "to schedule a sign-out, use --at"}, "", usage(KindRevokeGroup)},
		{"until on status", `status a@contoso.com --until "2026-12-01 22:00"`, []string{"not with status"}, "", usage(KindStatus)},

		// audit
		{"audit empty", "audit", []string{"audit needs a request id or a user", "/signout audit R7K3Q9P"}, "", usage(KindAudit)},
		{"audit two", "audit R7K3Q9P lester@contoso.com", []string{"audit takes one request id or one user, but 2 were given"}, "", usage(KindAudit)},
		{"audit short request id", "audit R7K3Q9", []string{`"R7K3Q9" is not a request id`, "R and 6 letters or digits", "R7K3Q9P"}, "", usage(KindAudit)},
		{"audit request id with an O", "audit R7K3QOP9", []string{"is not a request id", "never contain 0, 1, I or O"}, "", usage(KindAudit)},
		{"audit request id with a zero", "audit R7K3Q0P", []string{"is not a request id"}, "", usage(KindAudit)},
		{"audit a name", "audit Lester", []string{`"Lester" is neither a request id nor a user`, "lester@contoso.com"}, "", usage(KindAudit)},
		{"audit bad address", "audit lester@contoso", []string{"neither a request id nor a user", `domain "contoso" has no dot`}, "", usage(KindAudit)},
		{"audit typo", "audti R7K3Q9P", []string{`unknown command "audti"`}, "audit", usage(KindAudit)},
		{"audit with reason", "audit R7K3Q9P --reason x", []string{"not with audit"}, "", usage(KindAudit)},
		{"audit with at", `audit R7K3Q9P --at "2026-12-01 22:00"`, []string{"--at only goes with a sign-out", "not with audit"}, "", usage(KindAudit)},

		// the general error knows the new verbs
		{"not a command lists the new verbs", "Lester Smith", []string{"schedule", "policy", "audit", "plan"}, "", generalUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.in, got)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not *Error", tt.in, err)
			}
			msg := err.Error()
			for _, want := range tt.contains {
				if !strings.Contains(msg, want) {
					t.Errorf("Parse(%q) error %q does not mention %q", tt.in, msg, want)
				}
			}
			if pe.Suggestion != tt.suggestion {
				t.Errorf("Parse(%q) suggestion = %q, want %q", tt.in, pe.Suggestion, tt.suggestion)
			}
			if pe.Usage != tt.usage {
				t.Errorf("Parse(%q) usage = %q, want %q", tt.in, pe.Usage, tt.usage)
			}
		})
	}
}

func TestParseWhen(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	newYork := mustZone(t, "America/New_York")
	// 23:30 on 30 November in Berlin, already 1 December in UTC.
	now := time.Date(2026, 11, 30, 22, 30, 0, 0, time.UTC)
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		in   string
		loc  *time.Location
		want time.Time
	}{
		{"date and time in loc", "2026-12-01 22:00", berlin, utc("2026-12-01T21:00:00Z")},
		{"T instead of space", "2026-12-01T22:00", berlin, utc("2026-12-01T21:00:00Z")},
		{"lower-case t", "2026-12-01t22:00", berlin, utc("2026-12-01T21:00:00Z")},
		{"seconds", "2026-12-01 22:00:05", berlin, utc("2026-12-01T21:00:05Z")},
		{"one-digit hour", "2026-12-01 6:00", time.UTC, utc("2026-12-01T06:00:00Z")},
		{"extra spaces", "  2026-12-01   22:00  ", time.UTC, utc("2026-12-01T22:00:00Z")},
		{"nil loc is UTC", "2026-12-01 22:00", nil, utc("2026-12-01T22:00:00Z")},
		{"UTC overrides loc", "2026-12-01 22:00 UTC", berlin, utc("2026-12-01T22:00:00Z")},
		{"utc lower case", "2026-12-01 22:00 utc", berlin, utc("2026-12-01T22:00:00Z")},
		{"GMT", "2026-12-01 22:00 GMT", berlin, utc("2026-12-01T22:00:00Z")},
		{"Z glued", "2026-12-01T22:00Z", berlin, utc("2026-12-01T22:00:00Z")},
		{"Z spaced", "2026-12-01 22:00 Z", berlin, utc("2026-12-01T22:00:00Z")},
		{"offset with colon", "2026-12-01 22:00 +01:00", newYork, utc("2026-12-01T21:00:00Z")},
		{"offset glued", "2026-12-01 22:00+01:00", newYork, utc("2026-12-01T21:00:00Z")},
		{"offset without colon", "2026-12-01 22:00 -0500", berlin, utc("2026-12-02T03:00:00Z")},
		{"offset with minutes", "2026-12-01 22:00 +05:30", time.UTC, utc("2026-12-01T16:30:00Z")},
		{"zone name", "2026-12-01 22:00 America/New_York", berlin, utc("2026-12-02T03:00:00Z")},
		{"zone name with T", "2026-12-01T22:00 Europe/Berlin", time.UTC, utc("2026-12-01T21:00:00Z")},
		{"zone name with underscore and three parts", "2026-12-01 22:00 America/Argentina/Buenos_Aires", time.UTC, utc("2026-12-02T01:00:00Z")},
		{"RFC 3339", "2026-12-01T22:00:00Z", berlin, utc("2026-12-01T22:00:00Z")},
		{"RFC 3339 with offset", "2026-12-01T22:00:00+01:00", time.UTC, utc("2026-12-01T21:00:00Z")},
		{"RFC 3339 with fraction", "2026-12-01T22:00:00.25-00:00", berlin, utc("2026-12-01T22:00:00.25Z")},
		{"RFC 3339 with nanoseconds", "2026-12-01T22:00:00.123456789Z", berlin, utc("2026-12-01T22:00:00.123456789Z")},
		{"leap day", "2028-02-29 12:00", time.UTC, utc("2028-02-29T12:00:00Z")},
		{"past is a time", "1999-01-01 00:00", time.UTC, utc("1999-01-01T00:00:00Z")},

		// today and tomorrow are days in loc (or the named zone), not in UTC
		{"today in loc", "today 23:45", berlin, utc("2026-11-30T22:45:00Z")},
		{"today in UTC", "today 23:45", time.UTC, utc("2026-11-30T23:45:00Z")},
		{"tomorrow in loc", "tomorrow 06:00", berlin, utc("2026-12-01T05:00:00Z")},
		{"tomorrow case", "Tomorrow 06:00", time.UTC, utc("2026-12-01T06:00:00Z")},
		{"tomorrow in a named zone", "tomorrow 06:00 UTC", berlin, utc("2026-12-01T06:00:00Z")},
		{"tomorrow at the end of the month in another zone", "tomorrow 06:00 Asia/Tokyo", time.UTC, utc("2026-12-01T21:00:00Z")},

		// Daylight saving: a skipped wall time moves forward by the gap, a repeated one is the first instant.
		{"skipped in Berlin moves forward", "2026-03-29 02:30", berlin, utc("2026-03-29T01:30:00Z")},    // 03:30 CEST
		{"skipped in New York moves forward", "2026-03-08 02:30", newYork, utc("2026-03-08T07:30:00Z")}, // 03:30 EDT, where time.Date goes back
		{"repeated in Berlin is the first", "2026-10-25 02:30", berlin, utc("2026-10-25T00:30:00Z")},    // 02:30 CEST, where time.Date takes CET
		{"repeated in New York is the first", "2026-11-01 01:30", newYork, utc("2026-11-01T05:30:00Z")}, // 01:30 EDT
		{"just before the gap", "2026-03-29 01:59", berlin, utc("2026-03-29T00:59:00Z")},
		{"end of the gap", "2026-03-29 03:00", berlin, utc("2026-03-29T01:00:00Z")},
		{"tomorrow into the gap", "tomorrow 02:30", berlin, utc("2026-03-29T01:30:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := now
			if strings.HasPrefix(tt.name, "tomorrow into") {
				n = time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
			}
			got, err := ParseWhen(tt.in, tt.loc, n)
			if err != nil {
				t.Fatalf("ParseWhen(%q) error: %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParseWhen(%q, %v) = %v, want %v", tt.in, tt.loc, got, tt.want.In(got.Location()))
			}
			// What Parse accepts must not depend on the zone or the clock, so validation in UTC is enough.
			if _, err := ParseWhen(tt.in, time.UTC, checkNow); err != nil {
				t.Fatalf("ParseWhen(%q) fails in UTC: %v", tt.in, err)
			}
		})
	}
}

func TestParseWhenErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // part of the problem; every error also lists the forms
	}{
		{"", "it is empty"},
		{"   ", "it is empty"},
		{"soon", "does not start with a date (2026-12-01), today or tomorrow"},
		{"next monday 10:00", "does not start with a date"},
		{"22:00", "it has no day; say which, e.g. today 22:00"},
		{"2026-12-01", "it has a date but no time of day; add one, e.g. 2026-12-01 22:00"},
		{"2026-12-01T", "it has a date but no time of day"},
		{"tomorrow", "it says tomorrow but not when, e.g. tomorrow 06:00"},
		{"01.12.2026 22:00", "write the date as year-month-day"},
		{"12/01/2026 22:00", "write the date as year-month-day"},
		{"2026-12-1 22:00", "write the date as year-month-day"},
		{"2026-12-0122:00", "followed by a space or T"},
		{"2026-13-01 22:00", "there is no month 13"},
		{"2026-00-01 22:00", "there is no month 0"},
		{"2026-02-29 22:00", "February 2026 has 28 days, so there is no day 29"},
		{"2026-04-31 22:00", "April 2026 has 30 days"},
		{"2026-12-00 22:00", "there is no day 0"},
		{"2026-12-01 24:00", "there is no hour 24"},
		{"2026-12-01 22:60", "there is no minute 60"},
		{"2026-12-01 22:00:60", "there is no second 60"},
		{"2026-12-01 22:00:5", "seconds must be two digits"},
		{"2026-12-01 22:00:05.", "a fraction of a second must be 1 to 9 digits"},
		{"2026-12-01 22:00:05.1234567890", "hours:minutes on a 24-hour clock"},
		{"2026-12-01 2200", "hours:minutes on a 24-hour clock"},
		{"2026-12-01 22h00", "hours:minutes on a 24-hour clock"},
		{"2026-12-01 123:00", "hours:minutes on a 24-hour clock"},
		{"2026-12-01 10:00 pm", "use the 24-hour clock"},
		{"2026-12-01 10:00PM", "use the 24-hour clock"},
		{"2026-12-01 22:00 CET", `"CET" is not a time zone this bot knows (abbreviations such as CET or EST are ambiguous)`},
		{"2026-12-01 22:00 UTC+1", "is not a time zone this bot knows"},
		{"2026-12-01 22:00 Local", "is not a time zone this bot knows"},
		{"2026-12-01 22:00 +1", `"+1" is not an offset`},
		{"2026-12-01 22:00 +01:0", "is not an offset"},
		{"2026-12-01 22:00 +24:00", "hours go up to 23"},
		{"2026-12-01 22:00 Europe/Berln", `there is no time zone "Europe/Berln"`},
		{"2026-12-01 22:00 ../../etc/passwd", "is not a time zone this bot knows"},
		{"2026-12-01 22:00 /etc/localtime", "is not a time zone this bot knows"},
		{"2026-12-01 22:00 UTC Europe/Berlin", "is not one time zone"},
		{"2026-12-01 22:00 +01:00 Europe/Berlin", "is not one time zone"},
		{"2026-12-01 " + strings.Repeat("9", 100), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWhen(tt.in, time.UTC, checkNow)
			if err == nil {
				t.Fatalf("ParseWhen(%q) = %v, want an error", tt.in, got)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("ParseWhen(%q) error %T is not *Error", tt.in, err)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "is not a time", "2026-12-01 22:00", "Europe/Berlin", "tomorrow 06:00", "RFC 3339"} {
				if !strings.Contains(msg, want) {
					t.Errorf("ParseWhen(%q) error %q does not mention %q", tt.in, msg, want)
				}
			}
		})
	}
}

func TestParseLifetime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		problem string // part of the problem, "" if valid
	}{
		{"10m", 10 * time.Minute, ""},
		{"90m", 90 * time.Minute, ""},
		{"1h", time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1h 30m", 90 * time.Minute, ""},
		{"30m1h", 90 * time.Minute, ""},
		{"2h", 2 * time.Hour, ""},
		{"1d", 24 * time.Hour, ""},
		{"24h", 24 * time.Hour, ""},
		{"1440m", 24 * time.Hour, ""},
		{"10 min", 10 * time.Minute, ""},
		{"10 minutes", 10 * time.Minute, ""},
		{"2 hours", 2 * time.Hour, ""},
		{"1 hour 15 mins", 75 * time.Minute, ""},
		{"1 day", 24 * time.Hour, ""},
		{"10M", 10 * time.Minute, ""},
		{"010m", 10 * time.Minute, ""},
		{"0h10m", 10 * time.Minute, ""},

		{"9m", 0, "outside the range: Entra allows access-token lifetimes from 10 minutes to 1 day"},
		{"0m", 0, "outside the range"},
		{"25h", 0, "outside the range"},
		{"1d1m", 0, "outside the range"},
		{"2 days", 0, "outside the range"},
		{"99999999999999999999h", 0, "outside the range"},
		{"90", 0, `"90" has no unit; say which, e.g. 90m for minutes or 90h for hours`},
		{"1h30", 0, `"30" has no unit`},
		{"1.5h", 0, "use whole numbers"},
		{"1,5h", 0, "use whole numbers"},
		{"30s", 0, "not set in seconds"},
		{"10 seconds", 0, "not set in seconds"},
		{"2w", 0, `"w" is not a unit`},
		{"1h1h", 0, "hours is given twice"},
		{"1h-30m", 0, `"-30m" is not a number`},
		{"an hour", 0, `"an hour" is not a number`},
		{"02:00:00", 0, "not as hours:minutes:seconds"},
		{"", 0, "it is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, p := parseLifetime(tt.in)
			switch {
			case tt.problem == "" && p != "":
				t.Fatalf("parseLifetime(%q): %s", tt.in, p)
			case tt.problem == "" && got != tt.want:
				t.Fatalf("parseLifetime(%q) = %v, want %v", tt.in, got, tt.want)
			case tt.problem != "" && !strings.Contains(p, tt.problem):
				t.Fatalf("parseLifetime(%q) = %v, %q; want a problem mentioning %q", tt.in, got, p, tt.problem)
			}
		})
	}
}

func TestFormatLifetime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "10m", 90 * time.Minute: "1h30m", 2 * time.Hour: "2h", 24 * time.Hour: "24h", 0: "0m",
	} {
		if got := formatLifetime(d); got != want {
			t.Errorf("formatLifetime(%v) = %q, want %q", d, got, want)
		}
	}
	// Every lifetime Parse can return is written so that it reads back.
	for d := MinLifetime; d <= MaxLifetime; d += time.Minute {
		if got, p := parseLifetime(formatLifetime(d)); p != "" || got != d {
			t.Fatalf("parseLifetime(formatLifetime(%v)) = %v, %q", d, got, p)
		}
	}
}

func TestIssuedRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"R7K3Q9P": true, "r7k3q9p": true, "RABCDEF": true, "R234567": true, "RZZZZZZ": true,
		"R7K3Q9": false, "R7K3Q9PX": false, "R7K3Q0P": false, "R7K3Q1P": false, "R7K3QOP": false, "R7K3QIP": false,
		"X7K3Q9P": false, "R7K3Q9-": false, "": false, "R7K3Q\u00e9": false,
	} {
		if got := isIssuedRequestID(id); got != want {
			t.Errorf("isIssuedRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestHelpCutover(t *testing.T) {
	full := Help("")
	for _, ex := range []string{
		`/signout group Migrated --at "2026-12-01 22:00"`, "/signout plan group Migrated", "/signout schedule",
		`/signout policy set 10m --until "2026-12-03 09:00"`, "/signout policy reset", "/signout audit R7K3Q9P",
		"/signout audit lester@contoso.com",
	} {
		if !strings.Contains(full, "`"+ex+"`") {
			t.Errorf("Help(\"\") lacks the example %s", ex)
		}
	}
	tests := []struct {
		topic    string
		contains []string
		lacks    []string
	}{
		{"policy", []string{"`/signout policy`", "10m, 90m, 1h30m, 2h, 1d", "10 min", "from 10 minutes to 1 day",
			"needs --until", "breaks sign-ins", "*--until*", "Europe/Berlin", "--reason"}, []string{"/signout group", "*Users*"}},
		{"plan", []string{"/signout plan group Migrated", "nobody is asked to approve", "*--at*", "*Users*"}, []string{"/signout policy"}},
		{"group", []string{"--at", "tomorrow 06:00", "RFC 3339", "skipped moves forward"}, []string{"/signout plan"}},
		{"schedule", []string{"`/signout schedule`", "*--at*"}, []string{"--reason (or -r)"}},
		{"audit", []string{"`/signout audit <request id or user>`", "R7K3Q9P", "*Users*"}, []string{"*--at*", "--reason (or -r)"}},
		{"status", []string{"*Users*"}, []string{"*--at*", "--reason (or -r)"}},
	}
	for _, tt := range tests {
		h := Help(tt.topic)
		for _, w := range tt.contains {
			if !strings.Contains(h, w) {
				t.Errorf("Help(%q) lacks %q:\n%s", tt.topic, w, h)
			}
		}
		for _, w := range tt.lacks {
			if strings.Contains(h, w) {
				t.Errorf("Help(%q) should not contain %q:\n%s", tt.topic, w, h)
			}
		}
	}
	if u := usage(KindHelp); !strings.Contains(u, "plan") || !strings.Contains(u, "policy") || !strings.Contains(u, "audit") {
		t.Errorf("usage(KindHelp) = %q lacks the new topics", u)
	}
	if !strings.Contains(generalUsage, "plan|schedule") || !strings.Contains(generalUsage, "policy|audit") {
		t.Errorf("generalUsage = %q lacks the new verbs", generalUsage)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}
