package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// sampleSize is how many users the card lists; the rest go to the thread, never silently dropped.
const sampleSize = 10

// listChunk is how many users one thread message lists.
const listChunk = 100

// FormatTime shows t in loc with UTC beside it, e.g. "Wed 25 Nov 14:05 CET (13:05 UTC)".
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	if loc == time.UTC {
		return local.Format("Mon 2 Jan 15:04:05 UTC")
	}
	return fmt.Sprintf("%s (%s UTC)", local.Format("Mon 2 Jan 15:04:05 MST"), t.UTC().Format("15:04:05"))
}

// FormatDuration is a lifetime as people say it: "2 h", "90 min", "45 s".
func FormatDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%d s", d/time.Second)
}

// location is the time zone a platform reports for a user, cached for the life of the process.
func (a *App) location(ctx context.Context, platform, userID string) *time.Location {
	key := platform + ":" + userID
	a.mu.Lock()
	if a.tzCache == nil {
		a.tzCache = make(map[string]*time.Location)
	}
	loc, ok := a.tzCache[key]
	a.mu.Unlock()
	if ok {
		return loc
	}
	loc = time.UTC
	if m, ok := a.messenger(platform); ok {
		if p, err := m.Person(ctx, userID); err == nil && p.TimeZone != "" {
			if l, err := time.LoadLocation(p.TimeZone); err == nil {
				loc = l
			}
		}
	}
	a.mu.Lock()
	a.tzCache[key] = loc
	a.mu.Unlock()
	return loc
}

func tally(targets []store.Target) map[store.TargetStatus]int {
	c := make(map[store.TargetStatus]int)
	for _, t := range targets {
		c[t.Status]++
	}
	return c
}

var statusTitle = map[store.RequestStatus]string{
	store.StatusPending:   "waiting for approval",
	store.StatusApproved:  "approved, starting",
	store.StatusRunning:   "signing out",
	store.StatusDone:      "done",
	store.StatusDenied:    "denied",
	store.StatusExpired:   "expired",
	store.StatusCancelled: "cancelled",
	store.StatusFailed:    "failed: nobody was signed out",
}

// outcome is what the evidence supports for a request: who is signed out and who is not, and why.
type outcome struct {
	inScope   int // not excluded
	users     int // in scope and not guests: those this tenant can sign out
	guests    int
	revoked   int // Graph accepted the revocation (guests included)
	confirmed int // sessions invalid, confirmed from Graph (tokens expired included)
	signedOut int // access tokens expired too: every client is signed out
	open      int // revoked, still being confirmed
	failed    int
	unconfirm int
	pending   int
}

func outcomeOf(targets []store.Target) outcome {
	var o outcome
	for _, t := range targets {
		if t.Status == store.TargetExcluded {
			continue
		}
		o.inScope++
		if t.Guest {
			o.guests++
		} else {
			o.users++
		}
		switch t.Status {
		case store.TargetPending:
			o.pending++
		case store.TargetRevoked:
			o.open++
		case store.TargetSessionsInvalid:
			o.confirmed++
		case store.TargetTokensExpired:
			o.confirmed++
			o.signedOut++
		case store.TargetFailed:
			o.failed++
		case store.TargetUnconfirmed:
			o.unconfirm++
		}
		if !t.RevokedAt.IsZero() {
			o.revoked++
		}
	}
	return o
}

// everyone reports whether every user this tenant can sign out is signed out: the only case in which the bot
// may say "every client is signed out".
func (o outcome) everyone() bool { return o.users > 0 && o.signedOut == o.users }

// header is the card's title, which follows the evidence rather than the request's status alone.
func header(req store.Request, o outcome) string {
	title := statusTitle[req.Status]
	switch {
	case req.Status == store.StatusRunning && o.pending == 0 && o.open == 0 && !req.TokensExpireAt.IsZero():
		title = "revoked and confirmed — waiting for access tokens to expire"
	case req.Status == store.StatusDone && o.everyone():
		title = "done: every client is signed out"
	case req.Status == store.StatusDone:
		title = fmt.Sprintf("done: %d of %s signed out", o.signedOut, plural(o.users, "user"))
	}
	return fmt.Sprintf("Sign-out request %s — %s", req.ID, title)
}

