// Package commands turns the text an admin types after /signout into a typed
// Command.
//
// It knows nothing of Slack, Teams or Microsoft Graph: chat adapters hand it the
// text as the platform delivered it (entities, auto-links, mentions and all) and
// get back either a Command or an *Error worded for a helpdesk admin. Because a
// parsed command is shown to a second admin for approval, parsing is strict:
// anything ambiguous is an error that says what to type instead, never a guess.
package commands

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says what an admin asked for.
type Kind int

const (
	KindHelp Kind = iota
	KindRevokeUsers
	KindRevokeGroup
	KindRevokeMatch
	KindStatus
	KindCancel
	KindDeny
	// The cutover kinds come last so that the older kinds keep their values.
	KindSchedule // list the sign-outs scheduled with --at
	KindPolicy   // show, set or reset the access-token lifetime policy
	KindAudit    // show the audit log of one request or one user
)

// MaxUsers caps the users named in one command. Larger sets belong in a group,
// where the approver sees one name instead of a wall of addresses.
const MaxUsers = 500

// MaxReasonLen caps a --reason, in characters. The reason is shown to the
// approver in one field of the request card, and Slack refuses a whole message
// whose section field is over 2,000 characters; escaping (&amp;, &lt;) can
// make the shown text longer than the typed one, so the cap leaves room for
// that and for the field's label.
const MaxReasonLen = 1500

const (
	// maxTextBytes bounds the work a single chat message can cause; it is far
	// above any real command (500 addresses fit in ~8,000 bytes only barely).
	maxTextBytes = 8000
	// maxRefLen and maxNameLen follow Entra's own limits (UPN/displayName ≤ 256
	// characters); anything longer cannot match a user or group.
	maxRefLen  = 256
	maxNameLen = 256
	// maxRequestIDLen keeps ids short enough to type and to log safely.
	maxRequestIDLen = 64
	// minMatchLen stops `match a`, which would select nearly every user.
	minMatchLen = 2
)

// MinLifetime and MaxLifetime are the access-token lifetimes Entra accepts in
// a token lifetime policy; a value outside them would only fail later, at
// Graph, after someone had approved it.
const (
	MinLifetime = 10 * time.Minute
	MaxLifetime = 24 * time.Hour
)

// The actions of KindPolicy, as in Command.PolicyAction.
const (
	PolicyShow  = ""
	PolicySet   = "set"
	PolicyReset = "reset"
)

