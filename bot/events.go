package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signoutbot/signoutbot/approvals"
	"github.com/signoutbot/signoutbot/commands"
	"github.com/signoutbot/signoutbot/graph"
	"github.com/signoutbot/signoutbot/scope"
	"github.com/signoutbot/signoutbot/store"
)

// principal says who actor is for the approval rules: whether they are an admin, and the Entra user behind the
// chat account (actor.Entra), which is what four-eyes compares.
func (a *App) principal(ctx context.Context, actor store.Actor, profile Person) (approvals.Principal, error) {
	a.learnTimeZone(actor, profile)
	u, idErr := a.Identities.Resolve(ctx, actor, profile)
	if idErr == nil {
		actor.Entra = u.ID
	} else if !errors.Is(idErr, ErrNoIdentity) {
		return approvals.Principal{Actor: actor}, fmt.Errorf("checking who you are in Entra ID failed: %w", idErr)
	}
	ok, err := a.Admins.IsAdmin(ctx, actor)
	if err != nil {
		return approvals.Principal{Actor: actor}, fmt.Errorf("checking whether you are a sign-out admin failed: %w", err)
	}
	if ok && idErr != nil {
		// An admin whom the rules cannot tell apart from other admins cannot take part; say exactly why.
		return approvals.Principal{Actor: actor}, &approvals.Refusal{Reason: fmt.Sprintf("I could not link your chat account to a "+
			"Microsoft Entra user (%s), and two-person approval compares Entra users, so I cannot accept this. Ask whoever runs "+
			"signoutbot to map your account in SIGNOUTBOT_IDENTITIES.", strings.TrimPrefix(idErr.Error(), ErrNoIdentity.Error()+": "))}
	}
	return approvals.Principal{Actor: actor, Admin: ok}, nil
}

func (a *App) respond(ctx context.Context, respond func(context.Context, Message) error, text string) {
	if respond == nil {
		return
	}
	ctx, cancel := a.chatContext(ctx)
	defer cancel()
	if err := respond(ctx, Message{Text: text, Blocks: []Block{{Kind: BlockSection, Text: text}}}); err != nil {
		a.Log.Warn("respond", "err", err)
	}
}

// refused tells the actor no and writes the refusal to the audit log; nothing else changes.
func (a *App) refused(ctx context.Context, respond func(context.Context, Message) error, actor store.Actor, requestID string, err error) {
	var ref *approvals.Refusal
	if errors.As(err, &ref) {
		_ = a.Store.AppendEvent(ctx, store.Event{At: a.now(), RequestID: requestID, Actor: actor, Type: "refused", Detail: ref.Reason})
		a.respond(ctx, respond, "⛔ "+ref.Reason)
		return
	}
	a.Log.Error("request failed", "request", requestID, "err", err)
	a.respond(ctx, respond, "⚠️ "+err.Error())
}

// HandleCommand runs one /signout command. Adapters call it after acknowledging the platform.
func (a *App) HandleCommand(ctx context.Context, ev CommandEvent) {
	if ev.DeliveryID != "" {
		first, err := a.Store.SeenDelivery(ctx, ev.Actor.Platform+":cmd:"+ev.DeliveryID, a.now())
		if err != nil {
			a.refused(ctx, ev.Respond, ev.Actor, "", err)
			return
		}
		if !first {
			a.Log.Info("duplicate command delivery ignored", "delivery", ev.DeliveryID)
			return
		}
	}
	cmd, err := commands.Parse(ev.Text)
	if err != nil {
		a.respond(ctx, ev.Respond, "❔ "+err.Error())
		return
	}
	if cmd.Kind == commands.KindHelp {
		a.respond(ctx, ev.Respond, commands.Help(cmd.Topic))
		return
	}
	p, err := a.principal(ctx, ev.Actor, ev.Profile)
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", err)
		return
	}
	switch cmd.Kind {
	case commands.KindStatus:
		if err := approvals.Authorize(p, approvals.ActStatus, nil, a.now()); err != nil {
			a.refused(ctx, ev.Respond, p.Actor, "", err)
			return
		}
		a.status(ctx, ev, cmd.Target)
	case commands.KindCancel:
		a.cancel(ctx, ev, p, strings.ToUpper(cmd.RequestID), cmd.Reason)
	case commands.KindSchedule:
		a.schedule(ctx, ev)
	case commands.KindAudit:
		a.audit(ctx, ev, cmd)
	case commands.KindPolicy:
		a.policy(ctx, ev, p, cmd)
	case commands.KindDeny:
		id := strings.ToUpper(cmd.RequestID)
		if _, err := a.Store.GetRequest(ctx, id); err != nil {
			a.respond(ctx, ev.Respond, fmt.Sprintf("❔ Request %s was not found.", Literal(id)))
			return
		}
		if r := a.decide(ctx, ev.Respond, p, id, approvals.ActDeny, cmd.Reason); r.Status.Final() {
			a.respond(ctx, ev.Respond, fmt.Sprintf("Request %s is %s; nobody was signed out.", id, r.Status))
		}
	default:
		if err := approvals.Authorize(p, approvals.ActRequest, nil, a.now()); err != nil {
			a.refused(ctx, ev.Respond, p.Actor, "", err)
			return
		}
		ev.Actor = p.Actor // with the Entra user: the requester is compared with approvers by it
		if cmd.Plan {
			a.plan(ctx, ev, cmd)
			return
		}
		if ev.Personal {
			a.respond(ctx, ev.Respond, "❔ Ask in a channel where the other admins are: a second admin must approve, and nobody else "+
				"can see this chat. Nothing was requested. (`plan`, `status`, `schedule` and `audit` work here.)")
			return
		}
		a.request(ctx, ev, cmd)
	}
}