// render draws a request's card from its stored state.
func (a *App) render(ctx context.Context, req store.Request, targets []store.Target) Message {
	loc := a.location(ctx, req.Requester.Platform, req.Requester.ID)
	c := tally(targets)
	o := outcomeOf(targets)
	inScope := o.inScope
	var blocks []Block
	blocks = append(blocks, Block{Kind: BlockHeader, Text: header(req, o)})
	scopeText := map[string]string{"group": "members of group *" + Literal(req.ScopeText) + "* (nested groups included)",
		"match": "users whose display name contains *" + Literal(req.ScopeText) + "*", "users": "the users named"}[req.ScopeKind]
	intro := fmt.Sprintf("%s asks to sign out %s: *%s*", mention(req.Requester), scopeText, plural(inScope, "user"))
	if c[store.TargetExcluded] > 0 {
		intro += fmt.Sprintf(", %d excluded", c[store.TargetExcluded])
	}
	blocks = append(blocks, Block{Kind: BlockSection, Text: intro})
	reason := "_none given_"
	if req.Reason != "" {
		reason = Literal(req.Reason)
	}
	blocks = append(blocks, Block{Kind: BlockSection, Fields: []string{"*Reason*\n" + reason, "*Requested*\n" + FormatTime(req.CreatedAt, loc)}})

	var sample []string
	var excluded []string
	for _, t := range targets {
		if t.Status == store.TargetExcluded {
			excluded = append(excluded, fmt.Sprintf("• %s — %s", label(t), t.Detail))
			continue
		}
		if len(sample) < sampleSize {
			sample = append(sample, "• "+label(t)+targetNote(t))
		}
	}
	if more := inScope - len(sample); more > 0 {
		sample = append(sample, fmt.Sprintf("…and %d more: the full list of %d is in the thread.", more, len(targets)))
	}
	if len(sample) > 0 {
		blocks = append(blocks, Block{Kind: BlockSection, Text: "*Will be signed out*\n" + strings.Join(sample, "\n")})
	}
	if len(excluded) > 0 {
		if len(excluded) > sampleSize {
			excluded = append(excluded[:sampleSize], fmt.Sprintf("…and %d more excluded (see the thread).", len(excluded)-sampleSize))
		}
		blocks = append(blocks, Block{Kind: BlockSection, Text: "*Excluded*\n" + strings.Join(excluded, "\n")})
	}

	switch req.Status {
	case store.StatusPending:
		need := fmt.Sprintf("Needs approval from %d admin(s) other than %s", req.RequiredApprovals, mention(req.Requester))
		if len(req.Approvals) > 0 {
			need += fmt.Sprintf(" — approved so far by %s", approverMentions(req))
		}
		blocks = append(blocks, Block{Kind: BlockContext, Text: need + ". Expires " + FormatTime(req.ExpiresAt, loc) + "."})
		blocks = append(blocks, Block{Kind: BlockActions, Buttons: []Button{
			{ID: "approve", Label: "Approve", Value: req.ID, Style: "primary", Confirm: &Confirm{
				Title: "Sign out " + plural(inScope, "user") + "?",
				Text:  fmt.Sprintf("This revokes every sign-in session of %s now. It cannot be undone.", plural(inScope, "user")),
				OK:    "Sign them out", Cancel: "Back"}},
			{ID: "deny", Label: "Deny", Value: req.ID, Style: "danger"},
		}})
	case store.StatusDenied, store.StatusCancelled:
		blocks = append(blocks, Block{Kind: BlockContext, Text: fmt.Sprintf("%s by %s at %s. Nobody was signed out.",
			capital(string(req.Status)), mention(req.DecidedBy), FormatTime(req.DecidedAt, loc))})
	case store.StatusExpired:
		blocks = append(blocks, Block{Kind: BlockContext, Text: "Expired at " + FormatTime(req.ExpiresAt, loc) + " without enough approvals. Nobody was signed out."})
	default:
		blocks = append(blocks, a.progressBlocks(req, targets, o, loc)...)
	}
	return Message{Text: fmt.Sprintf("Sign-out request %s (%s): %s", req.ID, statusTitle[req.Status], plural(inScope, "user")), Blocks: blocks}
}

// targetNote marks what the preview must say about a user beside their name.
func targetNote(t store.Target) string {
	switch {
	case t.External:
		return " _(external member: only their home tenant can sign them out)_"
	case t.Guest:
		return " _(guest: this tenant cannot sign them out of their home tenant)_"
	case t.Disabled:
		return " _(disabled: revoked too, so enabling the account again brings no old session back)_"
	}
	return ""
}