// String returns the verb that selects k ("help", "user", "group", "match",
// "status", "cancel", "deny", "schedule", "policy", "audit"), so messages and
// Command.String can use it directly.
func (k Kind) String() string {
	switch k {
	case KindHelp:
		return "help"
	case KindRevokeUsers:
		return "user"
	case KindRevokeGroup:
		return "group"
	case KindRevokeMatch:
		return "match"
	case KindStatus:
		return "status"
	case KindCancel:
		return "cancel"
	case KindDeny:
		return "deny"
	case KindSchedule:
		return "schedule"
	case KindPolicy:
		return "policy"
	case KindAudit:
		return "audit"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// revokes reports whether k asks for a sign-out.
func (k Kind) revokes() bool {
	return k == KindRevokeUsers || k == KindRevokeGroup || k == KindRevokeMatch
}

// takesReason reports whether a --reason belongs to c: a sign-out's is shown to the approver, a deny's to the
// requester and on the card, and a policy change's records why token lifetimes were changed.
func (c Command) takesReason() bool {
	return c.Kind.revokes() || c.Kind == KindDeny || c.Kind == KindPolicy && c.PolicyAction == PolicySet
}

// Command is one parsed /signout command. Only the fields of its Kind are set.
type Command struct {
	Kind      Kind
	Users     []string // KindRevokeUsers: references as typed (UPN/mail, object id GUID, or "smtp:addr"); de-duplicated case-insensitively, order kept
	Group     string   // KindRevokeGroup: display name (may contain spaces) or object id
	Match     string   // KindRevokeMatch: text that display names must contain
	Target    string   // KindStatus: one user reference; KindAudit: a request id (AuditRequest) or a user reference, as typed
	RequestID string   // KindCancel, KindDeny
	Reason    string   // --reason, optional, for revoke kinds, deny and policy set (a deny's reason may also follow the id)
	Topic     string   // KindHelp: optional topic (a form's name: "user", "group", "plan", "policy", …)

	// Plan is set on a sign-out kind typed as "plan user|group|match …": show
	// what would happen and ask nobody for anything.
	Plan bool
	// At is the --at of a sign-out kind, as typed (e.g. "2026-12-01 22:00" or
	// "tomorrow 06:00 Europe/Berlin"); "" means now. It is only known to be a
	// time: resolve it with ParseWhen in the requester's zone and the real
	// clock, which is also where a time in the past is refused.
	At string

	PolicyAction string        // KindPolicy: PolicyShow (""), PolicySet or PolicyReset
	Lifetime     time.Duration // KindPolicy with PolicySet: whole minutes from MinLifetime to MaxLifetime
	Until        string        // KindPolicy with PolicySet: --until as typed, always set; resolve it like At

	// AuditRequest is set on KindAudit when Target is a request id (compare it
	// in upper case: it may be typed in lower case) rather than a user.
	AuditRequest bool
}

// Error is a parse error meant to be shown to the admin as is.
type Error struct {
	Msg        string // what is wrong, e.g. `unknown command "gruop"`
	Suggestion string // what they probably meant, e.g. "group"; empty if nothing is close
	Usage      string // the usage line of the form they were typing, if known
}

// Error renders the whole explanation in one line, e.g.
// `unknown command "gruop". Did you mean "group"? Usage: /signout group <name or id> [--reason "…"]`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if r, _ := utf8.DecodeLastRuneInString(e.Msg); r != '.' && r != '?' && r != '!' {
		b.WriteByte('.')
	}
	if e.Suggestion != "" {
		b.WriteString(` Did you mean "` + e.Suggestion + `"?`)
	}
	if e.Usage != "" {
		b.WriteString(" Usage: " + e.Usage)
	}
	return b.String()
}

// usage returns the one-line synopsis of a kind, used in errors and help.
func usage(k Kind) string {
	switch k {
	case KindHelp:
		return "/signout help [" + strings.Join(topicNames(), "|") + "]"
	case KindRevokeUsers:
		return `/signout user <e-mail, UPN or object id> [more …] [--at "<when>"] [--reason "…"]`
	case KindRevokeGroup:
		return `/signout group <name or id> [--at "<when>"] [--reason "…"]`
	case KindRevokeMatch:
		return `/signout match <text in display names> [--at "<when>"] [--reason "…"]`
	case KindStatus:
		return "/signout status <e-mail, UPN or object id>"
	case KindCancel:
		return "/signout cancel <request id>"
	case KindDeny:
		return "/signout deny <request id> [reason]"
	case KindSchedule:
		return "/signout schedule"
	case KindPolicy:
		return `/signout policy [set <lifetime, 10m to 1d> --until "<when>" [--reason "…"] | reset]`
	case KindAudit:
		return "/signout audit <request id or user>"
	}
	return generalUsage
}

// planWord prefixes a sign-out form to only show its plan. It is a verb for
// did-you-mean and help, but not a Kind: the plan of a group sign-out is a
// group sign-out with Plan set, so consumers keep one switch on Kind.
const planWord = "plan"

// planUsage is usage for the plan prefix.
const planUsage = `/signout plan user|group|match … [--at "<when>"] [--reason "…"]`

// generalUsage is shown when we cannot tell which form the admin meant.
const generalUsage = "/signout user|group|match|plan|schedule|status|cancel|deny|policy|audit|help … (type /signout help for examples)"

