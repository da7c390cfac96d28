package bot

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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

// FormatDuration is a lifetime or a wait as people say it: "2 h", "90 min", "8 min 20 s", "45 s".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%d min %d s", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%d s", d/time.Second)
}

// writeCeiling is Graph's write limit for one app in one tenant (3,000 per 150 s), the pace runs go at.
const writeCeiling = 20.0

// planText says, before anyone approves, how long the revocation will take, when the last access token issued
// before it dies under the lifetime in force, and what a 10-minute token lifetime policy set now would change.
// A policy applies to tokens issued after it is set, so tokens issued before keep their lifetime.
func (a *App) planText(req store.Request, o outcome, now time.Time) string {
	rate := a.WriteRate
	if rate <= 0 {
		rate = writeCeiling
	}
	took := revocation.Estimate(o.inScope, rate)
	start, when := now, "once approved"
	if !req.NotBefore.IsZero() && req.NotBefore.After(now) {
		start, when = req.NotBefore, "at "+Time(req.NotBefore)
	}
	end := start.Add(took)
	s := fmt.Sprintf("*Plan:* revoking %s takes about %s at Graph's %g per second, starting %s.", plural(o.inScope, "user"),
		FormatDuration(took), rate, when)
	if req.TokenLifetime <= 0 {
		return s
	}
	s += fmt.Sprintf(" The last access token issued before it expires by %s (lifetime %s: %s).", Time(end.Add(req.TokenLifetime)),
		FormatDuration(req.TokenLifetime), req.LifetimeSource)
	if short := 10 * time.Minute; req.TokenLifetime > short {
		with := end.Add(short)
		if old := now.Add(req.TokenLifetime); old.After(with) {
			with = old
		}
		s += fmt.Sprintf(" With `/signout policy set 10m` now: by %s", Time(with))
		if with.After(end.Add(short)) {
			s += fmt.Sprintf(" (tokens issued before a policy keep their %s, so set it at least that long before the sign-out)",
				FormatDuration(req.TokenLifetime))
		}
		s += "."
	}
	return s
}

// learnTimeZone remembers the time zone a platform sent with an event (Teams sends it on every activity), so
// private replies need no look-up.
func (a *App) learnTimeZone(actor store.Actor, profile Person) {
	if profile.TimeZone == "" {
		return
	}
	loc, err := time.LoadLocation(profile.TimeZone)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tzCache == nil {
		a.tzCache = make(map[string]*time.Location)
	}
	a.tzCache[actor.Platform+":"+actor.ID] = loc
}

// location is the time zone a platform reports for a user, cached for the life of the process. Shared messages
// do not need it (they carry Time markers each viewer sees in their own zone); private replies do.
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

// outcome is what the evidence supports for a request: who is signed out and who is not, and why.
type outcome struct {
	inScope   int // not excluded
	users     int // in scope and not guests: those this tenant can sign out
	guests    int
	excluded  int
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
		o.add(t)
	}
	return o
}