func (a *App) progressBlocks(req store.Request, targets []store.Target, o outcome, loc *time.Location) []Block {
	if req.Status == store.StatusFailed {
		return []Block{
			{Kind: BlockSection, Text: fmt.Sprintf("*Failed: nobody was signed out.* %s", req.Failure)},
			{Kind: BlockContext, Text: fmt.Sprintf("Approved by %s at %s.", approverMentions(req), FormatTime(req.DecidedAt, loc))},
		}
	}
	progress := fmt.Sprintf("*Revoked %d/%d*", o.revoked, o.inScope)
	if o.failed > 0 {
		progress += fmt.Sprintf(" · *%d failed*", o.failed)
	}
	progress += fmt.Sprintf(" · sessions invalid (confirmed from Graph) %d/%d", o.confirmed, o.users)
	if o.unconfirm > 0 {
		progress += fmt.Sprintf(" · *%d could not be confirmed*", o.unconfirm)
	}
	if o.signedOut > 0 {
		progress += fmt.Sprintf(" · access tokens expired %d", o.signedOut)
	}
	if o.guests > 0 {
		progress += fmt.Sprintf(" · %s not signed out (home tenant)", plural(o.guests, "guest"))
	}
	blocks := []Block{{Kind: BlockSection, Text: progress}}
	small := fmt.Sprintf("Approved by %s at %s.", approverMentions(req), FormatTime(req.DecidedAt, loc))
	if !req.TokensExpireAt.IsZero() {
		if req.Status == store.StatusDone || o.signedOut > 0 {
			small += " " + finalClaim(req, targets, o, loc)
		} else {
			small += fmt.Sprintf(" Access tokens issued before the revocation expire by %s (lifetime %s: %s).%s",
				FormatTime(req.TokensExpireAt, loc), FormatDuration(req.TokenLifetime), req.LifetimeSource, caeNote(req))
		}
	}
	return append(blocks, Block{Kind: BlockContext, Text: small})
}

// finalClaim says, once the deadline has passed, exactly what the evidence supports: "every client is signed
// out" only when every user this tenant can sign out reached "access tokens expired"; otherwise "N of M", with
// the rest named and why.
func finalClaim(req store.Request, targets []store.Target, o outcome, loc *time.Location) string {
	if o.everyone() {
		s := fmt.Sprintf("Access tokens expired at %s: every client is signed out.", FormatTime(req.TokensExpireAt, loc))
		if o.guests > 0 {
			s += fmt.Sprintf(" (%s only their home tenant can sign out.)", plural(o.guests, "guest"))
		}
		return s
	}
	s := fmt.Sprintf("Access tokens expired at %s: %d of %s signed out.", FormatTime(req.TokensExpireAt, loc), o.signedOut,
		plural(o.users, "user"))
	var rest []string
	for _, t := range targets {
		if t.Status == store.TargetExcluded || t.Status == store.TargetTokensExpired {
			continue
		}
		if len(rest) == sampleSize {
			rest = append(rest, "…")
			break
		}
		why := t.Detail
		switch t.Status {
		case store.TargetRevoked:
			why = "revoked, not yet confirmed from Graph"
		case store.TargetSessionsInvalid:
			why = "confirmed, access tokens not yet expired"
		case store.TargetPending:
			why = "not revoked yet"
		}
		rest = append(rest, label(t)+": "+why)
	}
	if len(rest) > 0 {
		s += " Not signed out: " + strings.Join(rest, "; ") + "."
	}
	return s
}

// caeNote reminds that apps using Continuous Access Evaluation drop tokens well before a long lifetime ends.
func caeNote(req store.Request) string {
	if req.TokenLifetime <= 15*time.Minute {
		return ""
	}
	return " Apps using Continuous Access Evaluation (Outlook, Teams, SharePoint) honour the revocation within about 15 minutes."
}

// mention shows a person as their platform's mention.
func mention(a store.Actor) string {
	if a.Name == "" && a.ID == "" {
		return "someone"
	}
	return Mention(a.Platform, a.ID, a.Name)
}

