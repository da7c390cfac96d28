package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Parse turns the text after /signout into a Command. Errors are *Error.
//
// Grammar (verbs case-insensitive; options anywhere, each only where it fits):
//
//	(empty) | help [topic]
//	user <ref> [<ref> …]        refs separated by spaces, commas or semicolons
//	<ref> [<ref> …]             the same, when the first word is a user
//	group <name or id>          the rest of the line; one pair of quotes stripped
//	match <text>                at least 2 characters
//	plan <one of the three sign-out forms above>
//	schedule
//	status <ref>
//	cancel <request id>
//	deny <request id> [reason]
//	policy [set <lifetime> | reset]
//	audit <request id or ref>
//
//	--reason <text>             sign-outs, deny and policy set
//	--at <when>                 sign-outs (with or without plan); see ParseWhen
//	--until <when>              policy set, where it is required
//
// An option's value is one quoted span, or else the words up to the next
// option or the end of the line.
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

	kind, plan, args, e := verb(pos)
	if e != nil {
		return Command{}, e
	}
	c := Command{Kind: kind, Plan: plan}
	// Which options fit a policy command depends on its action, so read that first.
	if kind == KindPolicy {
		if c.PolicyAction, args, e = policyAction(args); e != nil {
			return Command{}, e
		}
	}
	use := c.usage()
	if optErr != nil {
		optErr.Usage = use
		return Command{}, optErr
	}
	if len(pos) == 0 && opts.first != "" {
		return Command{}, swallowed(opts.first)
	}
	// "schedule group X --at …" means to schedule a sign-out: say how, rather than that --at is misplaced.
	if kind == KindSchedule {
		if e := schedule(args); e != nil {
			return Command{}, e
		}
	}
	if e := optionsFit(c, opts); e != nil {
		return Command{}, e
	}

	if n := utf8.RuneCountInString(opts.reason); n > MaxReasonLen {
		return Command{}, &Error{
			Msg: fmt.Sprintf("the reason is %s characters; at most %s fit on the card, so shorten it "+
				"(a ticket number and a few words are enough)", thousands(n), thousands(MaxReasonLen)),
			Usage: use,
		}
	}
	for _, o := range [...]struct{ name, value string }{{"at", opts.at}, {"until", opts.until}} {
		if o.value == "" {
			continue
		}
		if _, p := parseWhen(o.value, time.UTC, checkNow); p != "" {
			e := whenError(o.name, o.value, p)
			e.Usage = use
			return Command{}, e
		}
	}
	c.Reason, c.At, c.Until = opts.reason, opts.at, opts.until

	switch kind {
	case KindHelp:
		// Only the first word counts, without quotes, so that an unknown
		// topic is one word that String can write back.
		if w := words(args); len(w) > 0 {
			if c.Topic = topic(w[0]); c.Topic == "" {
				c.Topic = strings.ToLower(w[0]) // unknown: Help says so
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
	case KindSchedule:
		// checked above
	case KindPolicy:
		c.Lifetime, e = policy(c.PolicyAction, args, opts)
	case KindAudit:
		c.Target, c.AuditRequest, e = audit(args)
	}
	if e != nil {
		return Command{}, e
	}
	return c, nil
}

// form names what c was typed as, for "only goes with" errors: "status",
// "plan group", "policy set".
func (c Command) form() string {
	switch {
	case c.Plan:
		return planWord + " " + c.Kind.String()
	case c.Kind == KindPolicy && c.PolicyAction != PolicyShow:
		return c.Kind.String() + " " + c.PolicyAction
	}
	return c.Kind.String()
}

// usage is the usage line for the form c was typed as.
func (c Command) usage() string {
	if c.Plan {
		return planUsage
	}
	return usage(c.Kind)
}

// swallowed explains a line with options but no command: an unquoted option
// value runs on to the end of the line, so "--at 22:00 group X" or
// "-r phishing a@x.com" has eaten the command, or the line only had options.
func swallowed(option string) *Error {
	const how = "takes the rest of the line, so put it last or quote it, e.g. "
	switch option {
	case "at":
		return &Error{Msg: `nothing to sign out: an unquoted --at ` + how + `/signout group Migrated --at "2026-12-01 22:00"`,
			Usage: usage(KindRevokeGroup)}
	case "until":
		return &Error{Msg: `nothing to change: an unquoted --until ` + how + `/signout policy set 10m --until "2026-12-03 09:00"`,
			Usage: usage(KindPolicy)}
	}
	return &Error{Msg: `nothing to sign out: an unquoted --reason ` + how + `/signout user lester@contoso.com --reason "left the company"`,
		Usage: usage(KindRevokeUsers)}
}

// optionsFit refuses options given to a form they do not belong to, pointing
// to the option that does what was probably meant.
func optionsFit(c Command, o options) *Error {
	var msg string
	switch {
	case o.hasReason && !c.takesReason():
		msg = fmt.Sprintf("--reason only goes with a sign-out (user, group or match), deny or policy set, not with %s", c.form())
	case o.hasAt && !c.Kind.revokes():
		msg = fmt.Sprintf("--at only goes with a sign-out (user, group or match), not with %s", c.form())
		if c.Kind == KindPolicy && c.PolicyAction == PolicySet {
			msg += `; a policy change ends at its --until, e.g. /signout policy set 10m --until "2026-12-03 09:00"`
		}
	case o.hasUntil && (c.Kind != KindPolicy || c.PolicyAction != PolicySet):
		msg = fmt.Sprintf("--until only goes with policy set, not with %s", c.form())
		if c.Kind.revokes() {
			msg += `; to schedule a sign-out, use --at, e.g. /signout group Migrated --at "2026-12-01 22:00"`
		}
	default:
		return nil
	}
	return &Error{Msg: msg, Usage: c.usage()}
}

// verb finds the form from the first positional word and returns the words
// after it (all of them for the bare user-list form). A leading "plan" asks
// for the plan of the sign-out form after it.
func verb(pos []token) (Kind, bool, []token, *Error) {
	if len(pos) == 0 {
		return KindHelp, false, nil, nil
	}
	first := strings.ToLower(pos[0].raw)
	if first == planWord {
		k, args, e := plannedVerb(pos[1:])
		return k, true, args, e
	}
	for _, k := range verbs {
		if first == k.String() {
			return k, false, pos[1:], nil
		}
	}
	if w := words(pos[:1]); len(w) > 0 && looksLikeRef(w[0]) {
		return KindRevokeUsers, false, pos, nil
	}
	if s := closest(pos[0].text, verbNames()); s != "" {
		return 0, false, nil, &Error{Msg: fmt.Sprintf("unknown command %s", show(pos[0].text)), Suggestion: s, Usage: usageOf(s)}
	}
	return 0, false, nil, &Error{
		Msg: fmt.Sprintf("%s is not a command or a user; commands are %s, and a user is %s. "+
			`To find people by display name, use "match"`, show(pos[0].text), andList(verbNames()), refForms),
		Usage: generalUsage,
	}
}

// plannedVerb reads the sign-out form after "plan".
func plannedVerb(pos []token) (Kind, []token, *Error) {
	signOuts := []string{KindRevokeUsers.String(), KindRevokeGroup.String(), KindRevokeMatch.String()}
	if len(pos) == 0 {
		return 0, nil, &Error{Msg: "plan needs the sign-out to show, e.g. /signout plan group Migrated", Usage: planUsage}
	}
	first := strings.ToLower(pos[0].raw)
	for _, k := range verbs {
		if first == k.String() && k.revokes() {
			return k, pos[1:], nil
		}
	}
	if w := words(pos[:1]); len(w) > 0 && looksLikeRef(w[0]) {
		return KindRevokeUsers, pos, nil
	}
	if first == planWord {
		return 0, nil, &Error{Msg: `"plan" is given twice; type it once, e.g. /signout plan group Migrated`, Usage: planUsage}
	}
	for _, k := range verbs {
		if first == k.String() {
			return 0, nil, &Error{Msg: fmt.Sprintf("plan only goes with a sign-out (user, group or match), not with %s", k),
				Usage: planUsage}
		}
	}
	if s := closest(pos[0].text, signOuts); s != "" {
		return 0, nil, &Error{Msg: fmt.Sprintf("unknown sign-out form %s", show(pos[0].text)), Suggestion: s, Usage: usageOf(s)}
	}
	return 0, nil, &Error{
		Msg: fmt.Sprintf("%s is not a sign-out form or a user; plan shows the plan of a sign-out: plan user …, plan group … "+
			"or plan match …", show(pos[0].text)),
		Usage: planUsage,
	}
}

// andList writes "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
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
	return closest(strings.ToLower(w), topicNames())
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
		return "", "", &Error{Msg: "deny needs the request id shown in the request message, e.g. /signout deny R7K3Q9P wrong group",
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
		return "", &Error{Msg: fmt.Sprintf("%s needs the request id shown in the request message, e.g. /signout %s R7K3Q9P", kind, kind), Usage: usage(kind)}
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

// schedule checks that nothing follows "schedule": it only lists. Someone
// who typed "schedule group X …" wants --at, so the error shows it.
func schedule(args []token) *Error {
	if len(args) == 0 {
		return nil
	}
	return &Error{
		Msg: fmt.Sprintf("schedule takes nothing after it, but %s was given: it lists the scheduled sign-outs. "+
			`To schedule one, add --at to the sign-out, e.g. /signout group Migrated --at "2026-12-01 22:00"`, show(rest(args))),
		Usage: usage(KindSchedule),
	}
}

// policyAction reads the word after "policy": nothing (show), set or reset.
func policyAction(args []token) (string, []token, *Error) {
	if len(args) == 0 {
		return PolicyShow, nil, nil
	}
	switch w := strings.ToLower(args[0].raw); w {
	case PolicySet, PolicyReset:
		return w, args[1:], nil
	}
	w := args[0].text
	e := &Error{Usage: usage(KindPolicy)}
	if _, p := parseLifetime(rest(args)); p == "" || w != "" && digits(w[:1]) {
		// "policy 10m": the word "set" is missing.
		e.Msg = fmt.Sprintf(`%s is not a policy action; to change the lifetime, type /signout policy set %s --until "2026-12-03 09:00"`,
			show(w), rest(args))
		return "", nil, e
	}
	if e.Suggestion = closest(w, []string{PolicySet, PolicyReset}); e.Suggestion != "" {
		e.Msg = fmt.Sprintf("unknown policy action %s", show(w))
		return "", nil, e
	}
	e.Msg = fmt.Sprintf("unknown policy action %s: /signout policy alone shows the policy, policy set changes the lifetime "+
		"and policy reset puts the default back", show(w))
	return "", nil, e
}

// policy reads what follows the action: a lifetime and --until for set,
// nothing otherwise.
func policy(action string, args []token, o options) (time.Duration, *Error) {
	if action != PolicySet {
		if len(args) > 0 {
			what := "/signout policy alone shows the policy"
			if action == PolicyReset {
				what = "policy reset puts the default lifetime back"
			}
			return 0, &Error{Msg: fmt.Sprintf("%s and takes nothing more, but %s was given", what, show(rest(args))),
				Usage: usage(KindPolicy)}
		}
		return 0, nil
	}
	text := rest(args)
	if text == "" {
		return 0, &Error{Msg: `policy set needs the new access-token lifetime, e.g. /signout policy set 10m --until "2026-12-03 09:00"`,
			Usage: usage(KindPolicy)}
	}
	d, p := parseLifetime(text)
	if p != "" {
		return 0, &Error{Msg: fmt.Sprintf("the lifetime %s does not work: %s", show(text), p), Usage: usage(KindPolicy)}
	}
	if !o.hasUntil {
		return 0, &Error{
			Msg: `policy set needs --until "<when>", the time the change ends and the default lifetime returns: ` +
				"a short token lifetime left in place by accident breaks sign-ins. " +
				`E.g. /signout policy set ` + formatLifetime(d) + ` --until "2026-12-03 09:00"`,
			Usage: usage(KindPolicy),
		}
	}
	return d, nil
}

// audit reads the one request id or user whose audit log to show.
func audit(args []token) (string, bool, *Error) {
	refs := words(args)
	switch {
	case len(refs) == 0:
		return "", false, &Error{Msg: "audit needs a request id or a user, e.g. /signout audit R7K3Q9P or /signout audit lester@contoso.com",
			Usage: usage(KindAudit)}
	case len(refs) > 1:
		return "", false, &Error{Msg: fmt.Sprintf("audit takes one request id or one user, but %d were given (%s, …); "+
			"ask for each one separately", len(refs), show(refs[0])), Usage: usage(KindAudit)}
	}
	w := refs[0]
	if isIssuedRequestID(w) {
		return w, true, nil
	}
	p := refProblem(w)
	switch {
	case p == "":
		return w, false, nil
	case looksLikeIssuedRequestID(w):
		return "", false, &Error{Msg: fmt.Sprintf("%s is not a request id: ids are R and %d letters or digits, as shown in the "+
			"request message (e.g. R7K3Q9P), and never contain 0, 1, I or O", show(w), requestIDLen-1), Usage: usage(KindAudit)}
	}
	return "", false, &Error{Msg: fmt.Sprintf("%s is neither a request id nor a user: %s. Give a request id (R7K3Q9P) or %s",
		show(w), p, refForms), Usage: usage(KindAudit)}
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