// add counts one target.
func (o *outcome) add(t store.Target) {
	if t.Status == store.TargetExcluded {
		o.excluded++
		return
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

// everyone reports whether every user this tenant can sign out is signed out: the only case in which the bot
// may say "every client is signed out".
func (o outcome) everyone() bool { return o.users > 0 && o.signedOut == o.users }

// guestClause describes the guests the one way every message uses.
func guestClause(n int) string {
	if n == 1 {
		return "1 guest can only be signed out by their home tenant"
	}
	return fmt.Sprintf("%d guests can only be signed out by their home tenant", n)
}

// scopeCount says who a request covers: "*6 users* will be signed out; 1 guest can only be signed out by their
// home tenant; 1 excluded". verb is "will be signed out", "were to be signed out" or "in scope".
func scopeCount(o outcome, verb string) string {
	s := fmt.Sprintf("*%s* %s", plural(o.users, "user"), verb)
	if o.users == 1 {
		s = strings.Replace(s, "were to be", "was to be", 1)
	}
	if o.guests > 0 {
		s += "; " + guestClause(o.guests)
	}
	if o.excluded > 0 {
		s += fmt.Sprintf("; %d excluded", o.excluded)
	}
	return s
}

var statusTitle = map[store.RequestStatus]string{
	store.StatusResolving: "reading the scope from Graph",
	store.StatusPending:   "waiting for approval",
	store.StatusApproved:  "approved, starting",
	store.StatusRunning:   "signing out",
	store.StatusDone:      "done",
	store.StatusDenied:    "denied",
	store.StatusExpired:   "expired",
	store.StatusCancelled: "cancelled",
	store.StatusFailed:    "failed: nobody was signed out",
}

// header is the card's title, which follows the evidence rather than the request's status alone.
func header(req store.Request, o outcome) string {
	title := statusTitle[req.Status]
	switch {
	case req.Status == store.StatusRunning && o.pending == 0 && o.open == 0 && !req.TokensExpireAt.IsZero():
		title = "revoked and confirmed — waiting for access tokens to expire at " + Time(req.TokensExpireAt)
	case req.Status == store.StatusDone && o.everyone():
		title = "done: every client is signed out"
	case req.Status == store.StatusDone:
		title = fmt.Sprintf("done: %d of %s signed out", o.signedOut, plural(o.users, "user"))
	}
	return fmt.Sprintf("Sign-out request %s — %s", req.ID, title)
}

// scopeName is how the card names what was asked for. A group is named fully (display name, description and
// the start of its id), so two groups that share a name are never confused.
func scopeName(req store.Request) string {
	switch req.ScopeKind {
	case "group":
		return "members of group *" + Literal(req.ScopeText) + "* (nested groups included)"
	case "match":
		return "users whose display name contains *" + Literal(req.ScopeText) + "*"
	}
	return "the users named"
}

// GroupLabel names a group fully: "Sales (Sales Americas) · 42f3a1b2…".
func GroupLabel(name, description, id string) string {
	s := name
	if description != "" && description != name {
		s += " (" + description + ")"
	}
	if len(id) > 8 {
		id = id[:8] + "…"
	}
	return s + " · " + id
}

// render draws a request's card from targets in memory (a small scope, tests); cards of stored requests are
// drawn from the store's counts and a sample instead (storedView), whatever the scope's size.
func (a *App) render(ctx context.Context, req store.Request, targets []store.Target) Message {
	return a.renderView(ctx, req, a.viewOf(ctx, req, targets))
}

// renderView draws a request's card from what it shows of the scope.
func (a *App) renderView(ctx context.Context, req store.Request, v cardView) Message {
	if req.Kind == store.KindPolicy {
		return a.policyCard(req)
	}
	o := v.o
	var blocks []Block
	blocks = append(blocks, Block{Kind: BlockHeader, Text: header(req, o)})
	verb := "asks"
	if req.Status != store.StatusPending {
		verb = "asked"
	}
	blocks = append(blocks, Block{Kind: BlockSection, Text: fmt.Sprintf("%s %s to sign out %s: %s.", mention(req.Requester), verb,
		scopeName(req), scopeCount(o, countVerb(req.Status)))})
	reason := "_none given_"
	if req.Reason != "" {
		reason = Literal(req.Reason)
	}
	fields := []string{"*Reason*\n" + reason, "*Requested*\n" + Time(req.CreatedAt)}
	if !req.NotBefore.IsZero() {
		fields = append(fields, "*Scheduled for*\n"+Time(req.NotBefore))
	}
	blocks = append(blocks, Block{Kind: BlockSection, Fields: fields})

	busy := v.busy
	var sample, excluded []string
	for _, t := range v.sample {
		line := "• " + label(t) + targetNote(t)
		if other := busy[t.UserID]; other != "" {
			line += fmt.Sprintf(" — _also in request %s, not finished yet_", other)
		}
		sample = append(sample, line)
	}
	for _, t := range v.excluded {
		excluded = append(excluded, fmt.Sprintf("• %s — %s", label(t), t.Detail))
	}
	if more := o.inScope - len(sample); more > 0 {
		sample = append(sample, fmt.Sprintf("…and %d more: the full list of %d is in the thread.", more, v.total))
	}
	if len(sample) > 0 {
		blocks = append(blocks, Block{Kind: BlockSection, Text: listHeading(req) + "\n" + strings.Join(sample, "\n")})
	}
	if n := v.busyN; n > 0 && req.Status == store.StatusPending {
		blocks = append(blocks, Block{Kind: BlockContext, Text: fmt.Sprintf("⚠️ %s in this request %s also in another request that is "+
			"not finished yet (see `/signout status <user>`).", plural(n, "user"), isAre(n))})
	}
	if len(excluded) > 0 {
		if len(excluded) > sampleSize {
			excluded = append(excluded[:sampleSize], fmt.Sprintf("…and %d more excluded (see the thread).", o.excluded-sampleSize))
		}
		blocks = append(blocks, Block{Kind: BlockSection, Text: "*Excluded*\n" + strings.Join(excluded, "\n")})
	}

	switch req.Status {
	case store.StatusPending:
		blocks = append(blocks, Block{Kind: BlockContext, Text: a.planText(req, o, a.now())})
		need := fmt.Sprintf("Needs approval from %s other than %s", plural(req.RequiredApprovals, "admin"), mention(req.Requester))
		if len(req.Approvals) > 0 {
			need += fmt.Sprintf(" — approved so far by %s", approverMentions(req))
		}
		blocks = append(blocks, Block{Kind: BlockContext, Text: need + ". Expires " + Time(req.ExpiresAt) + "."})
		confirm := fmt.Sprintf("This revokes every sign-in session of %s now.", plural(o.users, "user"))
		if o.guests > 0 {
			confirm += fmt.Sprintf(" %s: their sessions here are revoked too.", capital(guestClause(o.guests)))
		}
		blocks = append(blocks, Block{Kind: BlockActions, Buttons: []Button{
			{ID: "approve", Label: "Approve", Value: req.ID, Style: "primary", Confirm: &Confirm{
				Title: "Sign out " + plural(o.users, "user") + "?",
				Text:  confirm + " It cannot be undone.",
				OK:    "Sign them out", Cancel: "Back"}},
			{ID: "deny", Label: "Deny", Value: req.ID, Style: "danger"},
		}})
	case store.StatusDenied, store.StatusCancelled:
		text := fmt.Sprintf("%s by %s at %s", capital(string(req.Status)), mention(req.DecidedBy), Time(req.DecidedAt))
		if req.DecisionNote != "" {
			text += ": “" + Literal(req.DecisionNote) + "”"
		}
		blocks = append(blocks, Block{Kind: BlockContext, Text: text + ". Nobody was signed out."})
	case store.StatusExpired:
		blocks = append(blocks, Block{Kind: BlockContext, Text: "Expired at " + Time(req.ExpiresAt) + " without enough approvals. Nobody was signed out."})
	default:
		blocks = append(blocks, a.progressBlocks(req, v, o)...)
	}
	summary := fmt.Sprintf("Sign-out request %s (%s): %s", req.ID, statusTitle[req.Status], plural(o.users, "user"))
	if o.guests > 0 {
		summary += ", " + plural(o.guests, "guest")
	}
	return Message{Text: summary, Blocks: blocks}
}

func countVerb(s store.RequestStatus) string {
	switch s {
	case store.StatusPending, store.StatusApproved:
		return "will be signed out"
	case store.StatusDenied, store.StatusCancelled, store.StatusExpired:
		return "were to be signed out"
	}
	return "in scope"
}

// listHeading says what the list of users is, in the request's tense.
func listHeading(req store.Request) string {
	switch req.Status {
	case store.StatusPending, store.StatusApproved:
		return "*Will be signed out*"
	case store.StatusDenied:
		return fmt.Sprintf("*Was to be signed out* (denied by %s)", mention(req.DecidedBy))
	case store.StatusCancelled:
		return fmt.Sprintf("*Was to be signed out* (cancelled by %s)", mention(req.DecidedBy))
	case store.StatusExpired:
		return "*Was to be signed out* (nobody approved in time)"
	}
	return "*In scope*"
}

// busyElsewhere finds the users of a pending request who are also in another request that is not finished, so
// the approvers see an overlap before they approve. Only pending cards need it.
func (a *App) busyElsewhere(ctx context.Context, req store.Request, targets []store.Target) map[string]string {
	if req.Status != store.StatusPending || a.Store == nil {
		return nil
	}
	ids := make([]string, 0, len(targets))
	for _, t := range targets {
		if t.Status != store.TargetExcluded {
			ids = append(ids, t.UserID)
		}
	}
	busy, err := a.Store.ActiveRequestsFor(ctx, req.ID, ids)
	if err != nil {
		a.Log.Warn("look for overlapping requests", "request", req.ID, "err", err)
		return nil
	}
	return busy
}

// byName orders users as people look for them: by display name, then UPN.
func byName(a, b store.Target) int {
	if c := strings.Compare(strings.ToLower(displayName(a)), strings.ToLower(displayName(b))); c != 0 {
		return c
	}
	return strings.Compare(strings.ToLower(a.UPN), strings.ToLower(b.UPN))
}

// sortedTargets is every user in name order, for the lists that show everyone.
func sortedTargets(targets []store.Target) []store.Target {
	out := slices.Clone(targets)
	slices.SortStableFunc(out, byName)
	return out
}

// firstByName is the first n users that keep selects, in name order, without sorting the whole scope: the card
// is redrawn about once a second during a run, and a scope can hold 100,000 users of which it shows ten.
func firstByName(targets []store.Target, n int, keep func(store.Target) bool) []store.Target {
	f := byNameFirst{n: n, keep: keep}
	for _, t := range targets {
		f.add(t)
	}
	return f.best
}

// byNameFirst keeps the first n users that keep selects, in name order, of the users added one by one: a scope
// read from the store a page at a time is never held whole.
type byNameFirst struct {
	n    int
	keep func(store.Target) bool
	best []store.Target
}

func (f *byNameFirst) add(t store.Target) {
	if !f.keep(t) {
		return
	}
	if len(f.best) == f.n && byName(t, f.best[f.n-1]) >= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(f.best, t, func(e, x store.Target) int {
		if c := byName(e, x); c != 0 {
			return c
		}
		return -1 // equal names: after those already kept, as a stable sort would
	})
	f.best = slices.Insert(f.best, i, t)
	if len(f.best) > f.n {
		f.best = f.best[:f.n]
	}
}

// cardView is what a card shows of a request's scope: its counts, and the few users it names (a card names at
// most sampleSize of each kind, whatever the scope's size).
type cardView struct {
	o        outcome
	total    int               // targets, excluded ones included
	sample   []store.Target    // the first sampleSize users in scope, by name
	excluded []store.Target    // the first sampleSize+1 excluded users, by name
	rest     []store.Target    // the first sampleSize+1 users not signed out (notSignedOut), by name
	busy     map[string]string // users of the sample also in another unfinished request: that request's id
	busyN    int               // users of the whole scope also in another unfinished request
}

// sampler collects a cardView's samples from targets added one by one.
type sampler struct{ sample, excluded, rest byNameFirst }

func newSampler() *sampler {
	isExcluded := func(t store.Target) bool { return t.Status == store.TargetExcluded }
	return &sampler{
		sample:   byNameFirst{n: sampleSize, keep: func(t store.Target) bool { return !isExcluded(t) }},
		excluded: byNameFirst{n: sampleSize + 1, keep: isExcluded},
		rest:     byNameFirst{n: sampleSize + 1, keep: notSignedOut},
	}
}

func (s *sampler) add(t store.Target) {
	s.sample.add(t)
	s.excluded.add(t)
	s.rest.add(t)
}

// viewOf is the cardView of targets held in memory.
func (a *App) viewOf(ctx context.Context, req store.Request, targets []store.Target) cardView {
	s := newSampler()
	for _, t := range targets {
		s.add(t)
	}
	busy := a.busyElsewhere(ctx, req, targets)
	return cardView{o: outcomeOf(targets), total: len(targets), sample: s.sample.best, excluded: s.excluded.best,
		rest: s.rest.best, busy: busy, busyN: len(busy)}
}

// cardPage is how many targets a card reads from the store at a time.
const cardPage = 2000

// storedView is the cardView of a stored request: counted by the store, the samples picked from its targets read a
// page at a time, so a card of a 100,000-user scope holds a page of them at most.
func (a *App) storedView(ctx context.Context, req store.Request) (cardView, error) {
	sum, err := a.Store.TargetSummary(ctx, req.ID)
	if err != nil {
		return cardView{}, err
	}
	v := cardView{o: outcomeOfSummary(sum), total: sum.Total}
	pending := req.Status == store.StatusPending
	needRest := !req.TokensExpireAt.IsZero() && (req.Status == store.StatusDone || v.o.signedOut > 0) && !v.o.everyone()
	// The users a card names change only when someone is excluded (names never change), so a running request's
	// card, redrawn about once a second, reads them again only then; the users not signed out, named once the
	// deadline has passed, are read with the store filtering out those signed out.
	key := cardSampleKey{total: sum.Total, excluded: sum.ByStatus[store.TargetExcluded]}
	a.mu.Lock()
	cached, ok := a.samples[req.ID]
	if req.Status.Final() {
		delete(a.samples, req.ID)
	}
	a.mu.Unlock()
	if ok && cached.key == key && !pending {
		v.sample, v.excluded = cached.sample, cached.excluded
		if needRest {
			if v.rest, err = a.notSignedOutSample(ctx, req.ID); err != nil {
				return cardView{}, err
			}
		}
		return v, nil
	}
	s := newSampler()
	err = a.eachTargetPage(ctx, req.ID, func(page []store.Target) {
		for _, t := range page {
			s.add(t)
		}
		if pending {
			// Only a pending card warns of overlaps; counted page by page, named for the sample only.
			v.busyN += len(a.busyElsewhere(ctx, req, page))
		}
	})
	if err != nil {
		return cardView{}, err
	}
	v.sample, v.excluded, v.rest = s.sample.best, s.excluded.best, s.rest.best
	if pending && v.busyN > 0 {
		v.busy = a.busyElsewhere(ctx, req, v.sample)
	}
	if !req.Status.Final() {
		a.mu.Lock()
		if a.samples == nil {
			a.samples = make(map[string]cardSample)
		}
		a.samples[req.ID] = cardSample{key: key, sample: v.sample, excluded: v.excluded}
		a.mu.Unlock()
	}
	return v, nil
}

// cardSample is the users a request's card names, as of the counts in key.
type cardSample struct {
	key              cardSampleKey
	sample, excluded []store.Target
}

type cardSampleKey struct{ total, excluded int }

// eachTargetPage calls fn with a request's targets (of statuses only, if any are given) a page at a time.
func (a *App) eachTargetPage(ctx context.Context, id string, fn func([]store.Target), statuses ...store.TargetStatus) error {
	for after := -1; ; {
		page, err := a.Store.TargetsPage(ctx, id, after, cardPage, statuses...)
		if err != nil {
			return err
		}
		fn(page)
		if len(page) < cardPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// outcomeOfSummary is outcomeOf from the store's counts.
func outcomeOfSummary(sum store.TargetSummary) outcome {
	var o outcome
	for st, n := range sum.ByStatus {
		if st == store.TargetExcluded {
			o.excluded += n
			continue
		}
		guests := sum.Guests[st]
		o.inScope += n
		o.guests += guests
		o.users += n - guests
		switch st {
		case store.TargetPending:
			o.pending += n
		case store.TargetRevoked:
			o.open += n
		case store.TargetSessionsInvalid:
			o.confirmed += n
		case store.TargetTokensExpired:
			o.confirmed += n
			o.signedOut += n
		case store.TargetFailed:
			o.failed += n
		case store.TargetUnconfirmed:
			o.unconfirm += n
		}
	}
	// Graph accepted these; an excluded user is never sent, so none of them is excluded.
	o.revoked = sum.Revoked
	return o
}

func displayName(t store.Target) string {
	if t.DisplayName != "" {
		return t.DisplayName
	}
	return t.UPN
}

// targetNote marks what the preview must say about a user beside their name.
func targetNote(t store.Target) string {
	switch {
	case t.External:
		return " _(external member: only their home tenant can sign them out)_"
	case t.Guest:
		return " _(guest: only their home tenant can sign them out)_"
	case t.Disabled:
		return " _(disabled: revoked too, so enabling the account again brings no old session back)_"
	}
	return ""
}

func (a *App) progressBlocks(req store.Request, v cardView, o outcome) []Block {
	if req.Status == store.StatusFailed {
		return []Block{
			{Kind: BlockSection, Text: fmt.Sprintf("*Failed: nobody was signed out.* %s", req.Failure)},
			{Kind: BlockContext, Text: fmt.Sprintf("Approved by %s at %s.", approverMentions(req), Time(req.DecidedAt))},
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
		progress += " · " + guestClause(o.guests)
	}
	blocks := []Block{{Kind: BlockSection, Text: progress}}
	small := fmt.Sprintf("Approved by %s at %s.", approverMentions(req), Time(req.DecidedAt))
	if !req.TokensExpireAt.IsZero() {
		if req.Status == store.StatusDone || o.signedOut > 0 {
			small += " " + claimText(req, o, v.rest)
		} else {
			small += fmt.Sprintf(" Access tokens issued before the revocation expire by %s (lifetime %s: %s).%s",
				Time(req.TokensExpireAt), FormatDuration(req.TokenLifetime), req.LifetimeSource, caeNote(req))
		}
	}
	return append(blocks, Block{Kind: BlockContext, Text: small})
}

// notSignedOutSample reads the first sampleSize+1 users, by name, that a final claim names (notSignedOut), from
// the statuses they can have only: a 100,000-user scope that is all signed out costs one empty read.
func (a *App) notSignedOutSample(ctx context.Context, id string) ([]store.Target, error) {
	rest := byNameFirst{n: sampleSize + 1, keep: notSignedOut}
	err := a.eachTargetPage(ctx, id, func(page []store.Target) {
		for _, t := range page {
			rest.add(t)
		}
	}, store.TargetPending, store.TargetRevoked, store.TargetSessionsInvalid, store.TargetFailed, store.TargetUnconfirmed)
	return rest.best, err
}

// notSignedOut selects the users a final claim names: in scope, signed out by this tenant, not there yet.
func notSignedOut(t store.Target) bool {
	return t.Status != store.TargetExcluded && t.Status != store.TargetTokensExpired && !t.Guest
}

// claimText says, once the deadline has passed, exactly what the evidence supports: "every client is signed
// out" only when every user this tenant can sign out reached "access tokens expired"; otherwise "N of M", with
// the rest named and why. It works from the counts and rest, the first sampleSize+1 users not signed out by name
// (notSignedOut), so a 100,000-user scope is never read whole for it.
func claimText(req store.Request, o outcome, rest []store.Target) string {
	if o.everyone() {
		s := fmt.Sprintf("Access tokens expired at %s: every client is signed out.", Time(req.TokensExpireAt))
		if o.guests > 0 {
			s += " (" + capital(guestClause(o.guests)) + ".)"
		}
		return s
	}
	s := fmt.Sprintf("Access tokens expired at %s: %d of %s signed out.", Time(req.TokensExpireAt), o.signedOut,
		plural(o.users, "user"))
	if o.guests > 0 {
		s += " " + capital(guestClause(o.guests)) + "."
	}
	var names []string
	for _, t := range rest {
		if len(names) == sampleSize {
			names = append(names, "…")
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
		names = append(names, label(t)+": "+why)
	}
	if len(names) > 0 {
		s += " Not signed out: " + strings.Join(names, "; ") + "."
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

// threadNotice is what one kind of runner news adds to the request's thread; targets are the users it is about,
// all is the whole scope.
func threadNotice(req store.Request, kind revocation.NoticeKind, targets, all []store.Target) []Message {
	var lines []string
	var head string
	switch kind {
	case revocation.NoticeFailed:
		head = fmt.Sprintf("❌ %s could not be signed out:", plural(len(targets), "user"))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — %s", label(t), t.Detail))
		}
	case revocation.NoticeExcluded:
		head = fmt.Sprintf("🛡️ %s %s left alone:", plural(len(targets), "user"), wasWere(len(targets)))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — %s", label(t), t.Detail))
		}
	case revocation.NoticeConfirmed:
		head = fmt.Sprintf("✅ Sessions invalid, confirmed from Graph for %s:", plural(len(targets), "user"))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — confirmed %s", label(t), Time(t.ConfirmedAt)))
		}
	case revocation.NoticeUnconfirmed:
		head = fmt.Sprintf("⚠️ %s revoked, but Graph never showed it, so I cannot confirm they are signed out:", plural(len(targets), "user"))
		for _, t := range targets {
			lines = append(lines, fmt.Sprintf("• %s — %s", label(t), t.Detail))
		}
	case revocation.NoticeRevoked:
		return []Message{textMessage(fmt.Sprintf("⏳ Every revocation has been sent. Clients holding an access token issued before it "+
			"(Teams desktop is the usual one) can keep working until %s: lifetime %s, %s.%s I will post here then.",
			Time(req.TokensExpireAt), FormatDuration(req.TokenLifetime), req.LifetimeSource, caeNote(req)))}
	case revocation.NoticeTokensExpired:
		return []Message{tokensExpiredNotice(req, outcomeOf(all), firstByName(all, sampleSize+1, notSignedOut))}
	default:
		return nil
	}
	var out []Message
	for i := 0; i < len(lines); i += listChunk {
		// Chunks follow the order of the events (the thread's cursor relies on it); each one reads sorted.
		chunk := slices.Clone(lines[i:min(i+listChunk, len(lines))])
		slices.SortStableFunc(chunk, func(a, b string) int {
			return strings.Compare(strings.ToLower(PlainText(a)), strings.ToLower(PlainText(b)))
		})
		h := head
		if len(lines) > listChunk {
			h = fmt.Sprintf("%s (%d–%d of %d)", head, i+1, i+len(chunk), len(lines))
		}
		out = append(out, textMessage(h+"\n"+strings.Join(chunk, "\n")))
	}
	return out
}

// tokensExpiredNotice says in the thread that the deadline passed, from the counts and the first users not
// signed out by name (see claimText).
func tokensExpiredNotice(req store.Request, o outcome, rest []store.Target) Message {
	if o.everyone() {
		text := fmt.Sprintf("🔒 Access tokens expired — every client is signed out (%s, at %s).", plural(o.users, "user"), Time(req.TokensExpireAt))
		if o.guests > 0 {
			text += " " + capital(guestClause(o.guests)) + "."
		}
		return textMessage(text)
	}
	return textMessage("🔒 " + claimText(req, o, rest))
}

// fullList is the whole scope, sorted by display name, in thread-sized messages.
func fullList(targets []store.Target) []Message {
	sorted := sortedTargets(targets)
	var out []Message
	for i := 0; i < len(sorted); i += listChunk {
		chunk := sorted[i:min(i+listChunk, len(sorted))]
		lines := make([]string, 0, len(chunk)+1)
		lines = append(lines, fmt.Sprintf("*Scope, users %d–%d of %d*", i+1, i+len(chunk), len(sorted)))
		for _, t := range chunk {
			line := "• " + label(t) + targetNote(t)
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
	return noTargetsTextOf(sc, len(sc.Targets))
}

// noTargetsTextOf names the first 20 of sc.Targets (a sample, by name, of the total excluded users).
func noTargetsTextOf(sc scope.Scope, total int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Nobody to sign out in %s %s, so nothing was requested.", sc.Kind, Literal(sc.Text))
	for i, t := range sortedTargets(sc.Targets) {
		if i == 20 {
			fmt.Fprintf(&b, "\n…and %d more excluded.", total-20)
			break
		}
		fmt.Fprintf(&b, "\n• %s — %s", label(t), t.Detail)
	}
	return b.String()
}

func textMessage(s string) Message {
	return Message{Text: PlainText(firstLine(s)), Blocks: []Block{{Kind: BlockSection, Text: s}}}
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

// plural writes a count with its noun: "1 user", "7 users".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(n) + " " + word + "s"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// A large request's thread reports counts, not names: above countsAbove users in scope, per-user lists would run
// to hundreds of messages nobody reads (a 100,000-user run confirms 20 users a second for 83 minutes). Its
// per-user news is posted as digests: confirmations counted, failures and the rest grouped by reason with a
// few names, at most one digest per countsEvery of events or per countsShare percent of the scope, whichever
// is rarer, so such a run posts a few dozen messages in all. Requests up to countsAbove users keep their
// per-user lines.
const (
	countsAbove  = 50
	countsEvery  = 30 * time.Second
	countsShare  = 10 // percent
	reasonSample = 3  // names shown beside a reason
)

// countsShareOf is how many users' news make countsShare percent of a scope of n (at least 1).
func countsShareOf(n int) int { return max(1, (n*countsShare+99)/100) }

// tally is what a large request's thread has reported up to some point of the audit log.
type tally struct {
	confirmed int // confirmed from Graph (sessions invalid, or access tokens expired when confirmed late)
	settled   int // users this tenant can sign out (guests aside) with a last word: confirmed, failed, not confirmed
}

// userNews is what a per-user event tells a large request's thread ("": nothing; a revocation itself is only
// counted on the card).
func userNews(ev store.Event) revocation.NoticeKind {
	switch store.TargetStatus(ev.Type) {
	case store.TargetFailed:
		return revocation.NoticeFailed
	case store.TargetExcluded:
		return revocation.NoticeExcluded
	case store.TargetSessionsInvalid, store.TargetTokensExpired:
		return revocation.NoticeConfirmed
	case store.TargetUnconfirmed:
		return revocation.NoticeUnconfirmed
	}
	return ""
}

// count adds one user's news to the tally.
func (c *tally) count(kind revocation.NoticeKind, t store.Target) {
	if kind == revocation.NoticeConfirmed {
		c.confirmed++
	}
	if !t.Guest && (kind == revocation.NoticeConfirmed || kind == revocation.NoticeFailed || kind == revocation.NoticeUnconfirmed) {
		c.settled++
	}
}

// digest is the per-user news of one stretch of a large request's audit log, posted as one message.
type digest struct {
	end                 int64 // the last event it covers
	firstAt, lastNewsAt time.Time
	news                int // per-user events with something to say
	counts              tally
	groups              []*reasonGroup // failures and the rest, by kind and reason, in order of first appearance
	byKey               map[string]*reasonGroup
}

// reasonGroup is the users of a digest who share one outcome and one reason.
type reasonGroup struct {
	kind   revocation.NoticeKind
	reason string
	n      int
	sample []store.Target
}

func (d *digest) add(kind revocation.NoticeKind, t store.Target, ev store.Event) {
	if d.news == 0 {
		d.firstAt = ev.At
	}
	d.news++
	d.end, d.lastNewsAt = ev.Seq, ev.At
	d.counts.count(kind, t)
	if kind == revocation.NoticeConfirmed {
		return
	}
	reason := reasonOf(t.Detail)
	key := string(kind) + "\x00" + reason
	g, ok := d.byKey[key]
	if !ok {
		if d.byKey == nil {
			d.byKey = make(map[string]*reasonGroup)
		}
		g = &reasonGroup{kind: kind, reason: reason}
		d.byKey[key] = g
		d.groups = append(d.groups, g)
	}
	g.n++
	if len(g.sample) < reasonSample {
		g.sample = append(g.sample, t)
	}
}

// closes reports whether the digest has grown enough to be posted while more news keeps coming: countsShare
// percent of the scope (share users), spread over countsEvery of events.
func (d *digest) closes(share int, at time.Time) bool {
	return d.news >= share && at.Sub(d.firstAt) >= countsEvery
}

// ready reports whether the last digest of what the log holds is to be posted now rather than wait for more:
// it is big enough (closes), or the news has paused for countsEvery (a verification back-off, a blocked run),
// or no more per-user news is coming (nobody pending or being confirmed).
func (d *digest) ready(share int, now time.Time, quiet bool) bool {
	return quiet || d.closes(share, now) || now.Sub(d.lastNewsAt) >= countsEvery
}

// wake is when a digest that is not ready will be, if no more news comes.
func (d *digest) wake(share int) time.Time {
	at := d.lastNewsAt.Add(countsEvery)
	if d.news >= share && d.firstAt.Add(countsEvery).Before(at) {
		at = d.firstAt.Add(countsEvery)
	}
	return at
}

// message renders the digest. before is what the thread reported until it; users is how many users this tenant
// can sign out (guests and excluded aside), so "to go" is those without a last word yet.
func (d *digest) message(before tally, users int) Message {
	var lines []string
	if n := d.counts.confirmed; n > 0 {
		line := fmt.Sprintf("✅ %s confirmed from Graph (sessions invalid)", thousands(n))
		if before.confirmed > 0 {
			line = fmt.Sprintf("✅ %s more confirmed from Graph", thousands(n))
		}
		confirmed := before.confirmed + n
		switch toGo := users - before.settled - d.counts.settled; {
		case toGo > 0:
			line += fmt.Sprintf(", %s to go", thousands(toGo))
		case confirmed >= users:
			line += fmt.Sprintf(": all %s confirmed", thousands(users))
		default:
			line += fmt.Sprintf(", none to go (%s of %s confirmed)", thousands(confirmed), thousands(users))
		}
		lines = append(lines, line)
	}
	for _, g := range d.groups {
		var head string
		switch g.kind {
		case revocation.NoticeFailed:
			head = fmt.Sprintf("❌ %s failed", thousands(g.n))
		case revocation.NoticeUnconfirmed:
			head = fmt.Sprintf("⚠️ %s revoked but not confirmed from Graph", thousands(g.n))
		default:
			head = fmt.Sprintf("🛡️ %s left alone", thousands(g.n))
		}
		names := make([]string, len(g.sample))
		for i, t := range g.sample {
			names[i] = "`" + Literal(t.UPN) + "`"
		}
		eg := ""
		if g.n > len(g.sample) {
			eg = "e.g. "
		}
		lines = append(lines, fmt.Sprintf("%s: %s (%s%s)", head, g.reason, eg, strings.Join(names, ", ")))
	}
	return textMessage(strings.Join(lines, "\n"))
}

// Timestamps and object ids make each user's detail unique; without them users group by what went wrong.
var (
	reasonTime = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	reasonID   = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
)

// reasonOf is a user's detail as a reason many users share.
func reasonOf(detail string) string {
	if detail == "" {
		return "no reason given"
	}
	return reasonID.ReplaceAllString(reasonTime.ReplaceAllString(detail, "…"), "…")
}

// thousands writes n with thousands separators: 4,200.
func thousands(n int) string {
	s := strconv.Itoa(n)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