func approverMentions(r store.Request) string {
	names := make([]string, 0, len(r.Approvals))
	for _, ap := range r.Approvals {
		names = append(names, mention(ap.Actor))
	}
	if len(names) == 0 {
		return "nobody yet"
	}
	return strings.Join(names, " and ")
}

// threadNotice is what one kind of runner news adds to the request's thread; targets are the users it is about.
func threadNotice(req store.Request, kind revocation.NoticeKind, targets, all []store.Target, loc *time.Location) []Message {
	var lines []string
	var head string
	switch kind {
	case revocation.NoticeFailed:
		head = fmt.Sprintf(":x: %s could not be signed out:", plural(len(targets), "user"))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — %s", label(t), t.Detail))
		}
	case revocation.NoticeExcluded:
		verb := "were"
		if len(targets) == 1 {
			verb = "was"
		}
		head = fmt.Sprintf(":shield: %s became protected after the preview and %s left alone:", plural(len(targets), "user"), verb)
		for _, t := range targets {
			lines = append(lines, "• "+label(t))
		}
	case revocation.NoticeConfirmed:
		head = fmt.Sprintf(":white_check_mark: Sessions invalid, confirmed from Graph for %s:", plural(len(targets), "user"))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — sessions invalid, confirmed %s (valid from %s)",
				label(t), FormatTime(t.ConfirmedAt, loc), FormatTime(t.SessionsValidFrom, loc)))
		}
	case revocation.NoticeUnconfirmed:
		head = fmt.Sprintf(":warning: %s revoked, but Graph never showed it, so I cannot confirm they are signed out:", plural(len(targets), "user"))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — %s", label(t), t.Detail))
		}
	case revocation.NoticeRevoked:
		return []Message{textMessage(fmt.Sprintf(":hourglass: Every revocation has been sent. Clients holding an access token issued before it "+
			"(Teams desktop is the usual one) can keep working until %s: lifetime %s, %s.%s I will post here then.",
			FormatTime(req.TokensExpireAt, loc), FormatDuration(req.TokenLifetime), req.LifetimeSource, caeNote(req)))}
	case revocation.NoticeTokensExpired:
		o := outcomeOf(all)
		if o.everyone() {
			return []Message{textMessage(fmt.Sprintf(":lock: Access tokens expired — every client is signed out (%s, at %s).",
				plural(o.users, "user"), FormatTime(req.TokensExpireAt, loc)))}
		}
		return []Message{textMessage(":lock: " + finalClaim(req, all, o, loc))}
	default:
		return nil
	}
	var out []Message
	for i := 0; i < len(lines); i += listChunk {
		chunk := lines[i:min(i+listChunk, len(lines))]
		h := head
		if len(lines) > listChunk {
			h = fmt.Sprintf("%s (%d–%d of %d)", head, i+1, i+len(chunk), len(lines))
		}
		out = append(out, textMessage(h+"\n"+strings.Join(chunk, "\n")))
	}
	return out
}

// fullList is the whole scope, in thread-sized messages.
func fullList(targets []store.Target) []Message {
	var out []Message
	for i := 0; i < len(targets); i += listChunk {
		chunk := targets[i:min(i+listChunk, len(targets))]
		lines := make([]string, 0, len(chunk)+1)
		lines = append(lines, fmt.Sprintf("*Scope, users %d–%d of %d*", i+1, i+len(chunk), len(targets)))
		for _, t := range chunk {
			line := "• " + label(t)
			if t.Status == store.TargetExcluded {
				line += " — excluded: " + t.Detail
			}
			lines = append(lines, line)
		}
		out = append(out, textMessage(strings.Join(lines, "\n")))
	}
	return out
}

func noTargetsText(sc scope.Scope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Nobody to sign out in %s %q, so nothing was requested.", sc.Kind, sc.Text)
	for i, t := range sc.Targets {
		if i == 20 {
			fmt.Fprintf(&b, "\n…and %d more excluded.", len(sc.Targets)-20)
			break
		}
		fmt.Fprintf(&b, "\n• %s — %s", label(t), t.Detail)
	}
	return b.String()
}

func textMessage(s string) Message {
	return Message{Text: firstLine(s), Blocks: []Block{{Kind: BlockSection, Text: s}}}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func label(t store.Target) string {
	if t.DisplayName == "" {
		return "`" + Literal(t.UPN) + "`"
	}
	return Literal(t.DisplayName) + " `" + Literal(t.UPN) + "`"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
