package commands

import (
	"slices"
	"strconv"
	"strings"
)

// helpSection is the help for one form: its name, what it does, examples.
type helpSection struct {
	topic    string // what Help narrows to: the verb, or "plan"
	kind     Kind   // the Kind its examples parse as
	plan     bool   // and whether they are plans
	what     string
	examples []string
}

func (s helpSection) usage() string {
	if s.plan {
		return planUsage
	}
	return usage(s.kind)
}

// helpSections returns the help of every form in display order. It is built
// on each call rather than kept in a package variable so nothing shared can
// be modified.
func helpSections() []helpSection {
	return []helpSection{
		{"user", KindRevokeUsers, false,
			"Sign out one or more users (up to " + strconv.Itoa(MaxUsers) + "). Separate them with spaces, commas or " +
				"semicolons; the word \"user\" may be left out. Repeats are ignored.",
			[]string{
				"/signout user lester@contoso.com",
				`/signout user lester@contoso.com, bob@contoso.com --reason "phishing incident 4711"`,
				"/signout lester@contoso.com smtp:l.smith@fabrikam.com 0a1b2c3d-1234-4abc-8def-0123456789ab",
			}},
		{"group", KindRevokeGroup, false,
			"Sign out every member of a group, given by display name (spaces are fine, quotes optional) or object id.",
			[]string{
				"/signout group Migration Wave 1",
				`/signout group "Sales EMEA" --reason "tenant cutover"`,
				"/signout group 7d2e4f10-5a6b-4c8d-9e0f-1a2b3c4d5e6f",
				`/signout group Migrated --at "2026-12-01 22:00"`,
				"/signout group Migrated --at 2026-12-01 22:00 --reason wave 1",
			}},
		{"match", KindRevokeMatch, false,
			"Sign out every user whose display name contains the text (at least " + strconv.Itoa(minMatchLen) +
				" characters). Graph's search matches words that start with the text, so \"Test\" finds \"Lester Tester\" " +
				"but not \"Contester\". Check the list before approving: a short text can select many people.",
			[]string{
				`/signout match "(Contractor)"`,
				"/signout match Fabrikam --reason=end of contract",
			}},
		{planWord, KindRevokeGroup, true,
			"Show the plan of a sign-out (user, group or match, with --at if it is for later) without requesting it: " +
				"nothing is signed out and nobody is asked to approve anything.",
			[]string{
				"/signout plan group Migrated",
				`/signout plan group Migrated --at "2026-12-01 22:00"`,
			}},
		{"schedule", KindSchedule, false,
			"List the sign-outs scheduled with --at that have not run yet.",
			[]string{
				"/signout schedule",
			}},
		{"status", KindStatus, false,
			"Show one user's sessions-valid-from time as Graph reports it now, this bot's last sign-out of them and " +
				"how far it got, and any deadline still pending.",
			[]string{
				"/signout status lester@contoso.com",
			}},
		{"cancel", KindCancel, false,
			"Withdraw a request that is still waiting for approval, by the id shown in its message (the requester or any admin).",
			[]string{
				"/signout cancel R7K3Q9P",
			}},
		{"deny", KindDeny, false,
			"Deny a request that is waiting for approval, with an optional reason the requester and the card will show " +
				"(any admin; the requester's own deny is recorded as a cancel). The Deny button asks for the reason too.",
			[]string{
				"/signout deny R7K3Q9P wrong group: use Sales EMEA",
			}},
		{"policy", KindPolicy, false,
			"Show the tenant's access-token lifetime policy, change the lifetime for a cutover, or put the default back. " +
				"Access tokens already issued stay valid until they expire, so a short lifetime makes a sign-out take " +
				"effect sooner. A lifetime is a whole number with a unit: 10m, 90m, 1h30m, 2h, 1d (or words: 10 min, " +
				"2 hours), from 10 minutes to 1 day, the range Entra allows. policy set needs --until, when the change " +
				"ends: a short lifetime left in place by accident breaks sign-ins.",
			[]string{
				"/signout policy",
				`/signout policy set 10m --until "2026-12-03 09:00"`,
				`/signout policy set 1h30m --until "tomorrow 06:00" --reason "cutover wave 2"`,
				"/signout policy reset",
			}},
		{"audit", KindAudit, false,
			"Show the audit log of one request, by the id shown in its message, or of one user.",
			[]string{
				"/signout audit R7K3Q9P",
				"/signout audit lester@contoso.com",
			}},
		{"help", KindHelp, false,
			"Show this help, or the help for one form.",
			[]string{
				"/signout help",
				"/signout help group",
			}},
	}
}

// Help returns help text (plain text with light Markdown, readable in Slack,
// Teams and a terminal). A topic naming a form ("user", "group", "plan",
// "policy", …) narrows it to that form; anything else gives all of it.
func Help(topic string) string {
	topic = strings.ToLower(strings.TrimSpace(topic))
	var b strings.Builder
	sections := helpSections()
	narrowed := false
	for _, s := range sections {
		if s.topic != KindHelp.String() && s.topic == topic {
			sections, narrowed = []helpSection{s}, true
			break
		}
	}
	if !narrowed && topic != "" && topic != KindHelp.String() {
		b.WriteString("There is no form called \"" + topic + "\"; the forms are " + strings.Join(topicNames(), ", ") +
			". Here is the help for all of them.\n\n")
	}
	if !narrowed {
		b.WriteString("*Sign users out of Microsoft 365.* Every sign-out request must be approved by a second admin " +
			"before anything happens.\n\n")
	}
	for _, s := range sections {
		b.WriteString("`" + s.usage() + "`\n")
		b.WriteString("  " + s.what + "\n")
		for _, ex := range s.examples {
			b.WriteString("  e.g. `" + ex + "`\n")
		}
		b.WriteString("\n")
	}
	// about reports whether a paragraph on something several forms share belongs in this help.
	about := func(forms ...string) bool { return !narrowed || slices.Contains(forms, topic) }
	if about("user", planWord, "status", "audit") {
		b.WriteString("*Users* can be given as an e-mail address or UPN (lester@contoso.com), a guest UPN " +
			"(jane_fabrikam.com#EXT#@contoso.onmicrosoft.com), an object id (8-4-4-4-12 hex digits), " +
			"or smtp:address to find someone by any of their e-mail addresses.\n")
	}
	if about("user", "group", "match", planWord, "deny", "policy") {
		b.WriteString("*--reason* (or -r) records why; a sign-out's is shown to the approver: " +
			`--reason "left the company", --reason=incident-42, or --reason followed by words up to the end of the line ` +
			"(at most " + thousands(MaxReasonLen) + " characters, so that it fits on the request card).\n")
	}
	if about("user", "group", "match", planWord, "schedule", "policy") {
		b.WriteString("*--at* schedules a sign-out and *--until* ends a policy change. A time is in your own time zone " +
			"unless you add one: 2026-12-01 22:00 (or 2026-12-01T22:00; seconds optional), then if you like UTC, Z, " +
			"+01:00, -0500 or a zone name such as Europe/Berlin; full RFC 3339 (2026-12-01T22:00:00Z); or today 22:00 " +
			"and tomorrow 06:00. Quote it, or end it with the next option or the end of the line. On a night the clocks " +
			"change, a time that is skipped moves forward by the gap (02:30 becomes 03:30) and a time that happens " +
			"twice means the first one.\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
