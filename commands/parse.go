package commands

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse turns the text after /signout into a Command. Errors are *Error.
//
// Grammar (verbs case-insensitive, --reason anywhere, only on sign-out forms):
//
//	(empty) | help [topic]
//	user <ref> [<ref> …]        refs separated by spaces, commas or semicolons
//	<ref> [<ref> …]             the same, when the first word is a user
//	group <name or id>          the rest of the line; one pair of quotes stripped
//	match <text>                at least 2 characters
//	status <ref>
//	cancel <request id>
func Parse(text string) (Command, error) {
	// parse works with *Error; success must return an untyped nil, because a
	// nil *Error inside an error interface does not compare equal to nil.
	c, e := parse(text)
	if e != nil {
		return Command{}, e
	}
	return c, nil
}

func parse(text string) (Command, *Error) {
	line, e := normalize(text)
	if e != nil {
		return Command{}, e
	}
	toks, e := lex(line)
	if e != nil {
		return Command{}, e
	}
	opts, pos, optErr := splitOptions(toks)

	kind, args, e := verb(pos)
	if e != nil {
		return Command{}, e
	}
	if optErr != nil {
		optErr.Usage = usage(kind)
		return Command{}, optErr
	}
	if opts.hasReason && len(pos) == 0 {
		// "/signout -r phishing a@x.com": the unquoted reason swallowed the users.
		return Command{}, &Error{
			Msg: `nothing to sign out: an unquoted --reason takes the rest of the line, so put it last or quote it, ` +
				`e.g. /signout user lester@contoso.com --reason "left the company"`,
			Usage: usage(KindRevokeUsers),
		}
	}
	if opts.hasReason && !kind.takesReason() {
		return Command{}, &Error{
			Msg:   fmt.Sprintf("--reason only goes with a sign-out (user, group or match), not with %s", kind),
			Usage: usage(kind),
		}
	}

	if n := utf8.RuneCountInString(opts.reason); n > MaxReasonLen {
		return Command{}, &Error{
			Msg: fmt.Sprintf("the reason is %s characters; at most %s fit on the card, so shorten it "+
				"(a ticket number and a few words are enough)", thousands(n), thousands(MaxReasonLen)),
			Usage: usage(kind),
		}
	}

	c := Command{Kind: kind, Reason: opts.reason}
	switch kind {
	case KindHelp:
		if len(args) > 0 {
			raw := strings.Trim(args[0].raw, `"'`)
			if c.Topic = topic(raw); c.Topic == "" {
				c.Topic = strings.ToLower(raw) // unknown: Help says so
			}
		}
	case KindRevokeUsers:
		c.Users, e = users(args)
	case KindRevokeGroup:
		c.Group, e = freeText(args, kind, "a group name or object id", `/signout group "Migration Wave 1"`, maxNameLen)
	case KindRevokeMatch:
		c.Match, e = freeText(args, kind, "the text that display names must contain", `/signout match "(Contractor)"`, maxNameLen)
		if e == nil && utf8.RuneCountInString(c.Match) < minMatchLen {
			e = &Error{
				Msg: fmt.Sprintf("match text %s is too short: it needs at least %d characters, because a single letter "+
					"would select almost every user in the tenant", show(c.Match), minMatchLen),
				Usage: usage(kind),
			}
		}
	case KindStatus:
		c.Target, e = status(args)
	case KindCancel:
		c.RequestID, e = cancel(args)
	case KindDeny:
		c.RequestID, c.Reason, e = deny(args, opts.reason)
	}
	if e != nil {
		return Command{}, e
	}
	return c, nil
}

// verb finds the form from the first positional word and returns the words
// after it (all of them for the bare user-list form).
func verb(pos []token) (Kind, []token, *Error) {
	if len(pos) == 0 {
		return KindHelp, nil, nil
	}
	first := strings.ToLower(pos[0].raw)
	for _, k := range verbs {
		if first == k.String() {
			return k, pos[1:], nil
		}
	}
	if w := words(pos[:1]); len(w) > 0 && looksLikeRef(w[0]) {
		return KindRevokeUsers, pos, nil
	}
	if s := closestVerb(pos[0].text); s != "" {
		k := kindOf(s)
		return 0, nil, &Error{Msg: fmt.Sprintf("unknown command %s", show(pos[0].text)), Suggestion: s, Usage: usage(k)}
	}
	return 0, nil, &Error{
		Msg: fmt.Sprintf("%s is not a command or a user; commands are help, user, group, match, status and cancel, and a user is %s. "+
			`To find people by display name, use "match"`, show(pos[0].text), refForms),
		Usage: generalUsage,
	}
}

func closestVerb(w string) string {
	names := make([]string, len(verbs))
	for i, k := range verbs {
		names[i] = k.String()
	}
	return closest(w, names)
}

func kindOf(name string) Kind {
	for _, k := range verbs {
		if k.String() == name {
			return k
		}
	}
	return KindHelp
}

