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
}

// render draws a request's card from its stored state.
func (a *App) render(ctx context.Context, req store.Request, targets []store.Target) Message {
	loc := a.location(ctx, req.Requester.Platform, req.Requester.ID)
	c := tally(targets)
	inScope := len(targets) - c[store.TargetExcluded]
	var blocks []Block
	blocks = append(blocks, Block{Kind: BlockHeader, Text: fmt.Sprintf("Sign-out request %s — %s", req.ID, statusTitle[req.Status])})
	scopeText := map[string]string{"group": "members of group *" + req.ScopeText + "* (nested groups included)",
		"match": "users whose display name contains *" + req.ScopeText + "*", "users": "the users named"}[req.ScopeKind]
	intro := fmt.Sprintf("*%s* asks to sign out %s: *%d user(s)*", req.Requester.Name, scopeText, inScope)
	if c[store.TargetExcluded] > 0 {
		intro += fmt.Sprintf(", %d excluded", c[store.TargetExcluded])
	}
	blocks = append(blocks, Block{Kind: BlockSection, Text: intro})
	reason := req.Reason
	if reason == "" {
		reason = "_none given_"
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
			line := "• " + label(t)
			if t.Guest {
				line += " _(guest: this tenant cannot sign them out of their home tenant)_"
			}
			sample = append(sample, line)
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
		need := fmt.Sprintf("Needs approval from %d admin(s) other than %s", req.RequiredApprovals, req.Requester.Name)
		if len(req.Approvals) > 0 {
			need += fmt.Sprintf(" — approved so far by %s", approverNames(req))
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
			capital(string(req.Status)), req.DecidedBy.Name, FormatTime(req.DecidedAt, loc))})
	case store.StatusExpired:
		blocks = append(blocks, Block{Kind: BlockContext, Text: "Expired at " + FormatTime(req.ExpiresAt, loc) + " without enough approvals. Nobody was signed out."})
	default:
		blocks = append(blocks, a.progressBlocks(req, targets, c, inScope, loc)...)
	}
	return Message{Text: fmt.Sprintf("Sign-out request %s (%s): %s", req.ID, statusTitle[req.Status], plural(inScope, "user")), Blocks: blocks}
}

func (a *App) progressBlocks(req store.Request, targets []store.Target, c map[store.TargetStatus]int, inScope int, loc *time.Location) []Block {
	revoked := c[store.TargetRevoked] + c[store.TargetSessionsInvalid] + c[store.TargetTokensExpired] + c[store.TargetGuest]
	confirmed := c[store.TargetSessionsInvalid] + c[store.TargetTokensExpired]
	progress := fmt.Sprintf("*Revoked %d/%d*", revoked, inScope)
	if c[store.TargetFailed] > 0 {
		progress += fmt.Sprintf(" · *%d failed*", c[store.TargetFailed])
	}
	progress += fmt.Sprintf(" · sessions invalid (confirmed from Graph) %d/%d", confirmed, inScope-c[store.TargetGuest])
	if c[store.TargetTokensExpired] > 0 {
		progress += fmt.Sprintf(" · access tokens expired %d", c[store.TargetTokensExpired])
	}
	if c[store.TargetGuest] > 0 {
		progress += fmt.Sprintf(" · %d guest(s) not signed out (home tenant)", c[store.TargetGuest])
	}
	blocks := []Block{{Kind: BlockSection, Text: progress}}
	small := fmt.Sprintf("Approved by %s at %s.", approverNames(req), FormatTime(req.DecidedAt, loc))
	if !req.TokensExpireAt.IsZero() {
		if req.Status == store.StatusDone || c[store.TargetTokensExpired] > 0 {
			small += " Access tokens expired at " + FormatTime(req.TokensExpireAt, loc) + ": every client is signed out."
		} else {
			small += fmt.Sprintf(" Access tokens issued before the revocation expire by %s (lifetime %s, %s).",
				FormatTime(req.TokensExpireAt, loc), FormatDuration(req.TokenLifetime), req.LifetimeSource)
		}
	}
	return append(blocks, Block{Kind: BlockContext, Text: small})
}

// threadNotice is what one kind of runner news adds to the request's thread; targets are the users it is about.
func threadNotice(req store.Request, kind revocation.NoticeKind, targets []store.Target, loc *time.Location) []Message {
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
	case revocation.NoticeRevoked:
		return []Message{textMessage(fmt.Sprintf(":hourglass: Every revocation has been sent. Clients holding an access token issued before it "+
			"(Teams desktop is the usual one) can keep working until %s: the access-token lifetime is %s (%s). I will post here then.",
			FormatTime(req.TokensExpireAt, loc), FormatDuration(req.TokenLifetime), req.LifetimeSource))}
	case revocation.NoticeTokensExpired:
		return []Message{textMessage(fmt.Sprintf(":lock: Access tokens expired — every client is signed out (%s, at %s).",
			plural(len(targets), "user"), FormatTime(req.TokensExpireAt, loc)))}
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
		return "`" + t.UPN + "`"
	}
	return t.DisplayName + " `" + t.UPN + "`"
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