// errStopResolving ends a scope's resolution early; what stopped it is already said.
var errStopResolving = errors.New("resolution stopped")

// request resolves the scope, stores the request and posts the approval card.
//
// A scope that fits in one page of Graph's (up to 999 users) is stored with its request in one transaction, as
// it always was. A larger one is streamed into the store page by page, so a 100,000-member group is never held
// whole: the request is created, in StatusResolving, when the second page arrives, each page is appended to it,
// and only once the last one is stored does it become pending and get its card with the Approve button. Nobody
// can approve a request that is still resolving, so a scope is never approved partly read; if the resolution
// fails the request is cancelled and the requester told why, and if the bot stops during it, Recover cancels it
// at the next start.
func (a *App) request(ctx context.Context, ev CommandEvent, cmd commands.Command) {
	dedup := ""
	if ev.DeliveryID != "" {
		dedup = ev.Actor.Platform + ":" + ev.DeliveryID
	}
	var (
		first     []store.Target // the first page, held until a second one shows the scope is large
		req       store.Request  // the request being streamed into, once created
		notBefore time.Time
		atErr     error
		stopped   bool // said why already (a bad --at, a duplicate delivery)
		reading   *store.Lease
	)
	defer func() {
		if reading != nil {
			reading.Release()
		}
	}()
	sc, err := scope.Stream(ctx, a.Dir, a.Protection, cmd, func(sc scope.Scope, page []store.Target) error {
		if first == nil && req.ID == "" {
			first = page
			return nil
		}
		if req.ID == "" {
			if notBefore, atErr = a.when(ctx, ev.Actor, cmd.At, "--at"); atErr != nil {
				stopped = true
				return errStopResolving
			}
			r := a.newRequest(ctx, ev, cmd, sc, notBefore, 0)
			r.Status = store.StatusResolving
			// Held while the scope is read, so that no other replica withdraws the request as abandoned meanwhile.
			l, ok, err := store.HoldLease(ctx, a.Store, resolvingLease(r.ID), a.owner(), a.now, a.leaseTTL(), a.Log)
			if err != nil || !ok {
				return fmt.Errorf("could not save the request: lease %s: held %v, %w", resolvingLease(r.ID), !ok, err)
			}
			reading = l
			created, err := a.createRequest(ctx, r, nil, dedup)
			if errors.Is(err, store.ErrDuplicate) {
				stopped = true
				return errStopResolving
			}
			if err != nil {
				return fmt.Errorf("could not save the request: %w", err)
			}
			req = created
			// Should this replica die while reading, another one withdraws the request and tells the requester.
			if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerResolving, RequestID: req.ID, Due: a.now().Add(2 * a.leaseTTL())}); err != nil {
				return fmt.Errorf("could not save the request: %w", err)
			}
			page = append(first, page...)
			first = nil
		}
		now := a.now()
		for i := range page {
			page[i].RequestID, page[i].UpdatedAt = req.ID, now
		}
		_, err := a.Store.AddTargets(ctx, req.ID, page)
		return err
	})
	if stopped {
		if atErr != nil {
			a.respond(ctx, ev.Respond, "❔ "+sentence(atErr.Error())+" Nothing was requested.")
		}
		return
	}
	if err != nil {
		if req.ID != "" {
			a.abandon(ctx, req.ID, "the scope could not be read whole: "+err.Error())
		}
		a.scopeFailed(ctx, ev, err)
		return
	}
	if req.ID != "" {
		a.requestStreamed(ctx, ev, sc, req)
		return
	}
	sc.Targets = first
	pending, _ := sc.Counts()
	if pending == 0 {
		a.respond(ctx, ev.Respond, noTargetsText(sc))
		return
	}
	notBefore, err = a.when(ctx, ev.Actor, cmd.At, "--at")
	if err != nil {
		a.respond(ctx, ev.Respond, "❔ "+sentence(err.Error())+" Nothing was requested.")
		return
	}
	req = a.newRequest(ctx, ev, cmd, sc, notBefore, pending)
	now := a.now()
	targets := make([]store.Target, len(sc.Targets))
	for i, t := range sc.Targets {
		t.RequestID, t.UpdatedAt = req.ID, now
		targets[i] = t
	}
	req, err = a.createRequest(ctx, req, targets, dedup, requestedEvent(req, len(targets)))
	if errors.Is(err, store.ErrDuplicate) {
		return
	}
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not save the request, nothing was requested: %w", err))
		return
	}
	if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerExpire, RequestID: req.ID, Due: req.ExpiresAt}); err != nil {
		a.Log.Error("set expiry timer", "request", req.ID, "err", err)
	}
	a.postCard(ctx, ev.Respond, req, targets)
}

