package bot

import (
	"context"

	"github.com/signoutbot/signoutbot/revocation"
	"github.com/signoutbot/signoutbot/store"
)

// threadScope is what a large request's thread needs of its scope, without holding it: the store's counts, the
// first users not signed out by name when the deadline notice is due, and the whole scope only for the one event
// that lists everyone to an adapter that takes no files (the scope list in parts).
type threadScope struct {
	total   int            // targets, excluded ones included
	o       outcome        // counted by the store
	settled bool           // no more per-user news is coming: nobody is pending or waiting to be confirmed
	rest    []store.Target // the first sampleSize+1 users not signed out, by name (only for EventTokensExpired)
	all     []store.Target // every target (only for EventRequested, to an adapter without files)
}

// largeThread reports whether a request's thread reports counts (more than countsAbove users).
func (a *App) largeThread(ctx context.Context, id string) (bool, error) {
	sum, err := a.Store.TargetSummary(ctx, id)
	if err != nil {
		return false, err
	}
	return sum.Total > countsAbove, nil
}

// threadScope reads what the thread needs of the scope for events, read after them (see postThread).
func (a *App) threadScope(ctx context.Context, req store.Request, events []store.Event, m Messenger) (*threadScope, error) {
	sum, err := a.Store.TargetSummary(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	sc := &threadScope{total: sum.Total, o: outcomeOfSummary(sum),
		settled: sum.ByStatus[store.TargetPending] == 0 && sum.ByStatus[store.TargetRevoked] == 0}
	_, files := m.(FileReplier)
	for _, ev := range events {
		switch {
		case ev.Type == revocation.EventTokensExpired && sc.rest == nil:
			rest, err := a.notSignedOutSample(ctx, req.ID)
			if err != nil {
				return nil, err
			}
			sc.rest = rest
		case ev.Type == store.EventRequested && !files && sc.all == nil:
			// The scope list in parts names everyone, sorted: only for adapters that cannot take the file.
			if sc.all, err = a.Store.Targets(ctx, req.ID); err != nil {
				return nil, err
			}
		}
	}
	return sc, nil
}

// eventTargets reads the targets of the users a page of audit events names.
func (a *App) eventTargets(ctx context.Context, id string, events []store.Event) (map[string]store.Target, error) {
	var ids []string
	seen := make(map[string]bool)
	for _, ev := range events {
		if revocation.IsUserEvent(ev) && userNews(ev) != "" && !seen[ev.Actor.ID] {
			seen[ev.Actor.ID] = true
			ids = append(ids, ev.Actor.ID)
		}
	}
	targets, err := a.Store.TargetsOf(ctx, id, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.Target, len(targets))
	for _, t := range targets {
		byID[t.UserID] = t
	}
	return byID, nil
}