// topic maps a help topic to a form name; anything unknown asks for the full
// help rather than failing, since someone asking for help should get some.
func topic(w string) string {
	w = strings.ToLower(w)
	names := make([]string, 0, len(verbs)-1)
	for _, k := range verbs[1:] {
		names = append(names, k.String())
	}
	return closest(w, names)
}

// users validates a user list, drops repeats (the same person typed twice, in
// any case, is one sign-out) and refuses lists too long to review.
func users(args []token) ([]string, *Error) {
	refs := words(args)
	if len(refs) == 0 {
		return nil, &Error{
			Msg:   "user needs at least one e-mail address, UPN or object id, e.g. /signout user lester@contoso.com",
			Usage: usage(KindRevokeUsers),
		}
	}
	var first *Error
	bad := 0
	for _, r := range refs {
		if p := refProblem(r); p != "" {
			if first == nil {
				first = &Error{Msg: fmt.Sprintf("%s is not a user: %s. Use %s", show(r), p, refForms), Usage: usage(KindRevokeUsers)}
			}
			bad++
		}
	}
	if first != nil {
		if bad > 1 {
			first.Msg = fmt.Sprintf("%d entries are not users. The first, %s", bad, first.Msg)
		}
		return nil, first
	}
	seen := make(map[string]bool, len(refs))
	out := refs[:0]
	for _, r := range refs {
		if k := strings.ToLower(r); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	if len(out) > MaxUsers {
		return nil, &Error{
			Msg: fmt.Sprintf("too many users: %d in one request, the limit is %d. "+
				`Use "group" to sign out a large group, or split the list into several requests`, len(out), MaxUsers),
			Usage: usage(KindRevokeGroup),
		}
	}
	return out, nil
}

// freeText reads a group name or match text: the rest of the line.
func freeText(args []token, kind Kind, what, example string, limit int) (string, *Error) {
	v := rest(args)
	if v == "" {
		return "", &Error{Msg: fmt.Sprintf("%s needs %s, e.g. %s", kind, what, example), Usage: usage(kind)}
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return "", &Error{Msg: fmt.Sprintf("the %s text is %d characters long; the limit is %d", kind, n, limit), Usage: usage(kind)}
	}
	return v, nil
}

func status(args []token) (string, *Error) {
	refs := words(args)
	switch {
	case len(refs) == 0:
		return "", &Error{Msg: "status needs one user, e.g. /signout status lester@contoso.com", Usage: usage(KindStatus)}
	case len(refs) > 1:
		return "", &Error{Msg: fmt.Sprintf("status takes exactly one user, but %d were given (%s, …); ask for each one separately",
			len(refs), show(refs[0])), Usage: usage(KindStatus)}
	}
	if p := refProblem(refs[0]); p != "" {
		return "", &Error{Msg: fmt.Sprintf("%s is not a user: %s. Use %s", show(refs[0]), p, refForms), Usage: usage(KindStatus)}
	}
	return refs[0], nil
}

// deny reads "<request id> [reason…]": the reason is the rest of the line, or --reason.
func deny(args []token, reason string) (string, string, *Error) {
	if len(args) == 0 {
		return "", "", &Error{Msg: "deny needs the request id shown in the request message, e.g. /signout deny R7K3Q9 wrong group",
			Usage: usage(KindDeny)}
	}
	id, e := requestID(args[:1], KindDeny)
	if e != nil {
		return "", "", e
	}
	if more := rest(args[1:]); more != "" {
		if reason != "" {
			return "", "", &Error{Msg: "give the reason once: after the request id, or with --reason", Usage: usage(KindDeny)}
		}
		reason = more
	}
	if n := utf8.RuneCountInString(reason); n > MaxReasonLen {
		return "", "", &Error{Msg: fmt.Sprintf("the reason is %s characters; at most %s fit on the card", thousands(n), thousands(MaxReasonLen)),
			Usage: usage(KindDeny)}
	}
	return id, reason, nil
}

func cancel(args []token) (string, *Error) { return requestID(args, KindCancel) }

func requestID(args []token, kind Kind) (string, *Error) {
	ids := words(args)
	switch {
	case len(ids) == 0:
		return "", &Error{Msg: fmt.Sprintf("%s needs the request id shown in the request message, e.g. /signout %s R7K3Q9", kind, kind), Usage: usage(kind)}
	case len(ids) > 1:
		return "", &Error{Msg: fmt.Sprintf("%s takes exactly one request id, but %d were given; %s them one at a time", kind, len(ids), kind),
			Usage: usage(kind)}
	}
	if !validRequestID(ids[0]) {
		return "", &Error{Msg: fmt.Sprintf("%s is not a request id: ids are 1 to %d letters, digits, - or _, as shown in the request message",
			show(ids[0]), maxRequestIDLen), Usage: usage(kind)}
	}
	return ids[0], nil
}

// thousands writes n with comma separators ("2,345"), as the limits in the
// help are written, so the number in an error reads like the one in the help.
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
