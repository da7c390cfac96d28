package commands

import (
	"strconv"
	"strings"
)

// helpSection is the help for one form: synopsis, what it does, examples.
type helpSection struct {
	kind     Kind
	what     string
	examples []string
}

// helpSections returns the help of every form in display order. It is built
// on each call rather than kept in a package variable so nothing shared can
// be modified.
func helpSections() []helpSection {
	return []helpSection{
		{KindRevokeUsers,
			"Sign out one or more users (up to " + strconv.Itoa(MaxUsers) + "). Separate them with spaces, commas or " +
				"semicolons; the word \"user\" may be left out. Repeats are ignored.",
			[]string{
				"/signout user lester@contoso.com",
				`/signout user lester@contoso.com, bob@contoso.com --reason "phishing incident 4711"`,
				"/signout lester@contoso.com smtp:l.smith@fabrikam.com 0a1b2c3d-1234-4abc-8def-0123456789ab",
			}},
		{KindRevokeGroup,
			"Sign out every member of a group, given by display name (spaces are fine, quotes optional) or object id.",
			[]string{
				"/signout group Migration Wave 1",
				`/signout group "Sales EMEA" --reason "tenant cutover"`,
				"/signout group 7d2e4f10-5a6b-4c8d-9e0f-1a2b3c4d5e6f",
			}},
		{KindRevokeMatch,
			"Sign out every user whose display name contains the text (at least " + strconv.Itoa(minMatchLen) +
				" characters). Graph's search matches words that start with the text, so \"Test\" finds \"Lester Tester\" " +
				"but not \"Contester\". Check the list before approving: a short text can select many people.",
			[]string{
				`/signout match "(Contractor)"`,
				"/signout match Fabrikam --reason=end of contract",
			}},
		{KindStatus,
			"Show one user's sessions-valid-from time as Graph reports it now, this bot's last sign-out of them and " +
				"how far it got, and any deadline still pending.",
			[]string{
				"/signout status lester@contoso.com",
			}},
		{KindCancel,
			"Withdraw a request that is still waiting for approval, by the id shown in its message (the requester or any admin).",
			[]string{
				"/signout cancel R7K3Q9",
			}},
		{KindDeny,
			"Deny a request that is waiting for approval, with an optional reason the requester and the card will show " +
				"(any admin; the requester's own deny is recorded as a cancel). The Deny button asks for the reason too.",
			[]string{
				"/signout deny R7K3Q9 wrong group: use Sales EMEA",
			}},
		{KindHelp,
			"Show this help, or the help for one form.",
			[]string{
				"/signout help",
				"/signout help group",
			}},
	}
}

// Help returns help text (plain text with light Markdown, readable in Slack,
// Teams and a terminal). A topic naming a form ("user", "group", "match",
// "status", "cancel") narrows it to that form; anything else gives all of it.
func Help(topic string) string {
	topic = strings.ToLower(strings.TrimSpace(topic))
	var b strings.Builder
	sections := helpSections()
	narrowed := false
	for _, s := range sections {
		if s.kind != KindHelp && s.kind.String() == topic {
			sections, narrowed = []helpSection{s}, true
			break
		}
	}
	if !narrowed && topic != "" && topic != KindHelp.String() {
		names := make([]string, 0, len(verbs)-1)
		for _, k := range verbs[1:] {
			names = append(names, k.String())
		}
		b.WriteString("There is no form called \"" + topic + "\"; the forms are " + strings.Join(names, ", ") +
			". Here is the help for all of them.\n\n")
	}
	if !narrowed {
		b.WriteString("*Sign users out of Microsoft 365.* Every sign-out request must be approved by a second admin " +
			"before anything happens.\n\n")
	}
	for _, s := range sections {
		b.WriteString("`" + usage(s.kind) + "`\n")
		b.WriteString("  " + s.what + "\n")
		for _, ex := range s.examples {
			b.WriteString("  e.g. `" + ex + "`\n")
		}
		b.WriteString("\n")
	}
	if !narrowed || topic == KindRevokeUsers.String() || topic == KindStatus.String() {
		b.WriteString("*Users* can be given as an e-mail address or UPN (lester@contoso.com), a guest UPN " +
			"(jane_fabrikam.com#EXT#@contoso.onmicrosoft.com), an object id (8-4-4-4-12 hex digits), " +
			"or smtp:address to find someone by any of their e-mail addresses.\n")
	}
	if !narrowed || topic != KindStatus.String() && topic != KindCancel.String() {
		b.WriteString("*--reason* (or -r) records why, and is shown to the approver: " +
			`--reason "left the company", --reason=incident-42, or --reason followed by words up to the end of the line ` +
			"(at most " + thousands(MaxReasonLen) + " characters, so that it fits on the request card).\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