// verbs lists the kinds in the order used for breaking ties between equally
// close did-you-mean suggestions. New kinds go at the end so that the
// suggestions for the old ones stay what they were.
var verbs = [...]Kind{KindHelp, KindRevokeUsers, KindRevokeGroup, KindRevokeMatch, KindStatus, KindCancel, KindDeny,
	KindSchedule, KindPolicy, KindAudit}

// verbNames are the words that may start a command: the kinds' verbs in the
// order of verbs, then "plan" (last, for the same reason as new kinds).
func verbNames() []string {
	names := make([]string, 0, len(verbs)+1)
	for _, k := range verbs {
		names = append(names, k.String())
	}
	return append(names, planWord)
}

// topicNames are the forms Help can narrow to, in the order Help shows them.
func topicNames() []string {
	var names []string
	for _, s := range helpSections() {
		if s.topic != KindHelp.String() {
			names = append(names, s.topic)
		}
	}
	return names
}

// usageOf returns the usage line of a verb name, plan included.
func usageOf(name string) string {
	if name == planWord {
		return planUsage
	}
	return usage(kindOf(name))
}

// String returns canonical text for c: Parse(c.String()) gives back an equal
// Command for every Command that Parse can return. It is meant for audit logs
// and for echoing "you asked for: /signout …" back to the admins.
func (c Command) String() string {
	var b strings.Builder
	if c.Plan && c.Kind.revokes() {
		b.WriteString(planWord + " ")
	}
	b.WriteString(c.Kind.String())
	switch c.Kind {
	case KindHelp:
		if c.Topic != "" {
			b.WriteString(" " + quoteWord(c.Topic))
		}
	case KindRevokeUsers:
		for _, u := range c.Users {
			b.WriteString(" " + quoteWord(u))
		}
	case KindRevokeGroup:
		b.WriteString(" " + quoteValue(c.Group))
	case KindRevokeMatch:
		b.WriteString(" " + quoteValue(c.Match))
	case KindStatus, KindAudit:
		b.WriteString(" " + quoteWord(c.Target))
	case KindCancel, KindDeny:
		b.WriteString(" " + quoteWord(c.RequestID))
	case KindPolicy:
		switch c.PolicyAction {
		case PolicySet:
			b.WriteString(" " + PolicySet + " " + formatLifetime(c.Lifetime) + " --until " + quoteValue(c.Until))
		case PolicyReset:
			b.WriteString(" " + PolicyReset)
		}
	}
	if c.At != "" && c.Kind.revokes() {
		b.WriteString(" --at " + quoteValue(c.At))
	}
	if c.Reason != "" && c.takesReason() {
		b.WriteString(" --reason " + quoteValue(c.Reason))
	}
	return escapeMarkup(b.String())
}

// quoteWord writes one word (a user reference, request id or unknown help
// topic) bare if Parse reads it back as a word, and in double quotes if bare
// it would be an option: "-a@contoso.com" is a valid address, and "-x" a
// valid request id, but typed bare both are options.
func quoteWord(w string) string {
	if toks, err := lex(w); err == nil && len(toks) == 1 && toks[0].opt == nil && !toks[0].quoted {
		return w
	}
	return `"` + w + `"`
}

// quoteValue writes a free-text value (group name, match text, reason) so that
// Parse reads it back unchanged, preferring the most readable form that does.
// Double quotes come first; a value that itself contains `" ` cannot be
// double-quoted (the quote would end there), so it is written bare, which the
// rest-of-line rule reads back as typed. Bare text that would lose a leading
// quoted span (a reason stops after one) or a pair of single quotes (Parse
// strips one) is wrapped in an extra pair of single quotes, either as words of
// their own, which keeps the value's own quoted spans intact, or glued on,
// which turns a dangling leading '"' into plain text.
func quoteValue(v string) string {
	candidates := [...]string{`"` + v + `"`, v, "' " + v + " '", "'" + v + "'"}
	for _, c := range candidates {
		if readsBack(c, v) {
			return c
		}
	}
	return candidates[0] // only for values Parse cannot produce
}
