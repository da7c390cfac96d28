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

// String returns the verb that selects k ("help", "user", "group", "match",
// "status", "cancel"), so messages and Command.String can use it directly.
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
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// revokes reports whether k asks for a sign-out.
func (k Kind) revokes() bool {
	return k == KindRevokeUsers || k == KindRevokeGroup || k == KindRevokeMatch
}

// takesReason reports whether a --reason belongs to k: a sign-out's is shown to the approver, a deny's to the
// requester and on the card.
func (k Kind) takesReason() bool { return k.revokes() || k == KindDeny }

// Command is one parsed /signout command. Only the fields of its Kind are set.
type Command struct {
	Kind      Kind
	Users     []string // KindRevokeUsers: references as typed (UPN/mail, object id GUID, or "smtp:addr"); de-duplicated case-insensitively, order kept
	Group     string   // KindRevokeGroup: display name (may contain spaces) or object id
	Match     string   // KindRevokeMatch: text that display names must contain
	Target    string   // KindStatus: one user reference
	RequestID string   // KindCancel, KindDeny
	Reason    string   // --reason, optional, for revoke kinds and deny (a deny's reason may also follow the id)
	Topic     string   // KindHelp: optional topic ("user","group","match","status","cancel")
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
		return "/signout help [user|group|match|status|cancel|deny]"
	case KindRevokeUsers:
		return `/signout user <e-mail, UPN or object id> [more …] [--reason "…"]`
	case KindRevokeGroup:
		return `/signout group <name or id> [--reason "…"]`
	case KindRevokeMatch:
		return `/signout match <text in display names> [--reason "…"]`
	case KindStatus:
		return "/signout status <e-mail, UPN or object id>"
	case KindCancel:
		return "/signout cancel <request id>"
	case KindDeny:
		return "/signout deny <request id> [reason]"
	}
	return generalUsage
}

// generalUsage is shown when we cannot tell which form the admin meant.
const generalUsage = "/signout user|group|match|status|cancel|deny|help … (type /signout help for examples)"

// verbs lists the kinds in the order used for help and for breaking ties
// between equally close did-you-mean suggestions.
var verbs = [...]Kind{KindHelp, KindRevokeUsers, KindRevokeGroup, KindRevokeMatch, KindStatus, KindCancel, KindDeny}

// String returns canonical text for c: Parse(c.String()) gives back an equal
// Command for every Command that Parse can return. It is meant for audit logs
// and for echoing "you asked for: /signout …" back to the admins.
func (c Command) String() string {
	var b strings.Builder
	b.WriteString(c.Kind.String())
	switch c.Kind {
	case KindHelp:
		if c.Topic != "" {
			b.WriteString(" " + c.Topic)
		}
	case KindRevokeUsers:
		for _, u := range c.Users {
			b.WriteString(" " + u)
		}
	case KindRevokeGroup:
		b.WriteString(" " + quoteValue(c.Group))
	case KindRevokeMatch:
		b.WriteString(" " + quoteValue(c.Match))
	case KindStatus:
		b.WriteString(" " + c.Target)
	case KindCancel, KindDeny:
		b.WriteString(" " + c.RequestID)
	}
	if c.Reason != "" && c.Kind.takesReason() {
		b.WriteString(" --reason " + quoteValue(c.Reason))
	}
	return escapeMarkup(b.String())
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