// scopeFailed tells the requester why their scope could not be resolved.
func (a *App) scopeFailed(ctx context.Context, ev CommandEvent, err error) {
	var amb *graph.AmbiguousError
	switch {
	case errors.Is(err, scope.ErrProtection):
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("%w. Nothing was requested; ask whoever runs signoutbot to fix the setting", err))
	case errors.As(err, &amb):
		a.respond(ctx, ev.Respond, a.ambiguityText(ctx, amb))
	case errors.Is(err, graph.ErrNotFound):
		a.respond(ctx, ev.Respond, "❔ "+err.Error()+". Nothing was requested.")
	default:
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not resolve who is in scope, nothing was requested: %w", err))
	}
}

// newRequest is the request a sign-out command makes, for a scope with pending users to sign out.
func (a *App) newRequest(ctx context.Context, ev CommandEvent, cmd commands.Command, sc scope.Scope, notBefore time.Time, pending int) store.Request {
	now := a.now()
	pol := a.Policy.WithDefaults()
	if sc.Kind == "group" {
		// Named fully, so two groups that share a name are never confused on the card or in the audit log.
		sc.Text = GroupLabel(sc.Group.DisplayName, sc.Group.Description, sc.Group.ID)
	}
	req := store.Request{
		ID:                newRequestID(),
		Status:            store.StatusPending,
		Requester:         ev.Actor,
		Reason:            cmd.Reason,
		ScopeKind:         sc.Kind,
		ScopeText:         sc.Text,
		Command:           "/signout " + cmd.String(),
		RequiredApprovals: pol.RequiredApprovals(pending),
		CreatedAt:         now,
		ExpiresAt:         now.Add(pol.Expiry),
		Conversation:      ev.Conversation,
		ScopeRef:          scopeRef(sc, cmd),
		NotBefore:         notBefore,
	}
	// The plan on the card states the lifetime in force now; the run reads it again when it starts.
	lt, _ := a.Runner.Lifetime(ctx, req.ID)
	req.TokenLifetime, req.LifetimeSource = lt.Lifetime, lt.Source
	return req
}

// requestedData is the "requested" event's Data: what was asked, so the audit log alone tells the story.
type requestedData struct {
	ScopeKind string `json:"scope_kind"`
	ScopeText string `json:"scope_text"`
	Reason    string `json:"reason"`
	Targets   int    `json:"targets"`
}

// requestedEvent records that r was asked for, with targets users in its scope: written when the request is
// stored whole (for a streamed scope, when its last page is in), so the count is the scope's.
func requestedEvent(r store.Request, targets int) store.Event {
	data, _ := json.Marshal(requestedData{ScopeKind: r.ScopeKind, ScopeText: r.ScopeText, Reason: r.Reason, Targets: targets})
	return store.Event{At: r.CreatedAt, Actor: r.Requester, Type: store.EventRequested, Detail: r.Command, Data: string(data)}
}

// createRequest stores a new request with events (which name no request: the store gives them the id it keeps),
// drawing another id in the unlikely case its random one is taken.
func (a *App) createRequest(ctx context.Context, req store.Request, targets []store.Target, dedup string, events ...store.Event) (store.Request, error) {
	for attempt := 0; ; attempt++ {
		created, err := a.Store.CreateRequest(ctx, req, targets, dedup, events...)
		if !errors.Is(err, store.ErrConflict) || attempt == 3 {
			return created, err
		}
		// The random id is taken (about one in a billion): draw another.
		req.ID = newRequestID()
		for i := range targets {
			targets[i].RequestID = req.ID
		}
	}
}

// requestStreamed finishes a request whose scope was streamed into the store: counted by the store, it becomes
// pending (approvable) with the approvals its size needs and a full expiry from now, and gets its card.
func (a *App) requestStreamed(ctx context.Context, ev CommandEvent, sc scope.Scope, req store.Request) {
	sum, err := a.Store.TargetSummary(ctx, req.ID)
	if err != nil {
		a.abandon(ctx, req.ID, "the scope could not be counted: "+err.Error())
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not count who is in scope, nothing was requested: %w", err))
		return
	}
	pending := sum.ByStatus[store.TargetPending]
	if pending == 0 {
		a.abandon(ctx, req.ID, "nobody to sign out")
		excluded := byNameFirst{n: 21, keep: func(store.Target) bool { return true }}
		_ = a.eachTargetPage(ctx, req.ID, func(page []store.Target) {
			for _, t := range page {
				excluded.add(t)
			}
		})
		sc.Targets = excluded.best
		a.respond(ctx, ev.Respond, noTargetsTextOf(sc, sum.Total))
		return
	}
	pol := a.Policy.WithDefaults()
	req, err = store.Modify(ctx, a.Store, req.ID, func(r store.Request) (store.Request, []store.Event, error) {
		if r.Status != store.StatusResolving {
			return r, nil, store.ErrUnchanged // cancelled meanwhile (Recover at another replica's start)
		}
		r.Status, r.RequiredApprovals, r.ExpiresAt = store.StatusPending, pol.RequiredApprovals(pending), a.now().Add(pol.Expiry)
		return r, []store.Event{requestedEvent(r, sum.Total)}, nil
	})
	if errors.Is(err, store.ErrUnchanged) {
		a.refused(ctx, ev.Respond, ev.Actor, req.ID, fmt.Errorf("request %s was %s while its scope was being read; "+
			"nothing was requested, please ask again", req.ID, req.Status))
		return
	}
	if err != nil {
		a.abandon(ctx, req.ID, "the request could not be saved: "+err.Error())
		a.refused(ctx, ev.Respond, ev.Actor, "", fmt.Errorf("could not save the request, nothing was requested: %w", err))
		return
	}
	if err := a.Store.SetTimer(ctx, store.Timer{Kind: TimerExpire, RequestID: req.ID, Due: req.ExpiresAt}); err != nil {
		a.Log.Error("set expiry timer", "request", req.ID, "err", err)
	}
	a.postCard(ctx, ev.Respond, req, nil)
}

// abandon cancels a request whose scope was never fully stored, so that it can never be approved. It reports
// whether it did (false: the request was no longer resolving, or the store failed, which is logged).
func (a *App) abandon(ctx context.Context, id, why string) bool {
	_, err := store.Modify(context.WithoutCancel(ctx), a.Store, id, func(r store.Request) (store.Request, []store.Event, error) {
		if r.Status != store.StatusResolving {
			return r, nil, store.ErrUnchanged
		}
		r.Status, r.DecidedAt, r.DecidedBy = store.StatusCancelled, a.now(), botActor
		return r, []store.Event{{At: a.now(), RequestID: r.ID, Actor: botActor, Type: "cancelled",
			Detail: "withdrawn before anyone could approve it: " + why}}, nil
	})
	if err != nil && !errors.Is(err, store.ErrUnchanged) {
		a.Log.Error("withdraw a request whose scope was not stored whole", "request", id, "err", err)
	}
	return err == nil
}

// postCard posts the request's message, remembers where, and starts its thread (the full scope list when the
// card shows only a sample).
func (a *App) postCard(ctx context.Context, respond func(context.Context, Message) error, req store.Request, targets []store.Target) {
	m, ok := a.messenger(req.Conversation.Platform)
	if !ok {
		a.withdraw(ctx, respond, req, fmt.Errorf("no chat adapter for platform %q", req.Conversation.Platform))
		return
	}
	msg := a.render(ctx, req, targets)
	if targets == nil && req.Kind != store.KindPolicy {
		// A streamed scope is in the store only: the card is drawn from its counts and a sample.
		v, err := a.storedView(ctx, req)
		if err != nil {
			a.withdraw(ctx, respond, req, fmt.Errorf("could not read the scope back: %w", err))
			return
		}
		msg = a.renderView(ctx, req, v)
	}
	cctx, cancel := a.chatContext(ctx)
	ref, err := m.Post(cctx, req.Conversation, msg)
	cancel()
	if err != nil {
		a.withdraw(ctx, respond, req, err)
		return
	}
	_, err = store.Modify(ctx, a.Store, req.ID, func(r store.Request) (store.Request, []store.Event, error) {
		r.Message = ref
		return r, nil, nil
	})
	if err != nil {
		a.Log.Error("save message reference", "request", req.ID, "err", err)
		return
	}
	a.flushThread(ctx, req.ID) // the full scope list, when the card shows a sample
}

// HandleAction runs a button click.
func (a *App) HandleAction(ctx context.Context, ev ActionEvent) {
	if ev.DeliveryID != "" {
		first, err := a.Store.SeenDelivery(ctx, ev.Actor.Platform+":act:"+ev.DeliveryID, a.now())
		if err != nil || !first {
			return
		}
	}
	req, err := a.Store.GetRequest(ctx, ev.Value)
	if err != nil {
		a.respond(ctx, ev.Respond, fmt.Sprintf("❔ Request %q was not found.", ev.Value))
		return
	}
	p, err := a.principal(ctx, ev.Actor, ev.Profile)
	if err != nil {
		a.refused(ctx, ev.Respond, ev.Actor, req.ID, err)
		return
	}
	switch ev.ActionID {
	case "approve":
		a.approve(ctx, ev.Respond, p, req)
	case "deny":
		a.decide(ctx, ev.Respond, p, req.ID, approvals.ActDeny, ev.Note)
	default:
		a.respond(ctx, ev.Respond, "Unknown button "+ev.ActionID)
	}
}

// ambiguityText answers a group name several groups share: each candidate on its own line, with its
// description, how many users it holds, and the command that picks it.
func (a *App) ambiguityText(ctx context.Context, amb *graph.AmbiguousError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "❔ %d groups match %s, so nothing was requested. Pick one by its object id:", len(amb.Candidates), Literal(amb.Ref))
	for _, g := range amb.Candidates {
		fmt.Fprintf(&b, "\n• *%s*", Literal(g.DisplayName))
		if g.Description != "" {
			fmt.Fprintf(&b, " — %s", Literal(g.Description))
		}
		fmt.Fprintf(&b, " · %s · `/signout group %s`", a.memberCount(ctx, g.ID), g.ID)
	}
	return b.String()
}

// memberCountCap bounds the members counted for an ambiguity reply: enough to tell groups apart.
const memberCountCap = 1000

// memberCount says how many users a group holds (transitively), counting at most memberCountCap.
func (a *App) memberCount(ctx context.Context, groupID string) string {
	n := 0
	err := a.Dir.GroupMembers(ctx, groupID, func(page []graph.User) error {
		n += len(page)
		if n >= memberCountCap {
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return fmt.Sprintf("%d+ users", memberCountCap)
	case err != nil:
		return "members unknown"
	}
	return plural(n, "user")
}

// scopeRef is how the scope is found again at run time: by the group's id (a rename or a look-alike group
// changes nothing), the match text, or the users as typed.
func scopeRef(sc scope.Scope, cmd commands.Command) string {
	switch sc.Kind {
	case "group":
		return sc.GroupID
	case "match":
		return cmd.Match
	}
	return strings.Join(cmd.Users, "\n")
}

// rescope resolves a stored request's scope again, as it is now (a scheduled sign-out runs hours after its
// approval, and groups change), handing it to fn a page at a time.
func (a *App) rescope(ctx context.Context, req store.Request, fn func([]store.Target) error) error {
	cmd := commands.Command{Kind: commands.KindRevokeUsers, Users: strings.Split(req.ScopeRef, "\n")}
	switch req.ScopeKind {
	case "group":
		cmd = commands.Command{Kind: commands.KindRevokeGroup, Group: req.ScopeRef}
	case "match":
		cmd = commands.Command{Kind: commands.KindRevokeMatch, Match: req.ScopeRef}
	}
	_, err := scope.Stream(ctx, a.Dir, a.Protection, cmd, func(_ scope.Scope, page []store.Target) error { return fn(page) })
	return err
}
